"""The proximal step of tree-structured MTL, in `keras.ops` (all backends).

For one level h with threshold τ = step_size · λ_h the proximal problem is
the convex-clustering problem

    min_U ½‖U − V‖²_F + τ Σ_{i<j} ‖u_i − u_j‖₂,     V, U ∈ R^{T×P}

(row i = the flattened level-h parameters of task i). It is solved by
majorization–minimization (MM, iteratively reweighted least squares): with
weights w_ij = 1 / max(‖u_i − u_j‖, δ) the majorizer's minimizer solves the
T×T system (I + τ L_w) U = V, L_w the graph Laplacian of w. Every MM step
lowers the objective (δ = 1e-3 τ smooths the kink); pairs the prox fuses
contract geometrically, but slowly near the fusion threshold, so a few MM
steps leave them apart by a fraction of τ. The MM output is then rounded to
exact fusion: for each candidate tolerance r·τ (r in `ROUNDING_TOLERANCES`,
at least 1e-6), tasks linked by a chain of pairs closer than it are joined
(connected components by min-label propagation, all candidates in one
batch) and replaced by their group mean, gathered from one row so that group
members are bitwise identical. Of these candidates the one with the lowest
prox objective is kept, so rounding never does worse than the finest one and
fuses what a converged prox would fuse after as few as 10 MM steps.

Levels are processed leaf (h = 1) to root (h = H). Before level h + 1 is
proximated, its rows are averaged within the groups fused at level h, so the
partitions are nested at every step ("fused at h ⇒ fused above"). This
greedy, level-by-level step is an approximation: it is not the exact prox of
"penalty + nesting" (a counterexample scores 25.0 where a feasible point
scores 9.0), and nesting is only a consequence of the paper's sequential
constraint, which is per coordinate,
|u_ki^(h) − u_kj^(h)| ≥ |u_ki^(h+1) − u_kj^(h+1)|, and which this step does
not enforce. The constrained prox itself is `keras_mtl.tree_solver.tree_prox`
(numpy ADMM, exact on the convex piece of the constraint set through a
feasible point), used by `TreeMTL.solve`.

Cost per level, with P' = min(P, T) (a level with P > T is solved in its
row space, `row_space`): K MM iterations of O(T²P' + T³) (a Cholesky solve),
then, for each of the five candidates, a few O(T²) label-propagation rounds
and an O(T²P') objective, with O(T²P') memory — about 10 ms for all three
levels of T = 139 tasks of P = 29, compiled.
"""

from keras import ops

ABSOLUTE_FUSE_TOL = 1e-6
ROUNDING_TOLERANCES = (1e-2, 3e-2, 1e-1, 3e-1, 1.0)
RELATIVE_SMOOTHING = 1e-3


def fuse_tolerances(threshold):
    """Candidate distances below which tasks are rounded to exact fusion."""
    return [max(r * threshold, ABSOLUTE_FUSE_TOL) for r in ROUNDING_TOLERANCES]


def pairwise_distances(u):
    """‖u_i − u_j‖₂ for all pairs of rows of `u` `(..., T, P)` → `(..., T, T)`."""
    diff = ops.expand_dims(u, -2) - ops.expand_dims(u, -3)
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
        u = spd_solve(eye + threshold * laplacian, v)
    return u


def spd_solve(matrix, rhs):
    """Solves `matrix @ x = rhs` for a symmetric positive definite `matrix`
    by its Cholesky factor (about half the time of a pivoted LU here)."""
    lower = ops.linalg.cholesky(matrix)
    y = ops.linalg.solve_triangular(lower, rhs, lower=True)
    return ops.linalg.solve_triangular(ops.transpose(lower), y, lower=False)


def component_labels(adjacency):
    """Connected components of symmetric 0/1 adjacencies `(..., T, T)`.

    Min-label propagation with pointer jumping: every task takes the
    smallest label among its neighbours, then the label of that label, until
    nothing changes. Labels only decrease and always name a task of the same
    component, so the fixed point labels each component by its smallest
    index — exactly, in O(T²) per round (a boolean transitive closure by
    matrix squarings costs O(T³ log T)).

    Returns:
        int32 tensor `(..., T)`: each task's component, named by its
        smallest member.
    """
    num_tasks = adjacency.shape[-1]
    start = ops.broadcast_to(
        ops.arange(num_tasks, dtype="int32"), ops.shape(adjacency)[:-1]
    )
    labels, _, _ = ops.while_loop(
        _labels_changed,
        _propagate_labels,
        (start, adjacency > 0, ops.convert_to_tensor(True)),
        maximum_iterations=num_tasks,  # never reached: ≤ T − 1 rounds + 1
    )
    return labels


def _labels_changed(labels, linked, changed):
    return changed


def _propagate_labels(labels, linked, changed):
    """One round: the smallest neighbouring label, then its own label."""
    neighbour = ops.where(linked, ops.expand_dims(labels, -2), linked.shape[-1])
    smallest = ops.minimum(labels, ops.min(neighbour, axis=-1))
    jumped = ops.take_along_axis(smallest, smallest, axis=-1)
    return jumped, linked, ops.any(ops.not_equal(jumped, labels))


def same_label(labels, dtype):
    """0/1 matrix `(..., T, T)` of tasks that share a label `(..., T)`."""
    equal = ops.equal(ops.expand_dims(labels, -1), ops.expand_dims(labels, -2))
    return ops.cast(equal, dtype)


def prox_objective(u, v, threshold):
    """½‖U − V‖²_F + τ Σ_{i<j} ‖u_i − u_j‖₂, for `u` `(..., T, P)`."""
    pairs = 0.5 * ops.sum(pairwise_distances(u), axis=(-2, -1))
    return 0.5 * ops.sum(ops.square(u - v), axis=(-2, -1)) + threshold * pairs


def round_to_fusion(u, v, threshold, forced):
    """Rounds an approximate prox `u` of `v` to exact fusion.

    Args:
        u: tensor `(T, P)`, the MM output.
        v: tensor `(T, P)`, the prox input.
        threshold: float τ.
        forced: 0/1 tensor `(T, T)`: pairs that must end in one group.

    Returns:
        `(rounded, reach)`: the candidate of `fuse_tolerances` with the lowest
        `prox_objective`, and its 0/1 same-group matrix.
    """
    tolerances = ops.convert_to_tensor(fuse_tolerances(threshold), dtype=u.dtype)
    close = ops.expand_dims(pairwise_distances(u), 0) <= ops.reshape(
        tolerances, (-1, 1, 1)
    )
    adjacency = ops.maximum(ops.cast(close, u.dtype), forced)
    reaches = same_label(component_labels(adjacency), u.dtype)
    rounded = group_average(reaches, u)
    best = ops.argmin(prox_objective(rounded, v, threshold))
    return ops.take(rounded, best, axis=0), ops.take(reaches, best, axis=0)


def group_average(reach, u):
    """Replaces each row of `u` `(T, P)` by the mean of its group.

    Args:
        reach: 0/1 tensor `(..., T, T)`: which rows share a group.
        u: tensor `(T, P)`.

    Returns:
        `(..., T, P)`; rows of one group are bitwise equal (gathered from
        one representative).
    """
    means = ops.matmul(reach, u) / ops.sum(reach, axis=-1, keepdims=True)
    return from_representatives(reach, means)


def from_representatives(reach, rows):
    """Each row of `rows` `(..., T, P)` replaced by its group's first row, so
    that the rows of a group (0/1 `reach` `(..., T, T)`) are bitwise equal."""
    representative = ops.expand_dims(ops.argmax(reach, axis=-1), -1)
    indices = ops.broadcast_to(representative, ops.shape(rows))
    return ops.take_along_axis(rows, indices, axis=-2)


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
        share bitwise-identical rows, and groups are nested leaf → root. It is
        the greedy approximation described in the module docstring, not the
        exact constrained prox.
    """
    num_levels, num_tasks = components.shape[0], components.shape[1]
    forced = ops.eye(num_tasks, dtype=components.dtype)
    levels = []
    for h in range(num_levels):
        scale = 1.0 + (shrink if h < num_levels - 1 else 0.0)
        threshold = thresholds[h] / scale
        v = group_average(forced, components[h]) / scale
        coordinates, basis = row_space(v)
        u = mm_prox(coordinates, threshold, iterations)
        rounded, forced = round_to_fusion(u, coordinates, threshold, forced)
        if basis is not None:  # back in the parameters' coordinates
            rounded = from_representatives(forced, ops.matmul(rounded, basis))
        levels.append(rounded)
    return ops.stack(levels, axis=0)


def row_space(v):
    """`v` `(T, P)` in an orthonormal basis of its row space, when P > T.

    Every MM iterate is `A v` for a T×T matrix `A`, and rounding averages
    rows, so the whole level lives in the row space of `v`; distances and
    the objective are unchanged by an orthonormal change of basis. With
    `v = R^T Q^T` (the QR factorisation of `v^T`) the level is solved on the
    T×T coordinates `R^T` and mapped back by `Q^T`: exact, and P/T times
    less work per MM iteration.

    Returns:
        `(coordinates, basis)`: `(T, T)` and `(T, P)` with
        `v = coordinates @ basis`, or `(v, None)` when P ≤ T.
    """
    num_tasks, num_params = v.shape
    if num_params <= num_tasks:
        return v, None
    q, r = ops.linalg.qr(ops.transpose(v), mode="reduced")
    return ops.transpose(r), ops.transpose(q)
