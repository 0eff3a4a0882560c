"""Losses that skip missing labels (the convention of `keras_mtl.Task`)."""

import keras

from keras_mtl.labels import mask_labels


@keras.saving.register_keras_serializable(package="keras_mtl")
class MaskedLoss(keras.losses.Loss):
    """Wraps a Keras loss so that missing labels contribute nothing.

    The value is the mean of the wrapped loss over the labelled entries of
    the batch (labels `-1` for classification, `NaN` for regression are
    skipped; so is sequence padding labelled `-1`), which equals the wrapped
    loss on the labelled subset alone. A batch with no labels gives 0.

    Args:
        loss: A Keras loss: name, function, or `keras.losses.Loss` (whose
            `call` gives per-example values).
        classification: bool. `True` for integer class labels, `False` for
            real-valued labels.
        name: str. Name of the loss.

    Example:

    >>> loss = MaskedLoss("sparse_categorical_crossentropy", classification=True)
    >>> float(loss(np.array([1, -1]), np.array([[0.5, 0.5], [0.9, 0.1]])))
    0.693...
    """

    def __init__(self, loss, classification, name="masked_loss", **kwargs):
        kwargs["reduction"] = "mean_with_sample_weight"
        super().__init__(name=name, **kwargs)
        self.loss = keras.losses.get(loss)
        if self.loss is None:
            raise ValueError(f"Unknown `loss`. Received: loss={loss!r}")
        self.classification = bool(classification)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_clean, weights = mask_labels(
            y_true, y_pred, self.classification, sample_weight
        )
        return super().__call__(y_clean, y_pred, sample_weight=weights)

    def call(self, y_true, y_pred):
        if isinstance(self.loss, keras.losses.Loss):
            return self.loss.call(y_true, y_pred)
        return self.loss(y_true, y_pred)

    def get_config(self):
        return {
            "loss": keras.saving.serialize_keras_object(self.loss),
            "classification": self.classification,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)
