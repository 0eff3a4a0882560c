"""Metrics that skip missing labels (the convention of `keras_mtl.Task`)."""

import keras
from keras import ops

from keras_mtl.labels import as_expected_labels, mask_labels, wants_sparse_labels


def _resolve_metric(metric, classification):
    if isinstance(metric, keras.metrics.Metric):
        return metric.__class__.from_config(metric.get_config())
    if classification and metric in ("accuracy", "acc"):
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    fn = keras.metrics.get(metric)
    if isinstance(fn, keras.metrics.Metric):
        return fn
    name = metric if isinstance(metric, str) else fn.__name__
    return keras.metrics.MeanMetricWrapper(fn, name=name)


@keras.saving.register_keras_serializable(package="keras_mtl")
class MaskedMetric(keras.metrics.Metric):
    """Wraps a Keras metric so that missing labels are not counted.

    The wrapped metric receives the labelled entries only (as sample
    weights), so over a dataset its value equals the wrapped metric computed
    on the labelled subset alone. It keeps the wrapped metric's name, so logs
    read `<task>_accuracy`. Until it has seen a labelled entry its result is
    NaN (not the wrapped metric's 0, which would read as a perfect error).

    Class labels are integer ids; a metric on probabilities (AUC, precision,
    recall, binary accuracy) gets the positive class of a 2-class task (id
    1, against its probability), or one-hot labels for more classes.

    Args:
        metric: A Keras metric: name, function or `keras.metrics.Metric`.
            For classification, `"accuracy"` means sparse categorical
            accuracy.
        classification: bool. `True` for integer class labels.

    Example:

    >>> m = MaskedMetric("accuracy", classification=True)
    >>> m.update_state(np.array([1, -1]), np.array([[0.2, 0.8], [0.9, 0.1]]))
    >>> float(m.result())
    1.0
    """

    def __init__(self, metric, classification, name=None, dtype=None):
        inner = _resolve_metric(metric, classification)
        default_name = metric if isinstance(metric, str) else inner.name
        super().__init__(name=name or default_name, dtype=dtype)
        self.metric = inner
        self.classification = bool(classification)
        self.sparse = wants_sparse_labels(inner)
        self.labelled = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="labelled"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_clean, weights = mask_labels(
            y_true, y_pred, self.classification, sample_weight
        )
        if self.classification:
            y_clean, y_pred = as_expected_labels(y_clean, y_pred, self.sparse)
        self.labelled.assign_add(ops.sum(weights))
        self.metric.update_state(y_clean, y_pred, sample_weight=weights)

    def result(self):
        value = ops.cast(self.metric.result(), "float32")
        return ops.where(self.labelled > 0, value, float("nan"))

    def reset_state(self):
        self.labelled.assign(0.0)
        self.metric.reset_state()

    def get_config(self):
        return {
            "metric": keras.saving.serialize_keras_object(self.metric),
            "classification": self.classification,
            "name": self.name,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["metric"] = keras.saving.deserialize_keras_object(config["metric"])
        return cls(**config)


class TaskLossMean(keras.metrics.Metric):
    """The mean of a task's masked loss over every labelled entry seen.

    Keras logs a task's loss as the mean of its per-batch values, so a batch
    without labels for the task counts as a loss of 0 and the logged value
    depends on the batch size. This metric sums the loss over labelled
    entries and divides by their count: the loss on the labelled subset,
    whatever the batching. NaN until a labelled entry is seen.

    A CRF task's loss is per sequence: its model passes the per-sequence
    values and weights to `update_from_values` (from `compute_loss`, where
    the CRF's weights are current on every backend) instead.

    Args:
        loss: `MaskedLoss` or `CRFLoss`. The task's compiled loss.
        name: str. Log name, e.g. `"pos_loss"`.
    """

    def __init__(self, loss, name, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.loss = loss
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_clean, weights = mask_labels(
            y_true, y_pred, self.loss.classification, sample_weight
        )
        self.update_from_values(self.loss.call(y_clean, y_pred), weights)

    def update_from_values(self, values, weights):
        """Adds loss `values` with their `weights` (same shape) to the mean."""
        values, weights = ops.cast(values, "float32"), ops.cast(weights, "float32")
        self.total.assign_add(ops.sum(values * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        mean = self.total / ops.maximum(self.count, 1e-12)
        return ops.where(self.count > 0, mean, float("nan"))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)
