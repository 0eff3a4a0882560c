import keras
import numpy as np
import pytest
from testing import (
    assert_allclose,
    assert_layer_config_roundtrip,
    layer_in_model_roundtrip,
)

from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense
from keras_mtl.layers.tree_optimizer import TreeProximalAdam
from keras_mtl.layers.tree_prox import (
    component_labels,
    fuse_tolerances,
    proximal_step,
    spd_solve,
)
from keras_mtl.losses import MaskedLoss


def np_mm_prox(v, tau, iterations):
    if tau <= 0:
        return v
    u, t = v.copy(), len(v)
    for _ in range(iterations):
        dist = np.linalg.norm(u[:, None] - u[None], axis=-1)
        w = 1.0 / np.maximum(dist, 1e-3 * tau) * (1 - np.eye(t))
        u = np.linalg.solve(np.eye(t) + tau * (np.diag(w.sum(1)) - w), v)
    return u


def np_groups(close):
    from scipy.sparse.csgraph import connected_components

    return connected_components(close, directed=False)[1]


def np_proximal_step(components, thresholds, iterations, shrink=0.0):
    """Numpy float64 reference of the algorithm in keras_mtl.layers.tree_prox."""
    levels, labels = [], np.arange(components.shape[1])
    for h, level in enumerate(components):
        scale = 1.0 + (shrink if h < len(components) - 1 else 0.0)
        tau = thresholds[h] / scale
        v = np.stack([level[labels == labels[i]].mean(0) for i in range(len(level))])
        u = np_mm_prox(v / scale, tau, iterations)
        labels, rounded = np_round_to_fusion(u, v / scale, tau, labels)
        levels.append(rounded)
    return np.stack(levels)


def np_round_to_fusion(u, v, tau, labels):
    """Of the roundings at each candidate tolerance (connected components of
    "distance <= tol" or "same group below"), the one with the lowest objective."""
    dist = np.linalg.norm(u[:, None] - u[None], axis=-1)
    same = labels[:, None] == labels[None]
    best = None
    for tol in fuse_tolerances(tau):
        groups = np_groups((dist <= tol) | same)
        rounded = np.stack([u[groups == groups[i]].mean(0) for i in range(len(u))])
        score = objective(rounded, v, tau)
        if best is None or score < best[0]:
            best = (score, groups, rounded)
    return best[1], best[2]


def objective(u, v, tau):
    pairs = np.triu(np.linalg.norm(u[:, None] - u[None], axis=-1), 1).sum()
    return 0.5 * np.sum((u - v) ** 2) + tau * pairs


@pytest.mark.parametrize("size", [1, 2, 9, 31])
def test_component_labels_match_scipy(size):
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(size)
    graphs = rng.uniform(size=(6, size, size)) < rng.uniform(0, 0.3, (6, 1, 1))
    graphs |= np.swapaxes(graphs, 1, 2) | np.eye(size, dtype=bool)
    # A path in a shuffled order: the longest chain label propagation can meet.
    path = np.eye(size, dtype=bool) | np.eye(size, k=1, dtype=bool)
    order = rng.permutation(size)
    graphs[0] = (path | path.T)[order][:, order]
    labels = keras.ops.convert_to_numpy(component_labels(graphs.astype("float32")))
    for graph, label in zip(graphs, labels):
        groups = connected_components(graph, directed=False)[1]
        smallest = [np.flatnonzero(groups == g).min() for g in groups]
        assert np.array_equal(label, smallest)


def test_spd_solve_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 7))
    matrix, rhs = np.eye(7) + a @ a.T, rng.normal(size=(7, 3))
    assert_allclose(
        spd_solve(matrix.astype("float32"), rhs.astype("float32")),
        np.linalg.solve(matrix, rhs),
        atol=1e-4,
    )


def test_two_tasks_match_closed_form():
    v = np.array([[[0.0, 0.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 0.5]]], "float32")
    out = keras.ops.convert_to_numpy(proximal_step(v, [0.5, 0.5], iterations=40))
    # Level 1: distance 3 > 2τ shrinks by 2τ about the midpoint.
    assert_allclose(out[0], [[0.5, 0.0], [2.5, 0.0]], atol=1e-4)
    # Level 2: distance 0.5 ≤ 2τ fuses exactly at the mean (and stays nested).
    assert np.array_equal(out[1, 0], out[1, 1])
    assert_allclose(out[1, 0], [0.0, 0.25], atol=1e-5)


@pytest.mark.parametrize("params", [4, 13])  # 13 > 6 tasks: solved in the row space
def test_matches_numpy_reference(params):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 6, params)).astype("float32")
    v[:, 1] = v[:, 0] + 0.01
    thresholds, shrink = [0.05, 0.2, 0.6], 0.1
    expected = np_proximal_step(v.astype("float64"), thresholds, 10, shrink)
    actual = proximal_step(keras.ops.convert_to_tensor(v), thresholds, 10, shrink)
    assert_allclose(actual, expected, atol=1e-4)
    actual = keras.ops.convert_to_numpy(actual)
    for level, reference in zip(actual, expected):
        assert np.array_equal(same_group(level), same_group(reference))


def test_converged_prox_is_optimal():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(1, 5, 3))
    tau = 0.3
    u = np_proximal_step(v, [tau], 300)[0]
    best = objective(u, v[0], tau)
    for _ in range(200):
        step = rng.normal(size=u.shape) * 1e-3
        assert best <= objective(u + step, v[0], tau) + 1e-9


def same_group(u):
    return np.all(u[:, None] == u[None], axis=-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ten_mm_steps_round_to_the_converged_partition(seed):
    # Near the fusion threshold MM contracts slowly: after 10 steps the pairs
    # a converged prox fuses are still 0.01-0.3 τ apart. Rounding at the
    # tolerance with the lowest objective still fuses exactly those.
    v = np.random.default_rng(seed).normal(size=(1, 8, 3))
    tau = 0.3
    converged = np_proximal_step(v, [tau], 2000)[0]
    out = keras.ops.convert_to_numpy(
        proximal_step(keras.ops.convert_to_tensor(v.astype("float32")), [tau])
    )[0].astype("float64")
    assert np.array_equal(same_group(out), same_group(converged))
    assert objective(out, v[0], tau) <= objective(converged, v[0], tau) * 1.001
    u = np_mm_prox(v[0], tau, 10)
    finest = np_groups(np.linalg.norm(u[:, None] - u[None], axis=-1) <= 1e-2 * tau)
    finest_rounding = np.stack([u[finest == g].mean(0) for g in finest])
    assert objective(out, v[0], tau) <= objective(finest_rounding, v[0], tau) + 1e-5


def test_fusion_is_exact_and_nested():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(3, 10, 5)).astype("float32") * 0.3
    out = keras.ops.convert_to_numpy(proximal_step(v, [0.05, 0.2, 1.0]))
    layer = TreeGroupedDense(1, 10, 3)
    layer.build((None, 4))
    layer.components.assign(out.reshape(3, 10, 5, 1))
    partitions = layer.tree()
    for coarse, fine in zip(partitions, partitions[1:]):
        for group in fine:
            assert any(set(group) <= set(g) for g in coarse)
    for level, partition in zip(out[::-1], partitions):
        for group in partition:
            assert np.all(level[group] == level[group[0]])
    assert len(partitions[0]) < 10


def test_call_shapes_and_values():
    layer = TreeGroupedDense(3, num_tasks=2, num_levels=2, activation="relu")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    outputs = layer(x)
    assert len(outputs) == 2 and outputs[0].shape == (4, 3)
    weights = keras.ops.convert_to_numpy(layer.components).sum(0)
    for t in range(2):
        expected = np.maximum(x @ weights[t, :5] + weights[t, 5], 0)
        assert_allclose(outputs[t], expected)
    listed = layer([x, 2 * x])
    assert_allclose(listed[1], np.maximum(2 * x @ weights[1, :5] + weights[1, 5], 0))
    assert layer.tree() == [[[0, 1]], [[0, 1]]]


def planted_data(seed=0, per_task=60, dim=5):
    """8 linear tasks on a planted 3-level tree: root, two groups of four, four pairs.

    The two tasks of a pair have identical weights; every task sees the same
    inputs, so pair mates differ only by label noise.
    """
    rng = np.random.default_rng(seed)
    root = rng.normal(size=dim)
    groups = 3.0 * rng.normal(size=(2, dim))
    pairs = rng.normal(size=(4, dim))
    weights = np.stack([root + groups[t // 4] + pairs[t // 2] for t in range(8)])
    x = np.tile(rng.normal(size=(per_task, dim)), (8, 1)).astype("float32")
    task = np.repeat(np.arange(8), per_task)
    y = np.einsum("nd,nd->n", x, weights[task]) + 0.05 * rng.normal(size=len(x))
    labels = {
        f"t{t}": np.where(task == t, y, np.nan).astype("float32") for t in range(8)
    }
    return x, labels


def test_fit_recovers_planted_tree_with_nested_partitions():
    x, y = planted_data()
    inputs = keras.Input((x.shape[1],))
    layer = TreeGroupedDense(
        1,
        8,
        3,
        fusion_weights=[0.1, 0.3, 3.0],
        step_size=0.05,
        component_l2=0.3,
    )
    outputs = layer(inputs)
    model = keras.Model(inputs, {f"t{t}": o for t, o in enumerate(outputs)})
    model.compile(
        keras.optimizers.SGD(0.05),
        loss={k: MaskedLoss("mse", classification=False) for k in y},
    )
    checked = []

    def check_nested(epoch, logs):
        partitions = layer.tree()
        for coarse, fine in zip(partitions, partitions[1:]):
            for group in fine:
                assert any(set(group) <= set(g) for g in coarse)
        checked.append(epoch)

    # Full-batch steps, 4 per epoch (the data set repeated); JAX syncs the
    # variables at epoch end, so nesting is checked there (every 4 steps).
    nested = keras.callbacks.LambdaCallback(on_epoch_end=check_nested)
    x4, y4 = np.tile(x, (4, 1)), {k: np.tile(v, 4) for k, v in y.items()}
    model.fit(
        x4,
        y4,
        batch_size=len(x),
        epochs=50,
        shuffle=False,
        verbose=0,
        callbacks=[nested],
    )
    assert len(checked) == 50
    partitions = layer.tree()
    assert partitions == [
        [list(range(8))],
        [[0, 1, 2, 3], [4, 5, 6, 7]],
        [[0, 1], [2, 3], [4, 5], [6, 7]],
    ]
    components = layer.level_components()
    assert np.max(np.abs(components[-1] - components[-1][0])) == 0.0


def test_tree_proximal_adam_steps_tree_parameters_by_sgd():
    x, y = planted_data(per_task=4)
    finals = []
    for optimizer in (
        TreeProximalAdam(0.5, tree_learning_rate=0.01),
        keras.optimizers.SGD(0.01),
    ):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((x.shape[1],))
        outputs = TreeGroupedDense(1, 8, 2, fusion_weights=[0.0, 0.0])(inputs)
        model = keras.Model(inputs, {f"t{t}": o for t, o in enumerate(outputs)})
        model.compile(optimizer, loss={k: MaskedLoss("mse", False) for k in y})
        # The second step's forward pass absorbs the first optimizer step.
        model.fit(x, y, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
        finals.append(keras.ops.convert_to_numpy(model.layers[1].components))
    assert_allclose(finals[0], finals[1], atol=1e-6)
    assert np.max(np.abs(finals[0][0])) > 1e-3


def test_prox_every_skips_the_prox_but_absorbs_steps():
    layer = TreeGroupedDense(1, 3, 2, fusion_weights=[0.0, 1e6], prox_every=2)
    x = np.ones((2, 2), "float32")
    layer(x)
    layer.components.assign(np.arange(18, dtype="float32").reshape(2, 3, 3, 1))
    layer(x, training=True)  # call 0: prox due → root level fuses.
    root = keras.ops.convert_to_numpy(layer.components)[1]
    assert np.all(root == root[0])
    layer.kernel_updates.assign(np.ones((2, 3, 3, 1), "float32"))
    layer(x, training=True)  # call 1: no prox, the update is added.
    after = keras.ops.convert_to_numpy(layer.components)[1]
    assert_allclose(after, root + 1.0)


def test_config_and_model_roundtrip():
    layer = TreeGroupedDense(
        2,
        3,
        num_levels=2,
        fusion_weights=[0.1, 1.0],
        component_l2=0.1,
        name="tree_head",
    )
    clone = assert_layer_config_roundtrip(layer)
    assert clone.fusion_weights == [0.1, 1.0]
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    layer_in_model_roundtrip(layer, x)


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = TreeGroupedDense(2, 2)
    outputs = layer(np.ones((3, 4), "float32"), training=True)
    assert keras.backend.standardize_dtype(outputs[0].dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.components.dtype) == "float32"


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"num_levels": 0}, ValueError, "num_levels"),
        ({"fusion_weights": [1.0, 2.0]}, ValueError, "fusion_weights"),
        ({"fusion_weights": [0.1, -1.0, 2.0]}, ValueError, "fusion_weights"),
        ({"fusion_weights": 0.5}, TypeError, "fusion_weights"),
        ({"units": 0}, ValueError, "units"),
        ({"step_size": -1.0}, ValueError, "step_size"),
    ],
)
def test_bad_arguments(kwargs, error, word):
    args = {"units": 1, "num_tasks": 3, **kwargs}
    with pytest.raises(error, match=word):
        TreeGroupedDense(**args)


def test_bad_tol():
    layer = TreeGroupedDense(1, 2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="tol"):
        layer.tree(tol=-1.0)


def test_a_diverged_tree_is_not_read_as_one():
    # NaN components would otherwise read as "every task apart" at every level.
    layer = TreeGroupedDense(1, num_tasks=3, num_levels=2)
    layer.build((None, 2))
    layer.components.assign(np.full((2, 3, 3, 1), np.nan, "float32"))
    with pytest.raises(ValueError, match="not finite.*step_size"):
        layer.tree()
