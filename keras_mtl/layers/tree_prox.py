"""The proximal step of tree-structured MTL, in `keras.ops` (all backends).

For one level h with threshold τ = step_size · λ_h the proximal problem is
the convex-clustering problem

    min_U ½‖U − V‖²_F + τ Σ_{i<j} ‖u_i − u_j‖₂,     V, U ∈ R^{T×P}

(row i = the flattened level-h parameters of task i). It is solved by
majorization–minimization (MM, iteratively reweighted least squares): with
weights w_ij = 1 / max(‖u_i − u_j‖, δ) the majorizer's minimizer solves the
T×T system (I + τ L_w) U = V, L_w the graph Laplacian of w. Every MM step
lowers the objective (δ = 1e-3 τ smooths the kink); pairs the prox fuses
contract geometrically. The MM output is then rounded to exact fusion:
tasks closer than `max(1e-2 τ, 1e-6)` are joined (connected components via
boolean transitive closure) and replaced by their group mean, gathered from
one row so that group members are bitwise identical.

Levels are processed leaf (h = 1) to root (h = H). Before level h + 1 is
proximated, its rows are averaged within the groups fused at level h: this
is the exact prox of "penalty + nesting constraint" because the penalty is
invariant to permuting tasks (so the prox of group-constant input is
group-constant), and it makes the partitions nested at every step.

Cost per level: K MM iterations of O(T²P + T³) plus ⌈log₂ T⌉ T×T boolean
products, with O(T²P) memory — milliseconds for T = 139 tasks of P = 28.
"""

import math

from keras import ops

ABSOLUTE_FUSE_TOL = 1e-6
RELATIVE_FUSE_TOL = 1e-2
RELATIVE_SMOOTHING = 1e-3


def fuse_tolerance(threshold):
    """Distance below which two tasks are rounded to exact fusion."""
    return max(RELATIVE_FUSE_TOL * threshold, ABSOLUTE_FUSE_TOL)


def pairwise_distances(u):
    """‖u_i − u_j‖₂ for all pairs of rows of `u` `(T, P)`, via differences."""
    diff = ops.expand_dims(u, 1) - ops.expand_dims(u, 0)
    return ops.sqrt(ops.sum(ops.square(diff), axis=-1))


def mm_prox(v, threshold, iterations):
    """`iterations` MM steps on the convex-clustering prox of `v` `(T, P)`."""
    if threshold <= 0 or iterations <= 0:
        return v
    num_tasks = v.shape[0]
    eye = ops.eye(num_tasks, dtype=v.dtype)
    delta = RELATIVE_SMOOTHING * threshold
    u = v
    for _ in range(iterations):
        weights = 1.0 / ops.maximum(pairwise_distances(u), delta)
        weights = weights * (1.0 - eye)
        laplacian = ops.diag(ops.sum(weights, axis=1)) - weights
        u = ops.linalg.solve(eye + threshold * laplacian, v)
    return u


def transitive_closure(adjacency):
    """Reachability (0/1 floats `(T, T)`) of a symmetric adjacency with self loops."""
    steps = max(1, math.ceil(math.log2(max(adjacency.shape[0], 2))))
    reach = adjacency
    for _ in range(steps):
        reach = ops.cast(ops.matmul(reach, reach) > 0, reach.dtype)
    return reach


def group_average(reach, u):
    """Replaces each row of `u` by the mean of its group (rows bitwise equal)."""
    means = ops.matmul(reach, u) / ops.sum(reach, axis=1, keepdims=True)
    representative = ops.argmax(reach, axis=1)
    return ops.take(means, representative, axis=0)


def proximal_step(components, thresholds, iterations=10, shrink=0.0):
    """The tree proximal step on all levels at once.

    Args:
        components: tensor `(H, T, P)`: level h's task parameters, leaf side
            (h = 0) first.
        thresholds: list of H floats τ_h = step_size · λ_h.
        iterations: int. MM iterations per level.
        shrink: float. step_size · γ for the ridge term γ/2 ‖W^(h)‖² on every
            level below the root, folded into the prox:
            prox_{τf + s/2‖·‖²}(v) = prox_{τf/(1+s)}(v/(1+s)).

    Returns:
        The tensor `(H, T, P)` after the step: within every level, fused tasks
        share bitwise-identical rows, and groups are nested leaf → root.
    """
    num_levels, num_tasks = components.shape[0], components.shape[1]
    forced = ops.eye(num_tasks, dtype=components.dtype)
    levels = []
    for h in range(num_levels):
        scale = 1.0 + (shrink if h < num_levels - 1 else 0.0)
        threshold = thresholds[h] / scale
        v = group_average(forced, components[h]) / scale
        u = mm_prox(v, threshold, iterations)
        close = pairwise_distances(u) <= fuse_tolerance(threshold)
        adjacency = ops.maximum(ops.cast(close, u.dtype), forced)
        forced = transitive_closure(adjacency)
        levels.append(group_average(forced, u))
    return ops.stack(levels, axis=0)
