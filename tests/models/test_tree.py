import os
import tempfile

import keras
import numpy as np
import pytest
from testing import assert_allclose, assert_model_roundtrip, to_numpy

from keras_mtl.models.tree import linkage_from_partitions, tree
from keras_mtl.plotting import plot_tree_dendrogram
from keras_mtl.task import Task
from keras_mtl.tree_solver import constraint_violation


def task_indexed_data(num_tasks=4, per_task=8, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_tasks * per_task, dim)).astype("float32")
    ids = np.repeat(np.arange(num_tasks), per_task)
    values = rng.normal(size=len(x)).astype("float32")
    y = {
        f"t{t}": np.where(ids == t, values, np.nan).astype("float32")
        for t in range(num_tasks)
    }
    return x, y


def test_linear_model_is_tree_head_on_features():
    tasks = [Task(f"t{t}") for t in range(4)]
    model = tree(tasks, input_shape=(3,), num_layers=0, seed=0)
    head = model.get_layer("tree_head")
    assert [layer.name for layer in model.layers] == ["features", "tree_head"] + [
        f"t{t}" for t in range(4)
    ]
    x, y = task_indexed_data()
    model.fit(x, y, batch_size=len(x), epochs=2, verbose=0)
    kernels = head.task_kernels()
    bias = head.level_components().sum(0).reshape(4, 4, 1)[:, 3, 0]
    predictions = model.predict(x, verbose=0)
    for t in range(4):
        assert_allclose(predictions[f"t{t}"][:, 0], x @ kernels[t, :, 0] + bias[t])
    assert len(head.tree()) == 3


def test_fit_with_missing_labels_and_roundtrip():
    tasks = [Task(f"t{t}") for t in range(4)]
    model = tree(
        tasks,
        input_shape=(3,),
        num_layers=1,
        units=8,
        fusion_weights=[0.1, 1.0],
        num_levels=2,
        seed=0,
    )
    x, y = task_indexed_data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    restored = assert_model_roundtrip(model, x)
    assert restored.get_layer("tree_head").tree() == model.get_layer("tree_head").tree()


def test_classification_tasks():
    tasks = [Task("a", num_classes=3), Task("b", num_classes=3)]
    model = tree(tasks, input_shape=(3,), num_layers=0, seed=0)
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    y = {"a": np.array([0, 1, 2, -1, -1, -1]), "b": np.array([-1, -1, -1, 2, 1, 0])}
    model.fit(x, y, epochs=1, verbose=0)
    assert_allclose(model.predict(x, verbose=0)["a"].sum(-1), np.ones(6))


def test_tasks_of_any_kind_share_a_tree_over_a_hidden_layer():
    tasks = [Task("reg"), Task("three", num_classes=3), Task("binary", num_classes=2)]
    model = tree(tasks, input_shape=(3,), num_layers=0, tree_units=4, seed=0)
    head = model.get_layer("tree_head")
    assert head.units == 4 and head.num_tasks == 3
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    y = {
        "reg": np.array([0.5, np.nan, 1.0, np.nan, -1.0, 0.0], "float32"),
        "three": np.array([0, 1, -1, 2, -1, 1]),
        "binary": np.array([1, -1, 0, 1, 0, -1]),
    }
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    predictions = {k: to_numpy(v) for k, v in model(x).items()}
    assert predictions["reg"].shape == (6, 1)
    assert_allclose(predictions["three"].sum(-1), np.ones(6))
    assert predictions["binary"].shape == (6, 2)
    # Mixed widths alone also put the tree on a hidden layer (width `units`).
    mixed = tree(tasks, input_shape=(3,), num_layers=0, units=5)
    assert mixed.get_layer("tree_head").units == 5


def linear_tasks(num_tasks=4, per_task=20, dim=2, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(2, dim))[np.arange(num_tasks) // 2]
    x = rng.normal(size=(num_tasks * per_task, dim)).astype("float32")
    ids = np.repeat(np.arange(num_tasks), per_task)
    values = np.einsum("nd,nd->n", x, weights[ids]) + 0.1 * rng.normal(size=len(x))
    y = {f"t{t}": np.where(ids == t, values, np.nan) for t in range(num_tasks)}
    return x, y


def test_solve_runs_gist_to_a_stationary_point():
    tasks = [Task(f"t{t}") for t in range(4)]
    model = tree(
        tasks,
        input_shape=(2,),
        num_layers=0,
        num_levels=2,
        fusion_weights=[0.02, 0.3],
        seed=0,
    )
    x, y = linear_tasks()
    result = model.solve(x, y, tol=1e-7)
    assert result["kkt_residual"] < 1e-5
    head = model.get_layer("tree_head")
    c = head.level_components().astype("float64")
    assert constraint_violation(c) <= 1e-6
    predictions = model.predict(x, verbose=0)
    weights = c.sum(0)
    for t in range(4):
        expected = x @ weights[t, :2] + weights[t, 2]
        assert_allclose(predictions[f"t{t}"][:, 0], expected, atol=1e-4)
    assert head.tree()[0] == [[0, 1, 2, 3]]


def test_solve_passes_its_callback_and_prox_tolerance_to_gist():
    tasks = [Task(f"t{t}") for t in range(4)]
    model = tree(tasks, input_shape=(2,), num_layers=0, num_levels=2, seed=0)
    x, y = linear_tasks()
    values = []

    def stop_after_two(iteration, components, value):
        values.append(value)
        return iteration == 2

    result = model.solve(x, y, prox_tol=1e-6, callback=stop_after_two)
    assert result["iterations"] == 2
    assert values == result["objective"][1:]
    written = model.get_layer("tree_head").level_components()
    assert_allclose(written, result["components"].reshape(written.shape), atol=1e-6)


def test_solve_with_adaptive_pair_weights_and_a_centered_ridge():
    from keras_mtl import tree_solver

    tasks = [Task(f"t{t}") for t in range(4)]
    kwargs = dict(input_shape=(2,), num_layers=0, num_levels=2, seed=0)
    model = tree(tasks, fusion_weights=[0.02, 0.3], component_l2=0.1, **kwargs)
    x, y = linear_tasks()
    result = model.solve(x, y, pair_weights="adaptive", centered_ridge=True)
    assert result["kkt_residual"] < 1e-4
    # The objective GIST minimised: λ_h · median_d / d_ij per pair, the ridge
    # on each level's deviations from its mean over tasks.
    rows = [np.isfinite(y[t.name]) for t in tasks]
    loss = tree_solver.LinearTasks(
        [np.c_[x[r], np.ones(r.sum())] for r in rows],
        [y[t.name][r] for t, r in zip(tasks, rows)],
    )
    weights = np.array([0.02, 0.3])[:, None] * tree_solver.adaptive_pair_weights(loss)
    objective = tree_solver.TreeObjective(loss, weights, 0.1, centered=True)
    value = objective.value(result["components"])
    assert value == pytest.approx(result["objective"][-1], rel=1e-9)
    with pytest.raises(ValueError, match="pair_weights"):
        model.solve(x, y, pair_weights="inverse")
    paper = tree(tasks, fusion_weights=[0.02, 0.3], **kwargs)
    with pytest.raises(ValueError, match="centered_ridge"):
        paper.solve(x, y, centered_ridge=True)


def stacked(per_task_x, per_task_y):
    """Per-task arrays (bias column last) as one `x` and NaN-masked labels."""
    x = np.concatenate([a[:, :-1] for a in per_task_x])
    owner = np.repeat(np.arange(len(per_task_x)), [len(a) for a in per_task_x])
    labels = np.concatenate(per_task_y)
    tasks = range(len(per_task_x))
    return x, {f"t{t}": np.where(owner == t, labels, np.nan) for t in tasks}


# Two separated draws, and draw 1 unconditioned: its groups' margin is 1.09,
# which the Euclidean middle-level weights (the default until 2026-12-03)
# split into 4 middle groups.
@pytest.mark.parametrize("seed, min_margin", [(0, 1.5), (1, 1.5), (1, None)])
def test_solve_with_its_defaults_recovers_planted_trees(seed, min_margin):
    from benchmarks.tree_recovery import planted_tree

    per_task_x, per_task_y, truth = planted_tree(
        seed, num_tasks=8, min_margin=min_margin
    )
    x, y = stacked(per_task_x, per_task_y)
    model = tree([Task(f"t{t}") for t in range(8)], input_shape=(5,), num_layers=0)
    result = model.solve(x, y)
    assert result["recipe"] == "adaptive"
    head = model.get_layer("tree_head")
    assert head.tree() == truth
    assert constraint_violation(head.level_components().astype("float64")) <= 1e-6
    with pytest.raises(ValueError, match="recipe"):
        model.solve(x, y, recipe="paper")
    with pytest.raises(ValueError, match="recipe='model'"):
        model.solve(x, y, recipe="adaptive", centered_ridge=True)


def _token_encoder(length=6, vocab=20):
    tokens = keras.Input((length,), dtype="int32")
    h = keras.layers.Embedding(vocab, 4, mask_zero=True)(tokens)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(tokens, h, name="encoder")


def test_tree_head_on_a_shared_backbone():
    tasks = [Task(f"d{t}", num_classes=2) for t in range(3)]
    model = tree(tasks, backbone=_token_encoder(), num_levels=2, seed=0)
    assert model.get_config()["input_shape"] == [6]
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(12, 6)).astype("float32")
    owner = np.arange(12) % 3
    y = {
        t.name: np.where(owner == i, rng.integers(0, 2, 12), -1)
        for i, t in enumerate(tasks)
    }
    history = model.fit(x, y, batch_size=6, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert len(model.get_layer("tree_head").tree()) == 2
    assert_model_roundtrip(model, x)
    with pytest.raises(ValueError, match="num_layers=0"):
        model.solve(x, y)
    with pytest.raises(TypeError, match="backbone"):
        tree(tasks, backbone="resnet")


def test_bad_arguments():
    with pytest.raises(ValueError, match="tasks"):
        tree([Task("a", 3, sequence=True), Task("b")], input_shape=(3,))
    with pytest.raises(ValueError, match="num_levels"):
        tree([Task("a")], input_shape=(3,), num_levels=0)
    with pytest.raises(ValueError, match="num_levels"):
        tree([Task("a"), Task("b")], input_shape=(3,), num_levels=3)
    with pytest.raises(ValueError, match="fusion_weights"):
        tree([Task("a")], input_shape=(3,), num_levels=1, fusion_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="num_layers"):
        tree([Task("a")], input_shape=(3,), num_levels=1, num_layers=-1)
    with pytest.raises(ValueError, match="input_shape"):
        tree([Task("a")], input_shape=(3, 2), num_levels=1)
    with pytest.raises(ValueError, match="objective"):
        tree([Task("a")], input_shape=(3,), num_levels=1, objective="tat")
    with pytest.raises(ValueError, match="component_l2"):
        tree(
            [Task("a")],
            input_shape=(3,),
            num_levels=1,
            objective="paper",
            component_l2=0.1,
        )
    with pytest.raises(ValueError, match="component_l2"):
        tree([Task("a")], input_shape=(3,), num_levels=1, objective="ridge")
    x, y = linear_tasks(num_tasks=2)
    flat = tree(
        [Task("t0"), Task("t1")],
        input_shape=(2,),
        num_layers=0,
        num_levels=2,
        fusion_weights=[1.0, 0.5],
    )
    with pytest.raises(ValueError, match="fusion_weights"):
        flat.solve(x, y)
    deep = tree([Task("t0"), Task("t1")], input_shape=(2,), num_levels=2)
    with pytest.raises(ValueError, match="num_layers=0"):
        deep.solve(x, y)


def test_dendrogram_from_partitions():
    partitions = [[[0, 1, 2, 3]], [[0, 1], [2, 3]], [[0], [1], [2], [3]]]
    linkage = linkage_from_partitions(partitions)
    assert linkage.shape == (3, 4)
    assert list(linkage[:, 2]) == [2.0, 2.0, 3.0]
    assert linkage[-1, 3] == 4
    path = os.path.join(tempfile.mkdtemp(), "tree.png")
    plot_tree_dendrogram(partitions, path, task_names=list("abcd"))
    assert os.path.getsize(path) > 1000
    apart = linkage_from_partitions([[[0], [1, 2]], [[0], [1], [2]]])
    assert list(apart[:, 2]) == [2.0, 3.0]


def test_fit_applies_prox_on_every_backend():
    tasks = [Task(f"t{t}") for t in range(4)]
    model = tree(
        tasks,
        input_shape=(3,),
        num_layers=0,
        fusion_weights=[0, 0, 1e4],
        learning_rate=1e-2,
        seed=0,
    )
    x, y = task_indexed_data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    head = model.get_layer("tree_head")
    assert int(keras.ops.convert_to_numpy(head.prox_calls)) == 8
    assert head.tree()[0] == [[0, 1, 2, 3]]
    assert len(head.tree()[-1]) == 4
