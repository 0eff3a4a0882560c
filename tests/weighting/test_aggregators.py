"""Each gradient aggregator against a direct numpy computation of its formula."""

import itertools

import keras
import numpy as np
import pytest
from scipy import optimize

from keras_mtl import weighting

RNG = np.random.default_rng(7)
# Three conflicting task gradients over five parameters.
G3 = np.array(
    [
        [1.0, 0.5, -0.2, 0.3, 0.0],
        [-0.8, 1.2, 0.4, -0.1, 0.6],
        [0.3, -1.0, 1.1, 0.2, -0.4],
    ],
    "float32",
)
G4 = RNG.normal(size=(4, 7)).astype("float32")


def aggregate(strategy, gradients, mask=None):
    return keras.ops.convert_to_numpy(strategy.aggregate(gradients, mask)).astype(
        "float64"
    )


def weights_of(strategy, gradients, mask=None):
    g = np.asarray(gradients, "float32")
    mask = np.ones(len(g), "float32") if mask is None else mask
    strategy.setup(len(g))
    w = strategy.compute_weights(g @ g.T, np.asarray(mask, "float32"))
    return keras.ops.convert_to_numpy(w).astype("float64")


def simplex_minimum(objective, num_tasks):
    """A tight numpy/scipy solution of `min_{w ∈ simplex} objective(w)`."""
    constraint = {"type": "eq", "fun": lambda w: np.sum(w) - 1.0}
    best = None
    for start in itertools.chain(
        [np.full(num_tasks, 1 / num_tasks)], np.eye(num_tasks)
    ):
        start = 0.9 * start + 0.1 / num_tasks
        result = optimize.minimize(
            objective,
            start,
            bounds=[(0.0, 1.0)] * num_tasks,
            constraints=[constraint],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 1000},
        )
        if best is None or result.fun < best.fun:
            best = result
    return best.x


def test_equal_is_the_sum():
    np.testing.assert_allclose(aggregate(weighting.Equal(), G3), G3.sum(0), atol=1e-6)


def pcgrad_reference(g, orders):
    g = g.astype("float64")
    out = []
    for i, order in enumerate(orders):
        v = g[i].copy()
        for j in order:
            dot = v @ g[j]
            if j != i and dot < 0:
                v -= dot / (g[j] @ g[j]) * g[j]
        out.append(v)
    return np.sum(out, axis=0)


def test_pcgrad_matches_sequential_projection():
    g = G4
    orders = [list(range(len(g)))] * len(g)
    expected = pcgrad_reference(g, orders)
    got = aggregate(weighting.PCGrad(shuffle=False), g)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_pcgrad_random_order_is_one_of_the_orders():
    g = G3
    candidates = [
        pcgrad_reference(g, orders)
        for orders in itertools.product(itertools.permutations(range(3)), repeat=3)
    ]
    strategy = weighting.PCGrad(seed=3)
    got = aggregate(strategy, g)
    assert min(np.abs(got - c).max() for c in candidates) < 1e-4
    # Two tasks: order cannot matter; g1·g2 < 0 projects each off the other.
    # Two tasks: order cannot matter. g1^PC = g1 + g2 / 2, g2^PC = g2 + g1.
    g2 = np.array([[1.0, 0.0], [-1.0, 1.0]], "float32")
    np.testing.assert_allclose(aggregate(strategy, g2), [0.5, 1.5], atol=1e-6)


def test_mgda_two_task_closed_form():
    for _ in range(5):
        g = RNG.normal(size=(2, 6)).astype("float32")
        g1, g2 = g.astype("float64")
        gamma = np.clip((g2 - g1) @ g2 / np.sum((g1 - g2) ** 2), 0.0, 1.0)
        expected = gamma * g1 + (1 - gamma) * g2
        got = aggregate(weighting.MGDA(), g)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_mgda_is_the_min_norm_point(g=G4):
    k = g.astype("float64") @ g.T.astype("float64")
    w = simplex_minimum(lambda w: w @ k @ w, len(g))
    got = aggregate(weighting.MGDA(), g)
    np.testing.assert_allclose(got, w @ g, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("c", [0.5, 2.0])
def test_cagrad_matches_its_dual_solution(c, g=G4):
    g64 = g.astype("float64")
    k = g64 @ g64.T
    g0 = g64.mean(0)
    phi = c**2 * g0 @ g0
    w = simplex_minimum(
        lambda w: w @ (g64 @ g0) + np.sqrt(phi) * np.sqrt(w @ k @ w), len(g)
    )
    gw = w @ g64
    expected = g0 + np.sqrt(phi) / np.linalg.norm(gw) * gw
    got = aggregate(weighting.CAGrad(c=c), g)
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)
    # The paper's guarantee: the update stays in the ball around g0.
    assert np.linalg.norm(got - g0) <= c * np.linalg.norm(g0) + 1e-4


def test_imtl_projections_are_equal(g=G4):
    alpha = weights_of(weighting.IMTL(), g)
    d = aggregate(weighting.IMTL(), g)
    units = g / np.linalg.norm(g, axis=1, keepdims=True)
    projections = units @ d
    np.testing.assert_allclose(projections, projections[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alpha.sum(), 1.0, atol=1e-5)
    # The paper's closed form, directly.
    g64 = g.astype("float64")
    u = units.astype("float64")
    dm, um = g64[0] - g64[1:], u[0] - u[1:]
    rest = g64[0] @ um.T @ np.linalg.inv(dm @ um.T)
    np.testing.assert_allclose(alpha, np.r_[1 - rest.sum(), rest], atol=1e-4)


def test_nash_mtl_solves_the_bargaining_equation(g=G4):
    alpha = weights_of(weighting.NashMTL(), g)
    k = g.astype("float64") @ g.T.astype("float64")
    assert np.all(alpha > 0)
    np.testing.assert_allclose(k @ alpha, 1.0 / alpha, rtol=1e-3)
    np.testing.assert_allclose(
        aggregate(weighting.NashMTL(), g), alpha @ g, rtol=1e-4, atol=1e-5
    )


def test_aligned_mtl_equalises_the_singular_values(g=G4):
    strategy = weighting.AlignedMTL()
    b = keras.ops.convert_to_numpy(strategy.balance_matrix(g @ g.T))
    singular = np.linalg.svd(g.astype("float64"), compute_uv=False)
    aligned = np.linalg.svd(b @ g, compute_uv=False)
    np.testing.assert_allclose(aligned, singular.min(), rtol=1e-3)
    np.testing.assert_allclose(
        aggregate(strategy, g), (b @ g).sum(0), rtol=1e-4, atol=1e-5
    )


def test_aligned_mtl_keeps_the_rank():
    g = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")
    b = keras.ops.convert_to_numpy(weighting.AlignedMTL().balance_matrix(g @ g.T))
    aligned = np.linalg.svd(b @ g, compute_uv=False)
    smallest = np.linalg.svd(g, compute_uv=False)[1]
    np.testing.assert_allclose(aligned[:2], smallest, rtol=1e-3)
    assert aligned[2] < 1e-3


def test_upgrad_projections_and_update_conflict_with_no_task(g=G4):
    strategy = weighting.UPGrad()
    strategy.setup(len(g))
    rows = keras.ops.convert_to_numpy(
        strategy.projection_weights(g @ g.T, np.ones(len(g), "float32"))
    )
    projections = rows @ g
    scale = np.max(np.sum(g**2, 1))
    assert np.all(projections @ g.T >= -1e-4 * scale)
    # Each is the projection: compare with scipy's non-negative dual solution.
    k = g.astype("float64") @ g.T.astype("float64")
    for i in range(len(g)):
        lam = optimize.minimize(
            lambda v: 0.5 * v @ k @ v + v @ k[:, i],
            np.zeros(len(g)),
            bounds=[(0, None)] * len(g),
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-12},
        ).x
        expected = g[i] + lam @ g
        np.testing.assert_allclose(projections[i], expected, atol=2e-4)
    d = aggregate(strategy, g)
    np.testing.assert_allclose(d, projections.mean(0), atol=1e-5)
    assert np.all(g @ d >= -1e-4 * scale)


GRADIENT_STRATEGIES = {
    "mgda": lambda: weighting.MGDA(),
    "pcgrad": lambda: weighting.PCGrad(shuffle=False),
    "cagrad": lambda: weighting.CAGrad(),
    "imtl": lambda: weighting.IMTL(),
    "nash_mtl": lambda: weighting.NashMTL(),
    "aligned_mtl": lambda: weighting.AlignedMTL(),
    "upgrad": lambda: weighting.UPGrad(),
    "equal": lambda: weighting.Equal(),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_STRATEGIES))
def test_masked_tasks_contribute_nothing_and_equal_gradients_keep_direction(name):
    """A masked task (zero gradient) leaves the result of the others; no task
    with labels gives no update; identical gradients give their direction."""
    strategy = GRADIENT_STRATEGIES[name]()
    g = G4.copy()
    g[2] = 0.0
    mask = np.array([1, 1, 0, 1], "float32")
    got = aggregate(strategy, g, mask)
    expected = aggregate(GRADIENT_STRATEGIES[name](), np.delete(g, 2, axis=0))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    none = aggregate(strategy, np.zeros_like(g), np.zeros(4, "float32"))
    np.testing.assert_array_equal(none, 0.0)
    same = aggregate(strategy, np.tile(G4[:1], (4, 1)))
    assert np.all(np.isfinite(same))
    cos = same @ G4[0] / (np.linalg.norm(same) * np.linalg.norm(G4[0]))
    assert cos > 0.999
