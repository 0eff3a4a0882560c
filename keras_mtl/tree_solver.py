"""Solvers of tree-structured MTL (TAT, Han & Zhang, KDD 2015), in numpy.

Components `C` have shape `(H, T, P)`, leaf level first: `C[h, i]` is task
i's level-h parameter vector, task i's model is `w_i = Σ_h C[h, i]`. The
penalty is `Σ_h λ_h Σ_{i<j} ‖C[h, i] − C[h, j]‖₂` and the sequential
constraint is, for every level h, pair (i, j) and coordinate p,

    |C[h, i, p] − C[h, j, p]| ≥ |C[h+1, i, p] − C[h+1, j, p]|.

**The proximal problem.** `tree_prox` solves

    min_U ½‖U − V‖² + Σ_h τ_h Σ_{i<j} ‖u_i^(h) − u_j^(h)‖₂   s.t. constraint,

by ADMM on the splitting `Z = DU` (per-level fused-lasso subproblems: group
soft-thresholding), `Y = DU` (the sequential-constraint subproblem: a
projection per pair and coordinate) and the U-subproblem (a linear system
with the complete graph's Laplacian, solved in closed form). D maps U to its
pairwise differences.

The constraint set is a union of convex pieces: `|a| ≥ |b|` holds iff
`s·a ≥ |b|` for some sign `s`. Given signs `s` for every difference below the
root, the piece `{s_h d_h ≥ |d_{h+1}|}` is convex and ADMM converges to the
exact prox over it (two-block ADMM, strongly convex objective). The piece
containing a feasible point `C` (signs of C's own differences) contains `C`,
so the prox over it never scores worse than `C`: this is what GIST needs for
descent, and it is what `gist` uses. `signs="free"` instead projects onto the
whole (non-convex) set inside ADMM — the exact projection, but ADMM on a
non-convex set is a heuristic for the global prox.

Exact fusion: after ADMM, pairs whose Z block is exactly zero (soft
thresholding gives exact zeros) are fused, groups are nested leaf → root
(a pair fused at h is fused above, which the constraint implies), and each
group is replaced by its mean, bitwise equal across its members.
"""

import functools

import numpy as np

from keras_mtl.arguments import check_choice, check_float, check_int

# ADMM over-relaxation factor of `tree_prox` (1 = plain ADMM; 1.5–1.8 is the
# usual range).
RELAXATION = 1.6


@functools.lru_cache(maxsize=16)
def pair_indices(num_tasks):
    """Rows i and j (i < j) of every pair, as two read-only int arrays."""
    first, second = np.triu_indices(num_tasks, 1)
    first.flags.writeable = second.flags.writeable = False
    return first, second


def difference_matrix(num_tasks):
    """The `(Q, T)` matrix D of pairwise differences: (D u)_q = u_i − u_j."""
    first, second = pair_indices(num_tasks)
    matrix = np.zeros((len(first), num_tasks))
    matrix[np.arange(len(first)), first] = 1.0
    matrix[np.arange(len(first)), second] = -1.0
    return matrix


def pair_differences(u):
    """`(..., T, P)` → `(..., Q, P)`: u_i − u_j for each pair (i, j) (`D u`)."""
    first, second = pair_indices(u.shape[-2])
    return u[..., first, :] - u[..., second, :]


def pair_adjoint(z, num_tasks):
    """`(..., Q, P)` → `(..., T, P)`: `Dᵀ z`, task t's sum of `z_q` over the
    pairs (t, j) minus the pairs (i, t)."""
    first, second = pair_indices(num_tasks)
    full = np.zeros(z.shape[:-2] + (num_tasks, num_tasks, z.shape[-1]))
    full[..., first, second, :] = z
    full[..., second, first, :] = -z
    return full.sum(axis=-2)


def isotonic_decreasing(z):
    """Least-squares non-increasing fit along axis 0 of `z` `(H, ...)`.

    Uses the min–max formula `r_h = min_{a≤h} max_{b≥h} mean(z[a..b])`,
    exact and vectorised for the short level axis: the H(H+1)/2 window
    means are computed once and combined elementwise (no `(H, H, ...)`
    table).
    """
    num = z.shape[0]
    if num == 1:
        return np.asarray(z, "float64").copy()
    cumsum = np.concatenate([np.zeros((1,) + z.shape[1:]), np.cumsum(z, 0)])
    means = {
        (a, b): (cumsum[b + 1] - cumsum[a]) / (b + 1 - a)
        for a in range(num)
        for b in range(a, num)
    }
    out = np.empty(z.shape)
    for h in range(num):
        best_after = [
            functools.reduce(np.maximum, [means[a, b] for b in range(h, num)])
            for a in range(h + 1)
        ]
        out[h] = functools.reduce(np.minimum, best_after)
    return out


def project_sequential(x, signs=None):
    """Projection of pair differences `x` `(H, Q, P)` onto the constraint.

    Args:
        x: array `(H, Q, P)`, level h's pair differences, leaf first.
        signs: `None` (the whole set `|x_h| ≥ |x_{h+1}|`, non-convex) or an
            array `(H − 1, Q, P)` of ±1: the convex piece
            `signs_h · x_h ≥ |x_{h+1}|`.

    Returns:
        The nearest point of the set (exact in both cases).
    """
    x = np.asarray(x, dtype="float64")
    if x.shape[0] < 2:
        return x.copy()
    if signs is None:
        direction = np.where(x >= 0, 1.0, -1.0)
    else:
        last = np.where(x[-1:] >= 0, 1.0, -1.0)
        direction = np.concatenate([np.asarray(signs, "float64"), last], 0)
    magnitude = np.maximum(isotonic_decreasing(direction * x), 0.0)
    return direction * magnitude


def group_soft_threshold(x, thresholds):
    """Prox of `t_h ‖·‖₂` (or `t_hq`) for each block `x[h, q]`: thresholds
    per level `(H,)` or per level and pair `(H, Q)`."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    t = np.asarray(thresholds, "float64")
    t = t.reshape(-1, 1, 1) if t.ndim == 1 else t[..., None]
    scale = np.maximum(1.0 - t / np.maximum(norms, 1e-300), 0.0)
    return x * scale


def prox_objective(u, v, thresholds):
    """½‖U − V‖² + Σ_h τ_h Σ_{i<j} ‖u_i^(h) − u_j^(h)‖₂."""
    norms = np.linalg.norm(pair_differences(u), axis=-1)
    return 0.5 * np.sum((u - v) ** 2) + weighted_norm_sum(thresholds, norms)


def weighted_norm_sum(weights, norms):
    """`Σ_h Σ_q w_hq n_hq` for weights `(H,)` (one per level) or `(H, Q)`."""
    weights = np.asarray(weights, "float64")
    weights = weights[:, None] if weights.ndim == 1 else weights
    return float(np.sum(weights * norms))


def constraint_violation(components):
    """Largest `|d_{h+1}| − |d_h|` over levels, pairs and coordinates (≤ 0 ok)."""
    c = np.asarray(components, "float64")
    if c.shape[0] < 2 or c.shape[1] < 2:
        return 0.0
    d = np.abs(pair_differences(c))
    return float(np.max(d[1:] - d[:-1]))


def component_signs(components):
    """±1 signs `(H − 1, Q, P)` of the differences below the root (0 → +1)."""
    c = np.asarray(components, "float64")
    d = pair_differences(c[:-1])
    return np.where(d >= 0, 1.0, -1.0)


def fusion_partitions(zeros):
    """Nested groups (leaf first) from per-level "pair is fused" flags `(H, Q)`."""
    from scipy.sparse.csgraph import connected_components

    num_pairs = zeros.shape[1]
    num_tasks = int(round((1 + np.sqrt(1 + 8 * num_pairs)) / 2))
    first, second = pair_indices(num_tasks)
    labels, out = np.arange(num_tasks), []
    for level in zeros:
        adjacency = labels[:, None] == labels[None]
        adjacency[first[level], second[level]] = True
        _, labels = connected_components(adjacency, directed=False)
        out.append(labels)
    return out


def group_means(u, labels):
    """Rows of `u` `(T, P)` replaced by their group's mean (bitwise equal)."""
    out = np.empty_like(u)
    for label in np.unique(labels):
        members = labels == label
        out[members] = u[members].mean(0)
    return out


def tree_prox(
    v,
    thresholds,
    signs="input",
    rho=None,
    max_iterations=5000,
    tol=1e-10,
    state=None,
    return_state=False,
):
    """The constrained proximal step of TAT, by ADMM (numpy, float64).

    Args:
        v: array `(H, T, P)`, the prox input, leaf level first.
        thresholds: H non-negative floats τ_h, or an array `(H, Q)` of
            per-pair thresholds (pairs in `pair_indices` order).
        signs: `"input"` (the convex piece through `v`'s own signs), an array
            `(H − 1, Q, P)` of ±1 (that piece; `component_signs(c)` is the
            piece containing `c`), or `"free"` (the whole non-convex set).
            Defaults to `"input"`.
        rho: float or None. Initial ADMM penalty, then adapted by residual
            balancing. Defaults to `0.3` (or the warm start's).
        max_iterations: int. ADMM iteration cap. Defaults to `5000`.
        tol: float. Stop when primal and dual residuals are below
            `tol · (1 + ‖V‖)`. Defaults to `1e-10`.
        state: dict or None. Warm start (`return_state=True` gives one).
        return_state: bool. Also return the ADMM state. Defaults to `False`.

    Returns:
        The prox `U` `(H, T, P)`: fused groups bitwise equal, nested leaf →
        root, the constraint satisfied. With `return_state`, `(U, state)`.

    Example:

    >>> v = np.array([[[0.0], [3.0]], [[0.0], [0.5]]])
    >>> np.round(tree_prox(v, [0.5, 0.5])[..., 0], 6).tolist()
    [[0.5, 2.5], [0.25, 0.25]]
    """
    v = np.asarray(v, dtype="float64")
    num_levels, num_tasks, _ = v.shape
    thresholds = np.asarray(thresholds, "float64")
    num_pairs = num_tasks * (num_tasks - 1) // 2
    if thresholds.shape not in ((num_levels,), (num_levels, num_pairs)) or np.any(
        thresholds < 0
    ):
        raise ValueError(
            "`thresholds` must be num_levels non-negative numbers (or an array "
            f"(num_levels, num_pairs)). Received: thresholds={thresholds.tolist()}"
        )
    if num_tasks < 2:
        return (v.copy(), state) if return_state else v.copy()
    if isinstance(signs, str):
        if signs not in ("input", "free"):
            raise ValueError(
                f"`signs` must be 'input', 'free' or an array. Received: {signs!r}"
            )
        signs = component_signs(v) if signs == "input" else None
    rho = check_float(rho if rho is not None else state_rho(state), "rho")
    dv = pair_differences(v)
    if state is None:
        state = {"z": dv.copy(), "y": dv.copy(), "a": 0 * dv, "b": 0 * dv}
    z, y, a, b = (state[k].copy() for k in ("z", "y", "a", "b"))
    limit = tol * (1.0 + np.linalg.norm(v))
    for iteration in range(check_int(max_iterations, "max_iterations")):
        rhs = v + rho * pair_adjoint(z - a + y - b, num_tasks)
        mean = rhs.mean(axis=1, keepdims=True)
        u = mean + (rhs - mean) / (1.0 + 2.0 * rho * num_tasks)
        du = pair_differences(u)
        # Over-relaxation (Boyd et al. 2011, §3.4.3): same fixed point, fewer
        # iterations.
        scaled = RELAXATION * du
        relaxed_z = scaled + (1.0 - RELAXATION) * z
        relaxed_y = scaled + (1.0 - RELAXATION) * y
        z_new = group_soft_threshold(relaxed_z + a, thresholds / rho)
        y_new = project_sequential(relaxed_y + b, signs)
        dual = rho * np.sqrt(np.sum((z_new - z) ** 2) + np.sum((y_new - y) ** 2))
        z, y = z_new, y_new
        a, b = a + relaxed_z - z, b + relaxed_y - y
        primal = np.sqrt(np.sum((du - z) ** 2) + np.sum((du - y) ** 2))
        if primal < limit and dual < limit:
            break
        if primal > 10 * dual or dual > 10 * primal:
            factor = 2.0 if primal > dual else 0.5
            rho, a, b = rho * factor, a / factor, b / factor
    state = {"z": z, "y": y, "a": a, "b": b, "rho": rho, "iterations": iteration + 1}
    close = np.linalg.norm(pair_differences(u), axis=-1) <= 1e3 * limit
    u = round_fusions(u, np.all(z == 0.0, axis=-1) | close)
    return (u, state) if return_state else u


def state_rho(state):
    """ADMM penalty of a warm start (0.3 for a cold one)."""
    return 0.3 if state is None else state["rho"]


def round_fusions(u, fused):
    """Group-averages each level of `u` over the nested fusion groups."""
    labels = fusion_partitions(fused)
    return np.stack([group_means(level, lab) for level, lab in zip(u, labels)])


class LinearTasks:
    """Squared loss `Σ_i (1/n_i) ‖X_i w_i − y_i‖²` of T linear tasks.

    Args:
        x: list of T arrays `(n_i, P)` (add a column of ones for a bias).
        y: list of T arrays `(n_i,)`.
    """

    def __init__(self, x, y):
        if len(x) != len(y) or len(x) < 1:
            raise ValueError(
                f"`x` and `y` must be lists of one array per task. Received "
                f"{len(x)} and {len(y)} arrays."
            )
        x = [np.asarray(xi, "float64") for xi in x]
        y = [np.asarray(yi, "float64").reshape(-1) for yi in y]
        counts = np.array([len(yi) for yi in y], "float64")
        if np.any(counts == 0) or any(len(a) != len(b) for a, b in zip(x, y)):
            raise ValueError("Every task needs as many rows in `x` as in `y` (≥ 1).")
        self.gram = np.stack([a.T @ a for a in x]) / counts[:, None, None]
        self.moment = np.stack([a.T @ b for a, b in zip(x, y)]) / counts[:, None]
        self.constant = np.array([b @ b for b in y]) / counts

    def value(self, w):
        """The loss of task weights `w` `(T, P)`."""
        quad = np.einsum("tp,tpq,tq->", w, self.gram, w)
        return float(quad - 2 * np.sum(w * self.moment) + self.constant.sum())

    def gradient(self, w):
        return 2.0 * (np.einsum("tpq,tq->tp", self.gram, w) - self.moment)

    def lipschitz(self):
        return 2.0 * float(np.max(np.linalg.eigvalsh(self.gram)))

    def ridge_solution(self, l2=1e-3):
        eye = np.eye(self.gram.shape[-1])
        return np.linalg.solve(self.gram + l2 * eye, self.moment[..., None])[..., 0]


class TreeObjective:
    """The TAT objective on components `(H, T, P)`.

    `f(C) = loss(Σ_h C_h) + Σ_{h<H} (γ_h/2) ‖C_h‖²` (γ = `component_l2`, one
    float or one per level below the root, leaf first; not in the paper)
    plus the fused penalty `Σ_h λ_h Σ_{i<j} ‖c_i^(h) − c_j^(h)‖`.

    `fusion_weights` is one λ per level `(H,)` or, not in the paper, one per
    level and pair `(H, Q)` (e.g. `λ_h · adaptive_pair_weights(loss)`).
    `centered=True` (not in the paper) penalises `C_h − mean_i C_h` instead of
    `C_h`: the ridge then only splits differences between levels and no longer
    shrinks the tasks' common part.
    """

    def __init__(self, loss, fusion_weights, component_l2=0.0, centered=False):
        self.loss = loss
        self.fusion_weights = np.asarray(fusion_weights, "float64")
        self.component_l2 = component_l2
        self.centered = bool(centered)

    def _deviation(self, c):
        return c - c.mean(axis=1, keepdims=True) if self.centered else c

    def _ridge(self, c):
        """Per-level ridge weights `(H, 1, 1)`: γ below the root, 0 at it."""
        below = np.broadcast_to(np.asarray(self.component_l2, "float64"), (len(c) - 1,))
        return np.concatenate([below, [0.0]]).reshape(-1, 1, 1)

    def smooth(self, c):
        ridge = 0.5 * np.sum(self._ridge(c) * self._deviation(c) ** 2)
        return self.loss.value(c.sum(0)) + ridge

    def gradient(self, c):
        grad = self.loss.gradient(c.sum(0))[None]
        return grad + self._ridge(c) * self._deviation(c)

    def penalty(self, c):
        norms = np.linalg.norm(pair_differences(c), axis=-1)
        return weighted_norm_sum(self.fusion_weights, norms)

    def value(self, c):
        return self.smooth(c) + self.penalty(c)

    def lipschitz(self, num_levels):
        return num_levels * self.loss.lipschitz() + float(np.max(self.component_l2))


def ridge_pair_distances(loss, l2=1e-3):
    """`‖ŵ_i − ŵ_j‖` over pairs (`pair_indices` order), ŵ the tasks' ridge
    solutions."""
    return np.linalg.norm(pair_differences(loss.ridge_solution(l2)), axis=-1)


def adaptive_pair_weights(loss, power=1.0, l2=1e-3, distances=None):
    """Per-pair weights `(median_d / d_ij)^power`, `d_ij = ‖ŵ_i − ŵ_j‖` between
    the tasks' ridge solutions (adaptive fused lasso; not in the paper).
    Multiply by λ_h (`lam[:, None] * weights`) for `TreeObjective`."""
    d = ridge_pair_distances(loss, l2) if distances is None else distances
    return (np.median(d) / np.maximum(d, 1e-12 * max(np.median(d), 1e-300))) ** power


def cophenetic_pair_distances(loss, method="average", l2=1e-3):
    """Cophenetic distances over pairs (`pair_indices` order) of the
    hierarchical clustering (`method` linkage, scipy) of the tasks' ridge
    solutions: the height at which tasks i and j first share a cluster."""
    from scipy.cluster.hierarchy import cophenet, linkage

    return cophenet(linkage(loss.ridge_solution(l2), method=method))


def adaptive_objective(
    loss,
    num_levels,
    component_l2=0.1,
    leaf_weight=0.02,
    root_weight=10.0,
    relative_gap=0.4,
    middle_power=10.0,
    middle_distances="cophenetic",
):
    """ "TAT + centered ridge + adaptive weights" (not in the paper).

    The centered ridge γ = `component_l2`; per-level fusion weights
    `λ_h = leaf_weight + (h − 1) · relative_gap · γ · median_{i<j} d_ij / T`
    below the root and `root_weight` at it; pair (i, j) at level h weighted by
    `(median_d / d_ij)^p_h` with `p_h = 1` at the leaf and the root and
    `middle_power` in between. d_ij is the distance between the tasks' ridge
    solutions; at the middle levels, with `middle_distances="cophenetic"`,
    it is instead their cophenetic distance in the average-linkage tree of
    those solutions (`cophenetic_pair_distances`: a pilot tree guides the
    weights, as tree-guided group lasso takes its tree from hierarchical
    clustering — Kim & Xing, ICML 2010). `"euclidean"` uses d_ij there too
    (the default until 2026-12-03, with `middle_power=3`). The defaults
    recover planted 3-level trees (see `benchmarks/tree_recovery.py`); they
    were set on features and labels of unit scale, so standardise both first.

    Returns:
        a `TreeObjective`.
    """
    check_int(num_levels, "num_levels")
    check_choice(middle_distances, "middle_distances", ("cophenetic", "euclidean"))
    d = ridge_pair_distances(loss)
    middle = d
    if middle_distances == "cophenetic" and num_levels > 2:
        middle = cophenetic_pair_distances(loss)
    unit = component_l2 * float(np.median(d)) / loss.gram.shape[0]
    lam = [leaf_weight + h * relative_gap * unit for h in range(num_levels - 1)]
    powers = [1.0] + [middle_power] * (num_levels - 2) + [1.0]
    distances = [d] + [middle] * (num_levels - 2) + [d]
    weights = np.stack(
        [
            lam_h * adaptive_pair_weights(loss, p, distances=dist)
            for lam_h, p, dist in zip(
                lam + [root_weight], powers[-num_levels:], distances[-num_levels:]
            )
        ]
    )
    return TreeObjective(loss, weights, component_l2, centered=True)


def kkt_residual(objective, c, step=None, **prox_kwargs):
    """Norm of the proximal-gradient mapping `(C − prox(C − s∇f)) / s`.

    Zero exactly at stationary points of the objective on the convex piece
    of the constraint set through `C` (signs of C's differences). `s`
    defaults to `1 / L`.
    """
    step = step or 1.0 / objective.lipschitz(c.shape[0])
    v = c - step * objective.gradient(c)
    u = tree_prox(v, step * objective.fusion_weights, component_signs(c), **prox_kwargs)
    return float(np.linalg.norm(c - u) / step)


def initial_components(loss, num_levels, init):
    """Start point: `"split"` (ridge solutions, an equal share per level) or
    `"root"` (ridge solution of the pooled tasks at the root, zeros below)."""
    if not isinstance(init, str):
        return np.asarray(init, "float64").copy()
    w = loss.ridge_solution()
    if init == "split":
        return np.broadcast_to(w / num_levels, (num_levels,) + w.shape).copy()
    if init == "root":
        pooled = np.linalg.solve(
            loss.gram.sum(0) + 1e-3 * np.eye(w.shape[1]), loss.moment.sum(0)
        )
        c = np.zeros((num_levels,) + w.shape)
        c[-1] = pooled
        return c
    raise ValueError(f"`init` must be 'split', 'root' or an array. Received: {init!r}")


def gist(
    objective,
    init,
    max_iterations=500,
    tol=1e-8,
    memory=5,
    sigma=1e-5,
    eta=2.0,
    prox_tol=1e-10,
    callback=None,
):
    """GIST (Gong et al., ICML 2013) as TAT uses it: proximal gradient with a
    Barzilai–Borwein step and a non-monotone line search.

    Each step solves the constrained prox on the convex piece through the
    current iterate, which contains the iterate, so the line search always
    terminates and the objective decreases (non-monotonically over `memory`).

    Args:
        objective: a `TreeObjective`.
        init: array `(H, T, P)`, a feasible start.
        max_iterations: int. Defaults to `500`.
        tol: float. Stop when `‖C_{k+1} − C_k‖ ≤ tol · max(1, ‖C_k‖)`.
        memory: int. Non-monotone window (1 = monotone). Defaults to `5`.
        sigma: float. Sufficient-decrease constant. Defaults to `1e-5`.
        eta: float. Step shrink factor of the line search. Defaults to `2`.
        prox_tol: float. ADMM tolerance of the prox. Defaults to `1e-10`.
        callback: callable or None. Called after every iteration as
            `callback(iteration, components, value)`; a true return value
            stops the run (e.g. a time budget). Defaults to `None`.

    Returns:
        dict with `components`, `objective` (history), `iterations`.
    """
    c = np.asarray(init, "float64")
    grad = objective.gradient(c)
    history = [objective.value(c)]
    lipschitz = objective.lipschitz(c.shape[0])
    t, t_min, t_max = lipschitz, 1e-6 * lipschitz, 2.0 * lipschitz
    state = None
    for iteration in range(1, max_iterations + 1):
        signs = component_signs(c)
        while True:
            v = c - grad / t
            u, state = tree_prox(
                v,
                objective.fusion_weights / t,
                signs,
                state=state,
                tol=prox_tol,
                return_state=True,
            )
            value = objective.value(u)
            reference = max(history[-memory:])
            if value <= reference - 0.5 * sigma * t * np.sum((u - c) ** 2):
                break
            if t >= t_max:
                break
            t *= eta
        new_grad = objective.gradient(u)
        s, r = u - c, new_grad - grad
        moved = float(np.linalg.norm(s))
        c, grad = u, new_grad
        history.append(value)
        stop = callback is not None and callback(iteration, c, value)
        if stop or moved <= tol * max(1.0, float(np.linalg.norm(c))):
            break
        ss = float(np.sum(s * s))
        t = min(max(float(np.sum(s * r)) / ss, t_min), t_max) if ss > 0 else t
    return {"components": c, "objective": history, "iterations": iteration}
