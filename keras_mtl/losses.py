"""Losses that skip missing labels (the convention of `keras_mtl.Task`)."""

import keras

from keras_mtl.labels import as_expected_labels, mask_labels, wants_sparse_labels


@keras.saving.register_keras_serializable(package="keras_mtl")
class MaskedLoss(keras.losses.Loss):
    """Wraps a Keras loss so that missing labels contribute nothing.

    The value is the mean of the wrapped loss over the labelled entries of
    the batch (labels `-1` for classification, `NaN` for regression are
    skipped; so is sequence padding labelled `-1`), which equals the wrapped
    loss on the labelled subset alone. A batch with no labels gives 0.

    Class labels are integer ids. A loss that compares probabilities with
    binary or one-hot labels (`"binary_crossentropy"`, `"categorical_*"`,
    hinge losses) gets the positive class of a 2-class task (id 1, against
    its probability) or one-hot labels, so any Keras loss works on the
    task's softmax output.

    Args:
        loss: A Keras loss: name, function, or `keras.losses.Loss` (whose
            `call` gives per-example values).
        classification: bool. `True` for integer class labels, `False` for
            real-valued labels.
        name: str. Name of the loss.

    Example:

    >>> loss = MaskedLoss("sparse_categorical_crossentropy", classification=True)
    >>> y_pred = np.array([[0.5, 0.5], [0.9, 0.1]])
    >>> round(float(loss(np.array([1, -1]), y_pred)), 4)
    0.6931
    >>> binary = MaskedLoss("binary_crossentropy", classification=True)
    >>> round(float(binary(np.array([1, -1]), y_pred)), 4)
    0.6931
    """

    def __init__(self, loss, classification, name="masked_loss", **kwargs):
        kwargs["reduction"] = "mean_with_sample_weight"
        super().__init__(name=name, **kwargs)
        self.loss = keras.losses.get(loss)
        if self.loss is None:
            raise ValueError(f"Unknown `loss`. Received: loss={loss!r}")
        self.classification = bool(classification)
        self.sparse = wants_sparse_labels(self.loss)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_clean, weights = mask_labels(
            y_true, y_pred, self.classification, sample_weight
        )
        return super().__call__(y_clean, y_pred, sample_weight=weights)

    def call(self, y_true, y_pred):
        if self.classification:
            y_true, y_pred = as_expected_labels(y_true, y_pred, self.sparse)
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
