"""Per-pair fusion weights and the centered ridge of `TreeObjective`."""

import numpy as np

from keras_mtl.tree_solver import (
    LinearTasks,
    TreeObjective,
    adaptive_objective,
    adaptive_pair_weights,
    gist,
    initial_components,
    tree_prox,
)


def small_loss(seed=0, tasks=4, dim=3):
    rng = np.random.default_rng(seed)
    x = [rng.normal(size=(20, dim)) for _ in range(tasks)]
    y = [a @ rng.normal(size=dim) for a in x]
    return LinearTasks(x, y)


def test_per_pair_thresholds_equal_to_per_level_give_the_same_prox():
    v = np.random.default_rng(1).normal(size=(2, 4, 3))
    per_level = tree_prox(v, [0.2, 0.5])
    per_pair = tree_prox(v, np.array([[0.2] * 6, [0.5] * 6]))
    np.testing.assert_allclose(per_pair, per_level, atol=1e-8)


def test_centered_ridge_gradient_and_shift_invariance():
    loss = small_loss()
    c = np.random.default_rng(2).normal(size=(3, 4, 3))
    objective = TreeObjective(loss, [0.1, 0.2, 1.0], 0.5, centered=True)
    step, direction = 1e-6, np.random.default_rng(3).normal(size=c.shape)
    numeric = (objective.smooth(c + step * direction) - objective.smooth(c)) / step
    assert abs(numeric - np.sum(objective.gradient(c) * direction)) < 1e-3
    shifted = c.copy()
    shifted[0] += 1.0  # the same vector added to every task's leaf component
    shifted[1] -= 1.0  # and removed from its middle one: same w, same ridge
    assert abs(objective.smooth(shifted) - objective.smooth(c)) < 1e-9


def test_adaptive_weights_run_through_gist():
    loss = small_loss()
    weights = np.array([0.05, 0.2, 5.0])[:, None] * adaptive_pair_weights(loss)
    objective = TreeObjective(loss, weights, 0.1, centered=True)
    result = gist(objective, initial_components(loss, 3, "split"), max_iterations=50)
    assert np.all(np.diff(result["objective"][:2]) <= 1e-9)


def test_gist_callback_sees_every_iteration_and_can_stop_it():
    loss = small_loss()
    objective = adaptive_objective(loss, 3)
    seen = []

    def stop_after_three(iteration, components, value):
        seen.append((iteration, components.shape, value))
        return iteration == 3

    start = initial_components(loss, 3, "split")
    result = gist(objective, start, max_iterations=50, callback=stop_after_three)
    assert result["iterations"] == 3
    assert [s[0] for s in seen] == [1, 2, 3]
    assert [s[2] for s in seen] == result["objective"][1:]
    assert seen[0][1] == start.shape
    # Also the last iteration of a run that converges by itself is seen.
    count = []
    result = gist(
        objective,
        start,
        max_iterations=300,
        tol=1e-3,
        callback=lambda *arguments: count.append(arguments),
    )
    assert result["iterations"] < 300
    assert len(count) == result["iterations"]


def test_adaptive_objective_is_its_formula():
    loss = small_loss(tasks=5)
    w = loss.ridge_solution()
    first, second = np.triu_indices(5, 1)
    d = np.linalg.norm(w[first] - w[second], axis=-1)
    unit = 0.1 * np.median(d) / 5
    lam = np.array([0.02, 0.02 + 0.4 * unit, 10.0])
    power = np.array([1.0, 3.0, 1.0])
    expected = lam[:, None] * (np.median(d) / d)[None] ** power[:, None]
    objective = adaptive_objective(loss, 3)
    np.testing.assert_allclose(objective.fusion_weights, expected, rtol=1e-12)
    assert objective.centered and objective.component_l2 == 0.1
    two = adaptive_objective(loss, 2).fusion_weights
    np.testing.assert_allclose(two, expected[[0, 2]], rtol=1e-12)
    np.testing.assert_allclose(adaptive_objective(loss, 1).fusion_weights, expected[2:])
