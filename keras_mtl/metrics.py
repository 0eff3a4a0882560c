"""Metrics that skip missing labels (the convention of `keras_mtl.Task`)."""

import keras

from keras_mtl.labels import mask_labels


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
    read `<task>_accuracy`.

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

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_clean, weights = mask_labels(
            y_true, y_pred, self.classification, sample_weight
        )
        self.metric.update_state(y_clean, y_pred, sample_weight=weights)

    def result(self):
        return self.metric.result()

    def reset_state(self):
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
