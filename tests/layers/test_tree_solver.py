import itertools

import keras
import numpy as np
import pytest

from keras_mtl.layers.tree_grouped_dense import partitions_from_components
from keras_mtl.tree_solver import (
    LinearTasks,
    TreeObjective,
    component_signs,
    constraint_violation,
    difference_matrix,
    gist,
    initial_components,
    isotonic_decreasing,
    kkt_residual,
    pair_adjoint,
    pair_differences,
    project_sequential,
    prox_objective,
    tree_prox,
)

NUMPY_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="numpy solver: the result is the same on every backend, run it once",
)


def feasible_candidates(w, constraints):
    """Projections of `w` onto every face of the cone {G u ≥ 0} that land in it."""
    for size in range(len(constraints) + 1):
        for active in itertools.combinations(range(len(constraints)), size):
            u = w
            if size:
                rows = constraints[list(active)]
                u = w - np.linalg.pinv(rows) @ (rows @ w)
            if np.all(constraints @ u >= -1e-11):
                yield u


def brute_force_prox(v, taus, signs):
    """Exact prox for P = 1 on the piece with `signs` below the root.

    Within an orthant of the pair differences (all signs fixed) the problem
    is a projection onto a polyhedral cone, found by enumerating its faces;
    the piece's optimum is the best over the root level's orthants.
    """
    levels, num_tasks, _ = v.shape
    pairs = difference_matrix(num_tasks)
    num_pairs = len(pairs)
    blocks = np.zeros((levels, num_pairs, levels * num_tasks))
    for h in range(levels):
        blocks[h, :, h * num_tasks : (h + 1) * num_tasks] = pairs
    best = (np.inf, None)
    for root in itertools.product([-1.0, 1.0], repeat=num_pairs):
        sigma = np.concatenate([signs[..., 0], [root]])
        linear = np.einsum("hq,hqn->n", sigma * np.asarray(taus)[:, None], blocks)
        signed = sigma[..., None] * blocks
        constraints = np.concatenate(
            [
                signed.reshape(-1, levels * num_tasks),
                (signed[:-1] - signed[1:]).reshape(-1, levels * num_tasks),
            ]
        )
        w = v.reshape(-1) - linear
        u = min(feasible_candidates(w, constraints), key=lambda u: np.sum((u - w) ** 2))
        value = prox_objective(u.reshape(v.shape), v, taus)
        if value < best[0]:
            best = (value, u.reshape(v.shape))
    return best


def fused_pairs(u, tol):
    d = np.abs(np.einsum("qt,htp->hqp", difference_matrix(u.shape[1]), u))
    return np.all(d <= tol, axis=-1)


@NUMPY_ONLY
@pytest.mark.parametrize("num_tasks", [2, 5, 9])
def test_pair_differences_and_adjoint_are_the_difference_matrix(num_tasks):
    rng = np.random.default_rng(num_tasks)
    matrix = difference_matrix(num_tasks)
    u = rng.normal(size=(3, num_tasks, 4))
    z = rng.normal(size=(3, len(matrix), 4))
    expected = np.einsum("qt,htp->hqp", matrix, u)
    np.testing.assert_allclose(pair_differences(u), expected, rtol=1e-12)
    adjoint = np.einsum("qt,hqp->htp", matrix, z)
    np.testing.assert_allclose(pair_adjoint(z, num_tasks), adjoint, rtol=1e-12)


def _pool_adjacent_violators(values):
    """Reference non-increasing least-squares fit of one sequence (PAV)."""
    blocks = []  # [mean, size]
    for value in values:
        blocks.append([float(value), 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            mean, size = blocks.pop()
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * size) / (
                blocks[-1][1] + size
            )
            blocks[-1][1] += size
    return np.concatenate([np.full(size, mean) for mean, size in blocks])


@pytest.mark.parametrize("num_levels", [1, 2, 3, 5])
def test_isotonic_decreasing_equals_pool_adjacent_violators(num_levels):
    z = np.random.default_rng(num_levels).normal(size=(num_levels, 40, 3))
    z[:, :5] = 1.0  # ties
    fit = isotonic_decreasing(z)
    expected = np.apply_along_axis(_pool_adjacent_violators, 0, z)
    np.testing.assert_allclose(fit, expected, rtol=0, atol=1e-12)


def test_isotonic_and_projection_are_exact():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 50))
    fit = isotonic_decreasing(z)
    assert np.all(np.diff(fit, axis=0) <= 1e-12)
    # Optimality: no feasible random perturbation direction improves the fit.
    x = rng.normal(size=(3, 6, 2))
    y = project_sequential(x)
    assert np.all(np.abs(y[1:]) <= np.abs(y[:-1]) + 1e-12)
    for _ in range(200):
        other = project_sequential(y + 0.05 * rng.normal(size=y.shape))
        assert np.sum((y - x) ** 2) <= np.sum((other - x) ** 2) + 1e-12


def test_two_tasks_match_closed_form():
    # T = 2: the optimal signs are the input's, and the difference magnitudes
    # solve an isotonic regression of |a_h| − 2τ_h, clipped at zero.
    rng = np.random.default_rng(1)
    taus = np.array([0.1, 0.4, 1.0])
    for _ in range(5):
        v = rng.normal(size=(3, 2, 1)) * 2
        a = v[:, 0, 0] - v[:, 1, 0]
        r = np.maximum(isotonic_decreasing(np.abs(a) - 2 * taus), 0.0)
        mean = v.mean(axis=1)
        expected = np.stack([mean + r[:, None] * np.sign(a)[:, None] / 2] * 2, 1)
        expected[:, 1] = mean - r[:, None] * np.sign(a)[:, None] / 2
        u = tree_prox(v, taus)
        best = prox_objective(expected, v, taus)
        assert abs(prox_objective(u, v, taus) - best) < 1e-8
        np.testing.assert_allclose(u, expected, atol=1e-6)
        assert constraint_violation(u) <= 1e-9
        for h in np.flatnonzero(r == 0):
            assert np.array_equal(u[h, 0], u[h, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_tasks_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(2, 3, 1))
    taus = np.array([0.1, 0.5]) * rng.uniform(0.5, 2.0)
    value, reference = brute_force_prox(v, taus, component_signs(v))
    u = tree_prox(v, taus)
    assert abs(prox_objective(u, v, taus) - value) < 1e-4
    assert constraint_violation(u) <= 1e-6
    fused = fused_pairs(reference, 1e-7)
    assert np.array_equal(fused_pairs(u, 0.0), fused)


def test_prox_fuses_exactly_and_nests():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(3, 6, 4)) * 0.5
    u = tree_prox(v, [0.05, 0.3, 1.0])
    assert constraint_violation(u) <= 1e-6
    fused = fused_pairs(u, 0.0)
    assert fused[-1].all() and not fused[0].all()
    assert np.all(fused[1:] >= fused[:-1])
    # Never worse than the input's own piece at a feasible point.
    start = tree_prox(v, [0.0, 0.0, 0.0])
    assert prox_objective(u, v, [0.05, 0.3, 1.0]) <= prox_objective(
        start, v, [0.05, 0.3, 1.0]
    )


def small_problem(seed=0, num_tasks=4, dim=3, per_task=30):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(2, dim))[np.arange(num_tasks) // 2]
    x = [np.c_[rng.normal(size=(per_task, dim)), np.ones(per_task)] for _ in w]
    y = [xi[:, :dim] @ wi + 0.1 * rng.normal(size=per_task) for xi, wi in zip(x, w)]
    return LinearTasks(x, y)


@NUMPY_ONLY
def test_gist_reaches_a_stationary_point():
    loss = small_problem()
    objective = TreeObjective(loss, [0.02, 0.2], component_l2=0.1)
    start = initial_components(loss, 2, "split")
    result = gist(objective, start, max_iterations=400, tol=1e-7)
    c = result["components"]
    history = np.asarray(result["objective"])
    assert history[-1] < 0.5 * history[0]
    # Non-monotone descent: never above the largest of the last 5 values.
    window = [max(history[max(0, k - 5) : k]) for k in range(1, len(history))]
    assert np.all(history[1:] <= np.asarray(window) + 1e-12)
    initial = kkt_residual(objective, start)
    assert kkt_residual(objective, c) <= 1e-6 * initial
    assert constraint_violation(c) <= 1e-6
    fused = fused_pairs(c, 0.0)
    assert np.all(fused[1:] >= fused[:-1])


def planted_tree(seed, dim=5, per_task=60, noise=0.05):
    """8 linear tasks: a root, two groups of four, four pairs of identical tasks."""
    rng = np.random.default_rng(seed)
    root, group, pair = (
        rng.normal(size=dim),
        3.0 * rng.normal(size=(2, dim)),
        rng.normal(size=(4, dim)),
    )
    weights = [root + group[t // 4] + pair[t // 2] for t in range(8)]
    x = [np.c_[rng.normal(size=(per_task, dim)), np.ones(per_task)] for _ in weights]
    y = [a[:, :dim] @ w + noise * rng.normal(size=per_task) for a, w in zip(x, weights)]
    return LinearTasks(x, y)


@NUMPY_ONLY
def test_planted_trees_under_the_paper_objective():
    # A reduced version of benchmarks/tree_recovery.py (10 draws there): the
    # root fuses all tasks and the constraint holds, but the middle level
    # collapses (moving a difference to the leaf lowers the penalty).
    for seed in range(3):
        loss = planted_tree(seed)
        objective = TreeObjective(loss, [0.1, 1.0, 10.0])
        start = initial_components(loss, 3, "split")
        c = gist(objective, start, max_iterations=200, tol=1e-6)["components"]
        partitions = partitions_from_components(c, 1e-6)
        assert partitions[0] == [list(range(8))]
        assert partitions[1] == [list(range(8))]
        assert constraint_violation(c) <= 1e-6
        assert 4 <= len(partitions[2]) <= 8


def test_bad_arguments():
    with pytest.raises(ValueError, match="thresholds"):
        tree_prox(np.zeros((2, 3, 1)), [0.1])
    with pytest.raises(ValueError, match="signs"):
        tree_prox(np.zeros((2, 3, 1)), [0.1, 0.2], signs="greedy")
    with pytest.raises(ValueError, match="init"):
        initial_components(small_problem(), 2, "leaf")
    with pytest.raises(ValueError, match="x"):
        LinearTasks([np.ones((2, 2))], [np.ones(2), np.ones(2)])
