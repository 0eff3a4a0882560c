import keras
import numpy as np
import pytest
from testing import to_numpy

from keras_mtl import MaskedLoss, MaskedMetric, Task
from keras_mtl.losses import CRFLoss
from keras_mtl.task import validate_tasks


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_classification_loss_equals_unmasked_loss_on_labelled_subset():
    rng = np.random.default_rng(0)
    probs = _softmax(rng.normal(size=(6, 4))).astype("float32")
    labels = np.array([0, -1, 3, 2, -1, 1])
    keep = labels >= 0
    masked = Task("a", num_classes=4).masked_loss()(labels, probs)
    reference = keras.losses.SparseCategoricalCrossentropy()(labels[keep], probs[keep])
    np.testing.assert_allclose(to_numpy(masked), to_numpy(reference), rtol=1e-6)
    manual = -np.mean(np.log(probs[keep, labels[keep]]))
    np.testing.assert_allclose(to_numpy(masked), manual, rtol=1e-5)


def test_sequence_loss_skips_padding():
    rng = np.random.default_rng(1)
    probs = _softmax(rng.normal(size=(2, 5, 3))).astype("float32")
    labels = np.array([[0, 1, 2, -1, -1], [2, 2, -1, -1, -1]])
    keep = labels >= 0
    loss = Task("t", num_classes=3, sequence=True).masked_loss()(labels, probs)
    manual = -np.mean(np.log(probs[keep][np.arange(keep.sum()), labels[keep]]))
    np.testing.assert_allclose(to_numpy(loss), manual, rtol=1e-5)


def test_regression_loss_skips_nan_and_has_finite_gradient_inputs():
    y_pred = np.array([[1.0], [2.0], [4.0]], "float32")
    y_true = np.array([2.0, np.nan, 1.0], "float32")
    loss = Task("r").masked_loss()(y_true, y_pred)
    np.testing.assert_allclose(to_numpy(loss), (1.0 + 9.0) / 2, rtol=1e-6)


def test_loss_of_batch_without_labels_is_zero():
    loss = Task("a", num_classes=2).masked_loss()(
        np.array([-1, -1]), np.full((2, 2), 0.5, "float32")
    )
    assert float(to_numpy(loss)) == 0.0


def test_metric_accumulates_only_labelled_examples_over_batches():
    metric = Task("a", num_classes=3).masked_metrics()[0]
    batches = [
        (np.array([0, -1, 2]), np.eye(3, dtype="float32")[[0, 1, 1]]),
        (np.array([-1, 1]), np.eye(3, dtype="float32")[[0, 1]]),
    ]
    for labels, probs in batches:
        metric.update_state(labels, probs)
    # labelled: (0 -> 0 right), (2 -> 1 wrong), (1 -> 1 right)
    np.testing.assert_allclose(to_numpy(metric.result()), 2 / 3, rtol=1e-6)
    assert metric.name == "accuracy"


def test_regression_metric_mae_on_labelled_subset():
    metric = Task("r").masked_metrics()[0]
    metric.update_state(np.array([1.0, np.nan, 3.0]), np.array([[2.0], [9.0], [3.5]]))
    np.testing.assert_allclose(to_numpy(metric.result()), 0.75, rtol=1e-6)


def test_custom_loss_and_metric_are_masked_and_serializable():
    task = Task("r", loss="mae", metrics=["mse"], loss_weight=2.0)
    loss = task.masked_loss()
    value = loss(np.array([1.0, np.nan]), np.array([[3.0], [0.0]], "float32"))
    np.testing.assert_allclose(to_numpy(value), 2.0)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(revived, MaskedLoss)
    metric = task.masked_metrics()[0]
    assert isinstance(metric, MaskedMetric) and metric.name == "mse"
    assert Task.from_config(task.get_config()) == task


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"name": "bad name"}, ValueError),
        ({"name": ""}, ValueError),
        ({"name": 3}, ValueError),
        ({"name": "a", "num_classes": 1}, ValueError),
        ({"name": "a", "num_classes": 2.5}, TypeError),
        ({"name": "a", "num_classes": True}, TypeError),
        ({"name": "a", "sequence": "yes"}, TypeError),
        ({"name": "a", "loss_weight": -1.0}, ValueError),
        ({"name": "a", "num_classes": 3, "sequence": True, "crf": 1}, TypeError),
        ({"name": "a", "num_classes": 3, "crf": True}, ValueError),
        ({"name": "a", "sequence": True, "crf": True}, ValueError),
        (
            {
                "name": "a",
                "num_classes": 3,
                "sequence": True,
                "crf": True,
                "loss": "mse",
            },
            ValueError,
        ),
    ],
)
def test_bad_task_arguments(kwargs, error):
    with pytest.raises(error):
        Task(**kwargs)


def test_validate_tasks_errors():
    with pytest.raises(ValueError, match="at least one task"):
        validate_tasks([])
    with pytest.raises(ValueError, match="unique"):
        validate_tasks([Task("a"), Task("a", num_classes=2)])
    with pytest.raises(TypeError, match="Task"):
        validate_tasks(["a"])
    with pytest.raises(TypeError):
        validate_tasks("a")


def test_crf_task_config_round_trip_and_loss():
    task = Task("chunk", num_classes=5, sequence=True, crf=True)
    config = task.get_config()
    assert config["crf"] is True
    assert Task.from_config(config) == task
    assert Task.from_config({**config, "crf": False}) != task
    assert task.output_activation() is None
    assert isinstance(task.masked_loss(), CRFLoss)
    assert "crf=True" in repr(task)
    legacy = {k: v for k, v in Task("pos", 3, sequence=True).get_config().items()}
    legacy.pop("crf")  # configs saved before the option existed
    assert Task.from_config(legacy).crf is False
