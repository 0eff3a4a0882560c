import keras
import numpy as np
import pytest
from testing import assert_model_roundtrip, to_numpy

from keras_mtl.layers.multilinear_prior import MultilinearPriorLayer
from keras_mtl.models.mrn import mrn, prior_layers
from keras_mtl.plotting import plot_task_correlation
from keras_mtl.task import Task

RNG = np.random.default_rng(0)
TASKS = [Task("a", num_classes=3), Task("b", num_classes=3), Task("c", num_classes=3)]


def one_task_per_example(n=24, features=6, tasks=3, classes=3):
    """Each example labelled for one task; -1 for the others."""
    x = RNG.normal(size=(n, features)).astype("float32")
    owner = np.arange(n) % tasks
    labels = RNG.integers(0, classes, size=n)
    y = {
        name: np.where(owner == t, labels, -1).astype("int32")
        for t, name in enumerate("abc"[:tasks])
    }
    return x, y


def test_builds_fits_refreshes_and_round_trips():
    model = mrn(
        TASKS,
        input_shape=(6,),
        units=8,
        num_layers=1,
        update_every=2,
        dropout=0.1,
        seed=1,
    )
    layers = prior_layers(model)
    assert [layer.name for layer in layers] == ["mrn_hidden", "mrn_output"]
    assert layers[0].kernel.shape == (8, 8, 3)
    assert layers[1].kernel.shape == (8, 3, 3)
    x, y = one_task_per_example()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 3 steps
    assert np.isfinite(history.history["loss"]).all()
    for layer in layers:  # one refresh, at step 2
        assert not np.allclose(layer.task_covariance(), np.eye(3))
        assert float(to_numpy(layer.steps_since_update)) == 1.0
    restored = assert_model_roundtrip(model, x)
    outputs = restored.predict(x, verbose=0)
    assert sorted(outputs) == ["a", "b", "c"] and outputs["a"].shape == (24, 3)
    np.testing.assert_allclose(outputs["b"].sum(axis=1), 1.0, rtol=1e-5)
    for before, after in zip(layers, prior_layers(restored)):
        for name in ("feature_precision", "class_precision", "task_precision"):
            np.testing.assert_array_equal(before.statistic(name), after.statistic(name))


def test_prior_terms_are_model_losses():
    model = mrn(
        TASKS, input_shape=(6,), units=8, num_layers=0, prior_weight=0.5, seed=2
    )
    model(np.ones((2, 6), "float32"))
    expected = [
        0.25 * np.sum(to_numpy(layer.kernel).astype("float64") ** 2)
        for layer in prior_layers(model)
    ]  # Σ = I before any refresh
    np.testing.assert_allclose(to_numpy(model.losses), expected, rtol=1e-5)


def test_task_mode_and_mixed_output_widths():
    tasks = [Task("a", num_classes=3), Task("b", num_classes=2), Task("c")]
    model = mrn(tasks, input_shape=(6,), units=8, covariances="task", seed=4)
    assert [layer.name for layer in prior_layers(model)] == ["mrn_hidden"]
    assert prior_layers(model)[0].covariances == "task"
    outputs = model(np.ones((2, 6), "float32"))
    assert tuple(outputs["b"].shape) == (2, 2) and tuple(outputs["c"].shape) == (2, 1)


def _backbone():
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    return keras.Model(inputs, x, name="backbone")


def test_any_keras_backbone_optionally_frozen():
    trainable = mrn(TASKS, backbone=_backbone(), units=4, seed=6)
    assert any("conv" in v.path for v in trainable.trainable_weights)
    backbone = _backbone()
    before = to_numpy(backbone.get_layer("conv").kernel)
    model = mrn(TASKS, backbone=backbone, freeze_backbone=True, units=4, seed=6)
    assert not any("conv" in v.path for v in model.trainable_weights)
    assert model.get_layer("backbone_flatten") is not None
    x = RNG.normal(size=(12, 4, 4, 1)).astype("float32")
    _, y = one_task_per_example(n=12)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_array_equal(before, to_numpy(backbone.get_layer("conv").kernel))


def test_plot_task_correlation_writes_a_png(tmp_path):
    model = mrn(TASKS, input_shape=(6,), units=8, num_layers=0, seed=7)
    path = plot_task_correlation(model, str(tmp_path / "corr.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    plot_task_correlation(np.eye(2), str(tmp_path / "eye.png"), ["x", "y"])
    layer = MultilinearPriorLayer(2, 2)
    layer.build((None, 3))
    plot_task_correlation(layer, str(tmp_path / "layer.png"))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"update_every": 0}, ValueError, "update_every"),
        ({"covariances": "class"}, ValueError, "covariances"),
        ({"prior_weight": -1.0}, ValueError, "prior_weight"),
        ({"num_layers": -1}, ValueError, "num_layers"),
        ({"input_shape": None}, ValueError, "input_shape"),
        ({"input_shape": (3, 6)}, ValueError, "input_shape"),
        ({"backbone": "resnet"}, TypeError, "backbone"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    arguments = {"input_shape": (6,), **kwargs}
    with pytest.raises(error, match=match):
        mrn(TASKS, **arguments)


def test_sequence_tasks_are_refused():
    with pytest.raises(ValueError, match="sequence"):
        mrn([Task("tags", 3, sequence=True)], input_shape=(6,))
