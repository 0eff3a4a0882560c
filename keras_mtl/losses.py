"""Losses that skip missing labels (the convention of `keras_mtl.Task`)."""

import keras
from keras import ops

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


@keras.saving.register_keras_serializable(package="keras_mtl")
class CRFLoss(keras.losses.Loss):
    """The negative log-likelihood of a `LinearChainCRF` task's labels.

    The loss of a `Task(..., crf=True)`: the negative log-likelihood of the
    labels of the sequences that have at least one label on an unmasked step
    (steps labelled `-1` are marginalised over; a sequence with no label
    contributes nothing), summed over the batch and divided by the number of
    labelled tokens (`normalize="token"`, the scale of a per-token softmax
    loss) or by the number of labelled sequences (`normalize="sequence"`).
    A batch with no labels gives 0. The loss reads the CRF's scores from the
    layer it is bound to (`bind`), which a `MultiTaskModel` does for each CRF
    task.

    Args:
        name: str. Name of the loss.
        crf: `LinearChainCRF` or None. The layer whose outputs are scored.
        normalize: `"token"` or `"sequence"`. What the summed negative
            log-likelihood is divided by. Defaults to `"token"`: a sentence's
            loss then weighs like the per-token losses of other tagging
            tasks; `"sequence"` weighs each sentence by its length.

    Example:

    >>> from keras_mtl.layers import LinearChainCRF
    >>> crf = LinearChainCRF()
    >>> outputs = crf(np.zeros((2, 3, 2)))
    >>> loss = CRFLoss(crf=crf)
    >>> round(float(loss(np.array([[0, 1, 1], [-1, -1, -1]]), outputs)), 4)
    0.6931
    >>> loss = CRFLoss(crf=crf, normalize="sequence")
    >>> round(float(loss(np.array([[0, 1, 1], [-1, -1, -1]]), outputs)), 4)
    2.0794
    """

    def __init__(self, name="crf_loss", crf=None, normalize="token", **kwargs):
        super().__init__(name=name, **kwargs)
        if normalize not in ("token", "sequence"):
            raise ValueError(
                "`normalize` must be 'token' or 'sequence'. "
                f"Received: normalize={normalize!r}"
            )
        self.crf = crf
        self.normalize = normalize

    def bind(self, crf):
        """A copy of this loss that scores the outputs of the layer `crf`."""
        return CRFLoss(name=self.name, crf=crf, normalize=self.normalize)

    def __call__(self, y_true, y_pred, sample_weight=None):
        values, weights = self.sequence_values(y_true, y_pred, sample_weight)
        total = ops.sum(values * weights)
        return total / ops.maximum(ops.sum(weights), 1e-12)

    def call(self, y_true, y_pred):
        return self.sequence_values(y_true, y_pred)[0]

    def sequence_values(self, y_true, y_pred, sample_weight=None):
        """Per-sequence values and weights, float32 `(batch,)`.

        The loss is `sum(values * weights) / sum(weights)`. A sequence's
        weight is 0 when none of its unmasked steps is labelled, else its
        sample weight (per-step weights are averaged over the labelled
        steps), or 1. With `normalize="token"` the value is the negative
        log-likelihood per labelled token and the weight is multiplied by the
        number of labelled tokens; with `"sequence"` the value is the
        sequence's negative log-likelihood.
        """
        if self.crf is None:
            raise ValueError(
                f"CRFLoss {self.name!r} is not bound to a LinearChainCRF layer: "
                "compile it in a MultiTaskModel, or pass crf=."
            )
        y_pred = ops.convert_to_tensor(y_pred)
        labels = _sequence_labels(y_true, ops.shape(y_pred)[:-1])
        present = ops.greater_equal(self.crf.decoded_tags(y_pred), 0)
        labelled = ops.cast(
            ops.logical_and(present, ops.greater_equal(labels, 0)), "float32"
        )
        values = self.crf.negative_log_likelihood(labels, y_pred)
        count = ops.sum(labelled, axis=-1)
        weights = ops.cast(ops.greater(count, 0), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            if len(sample_weight.shape) > 1:
                step_weights = ops.reshape(sample_weight, ops.shape(labelled))
                summed = ops.sum(step_weights * labelled, axis=-1)
                sample_weight = summed / ops.maximum(count, 1.0)
            weights = weights * ops.reshape(sample_weight, ops.shape(weights))
        if self.normalize == "token":
            values = values / ops.maximum(count, 1.0)
            weights = weights * count
        return values, weights

    def get_config(self):
        return {"name": self.name, "normalize": self.normalize}


def _sequence_labels(y_true, shape):
    """int32 labels of `shape`, NaN (as well as any negative id) as -1."""
    y_true = ops.convert_to_tensor(y_true)
    if "float" in str(y_true.dtype):
        y_true = ops.where(ops.isnan(y_true), -ops.ones_like(y_true), y_true)
    y_true = ops.reshape(ops.cast(y_true, "int32"), shape)
    return ops.where(ops.less(y_true, 0), -ops.ones_like(y_true), y_true)
