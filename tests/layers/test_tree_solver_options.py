"""Per-pair fusion weights and the centered ridge of `TreeObjective`."""

import numpy as np
import pytest

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


def average_linkage_heights(points):
    """Cophenetic distances of UPGMA (average linkage), merging the two
    closest clusters until one is left: `(T, T)`."""
    clusters = [[i] for i in range(len(points))]
    heights = np.zeros((len(points), len(points)))
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    while len(clusters) > 1:
        pairs = [
            (d[np.ix_(a, b)].mean(), i, j)
            for i, a in enumerate(clusters)
            for j, b in enumerate(clusters)
            if i < j
        ]
        height, i, j = min(pairs)
        for a in clusters[i]:
            for b in clusters[j]:
                heights[a, b] = heights[b, a] = height
        clusters[i] = clusters[i] + clusters.pop(j)
    return heights


def adaptive_formula(loss, middle_distances, middle_power):
    w = loss.ridge_solution()
    tasks = len(w)
    first, second = np.triu_indices(tasks, 1)
    d = np.linalg.norm(w[first] - w[second], axis=-1)
    middle = d
    if middle_distances == "cophenetic":
        middle = average_linkage_heights(w)[first, second]
    unit = 0.1 * np.median(d) / tasks
    lam = np.array([0.02, 0.02 + 0.4 * unit, 10.0])
    distances = np.stack([d, middle, d])
    power = np.array([1.0, middle_power, 1.0])[:, None]
    medians = np.median(distances, axis=1, keepdims=True)
    return lam[:, None] * (medians / distances) ** power


def test_adaptive_objective_is_its_formula():
    loss = small_loss(tasks=5)
    expected = adaptive_formula(loss, "cophenetic", 10.0)
    objective = adaptive_objective(loss, 3)
    np.testing.assert_allclose(objective.fusion_weights, expected, rtol=1e-12)
    assert objective.centered and objective.component_l2 == 0.1
    euclidean = adaptive_objective(
        loss, 3, middle_distances="euclidean", middle_power=3.0
    )
    np.testing.assert_allclose(
        euclidean.fusion_weights, adaptive_formula(loss, "euclidean", 3.0), rtol=1e-12
    )
    two = adaptive_objective(loss, 2).fusion_weights
    np.testing.assert_allclose(two, expected[[0, 2]], rtol=1e-12)
    np.testing.assert_allclose(adaptive_objective(loss, 1).fusion_weights, expected[2:])


def test_adaptive_objective_rejects_unknown_middle_distances():
    with pytest.raises(ValueError, match="middle_distances"):
        adaptive_objective(small_loss(), 3, middle_distances="manhattan")
