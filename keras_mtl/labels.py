"""The missing-label convention, shared by masked losses and metrics.

A classification label `-1` (any negative label) and a regression label `NaN`
mean "no label here". These helpers turn raw labels into clean labels plus a
float weight that is 1 on labelled entries and 0 elsewhere, and present
class labels in the form a wrapped Keras loss or metric expects.
"""

from keras import ops


def mask_labels(y_true, y_pred, classification, sample_weight=None):
    """Splits labels into (clean labels, weights) per the missing-label rule.

    Args:
        y_true: Labels. Classification: integer class ids shaped like
            `y_pred` without its last axis (a trailing axis of 1 is allowed).
            Regression: values shaped like `y_pred` (or without its last axis).
        y_pred: Predictions `(..., units)`.
        classification: bool. Which convention applies.
        sample_weight: Optional weights broadcastable from the left over the
            label shape (e.g. `(batch,)`).

    Returns:
        `(y_clean, weights)`: `y_clean` holds a harmless value (0) wherever the
        label is missing; `weights` (float32, shaped like `y_pred` without its
        last axis) is 0 there and `sample_weight` (or 1) elsewhere.
    """
    if classification:
        y_true = ops.reshape(y_true, ops.shape(y_pred)[:-1])
        if "float" in str(y_true.dtype):
            present = ops.logical_not(ops.isnan(y_true))
            y_true = ops.where(present, y_true, -ops.ones_like(y_true))
        y_true = ops.cast(y_true, "int32")
        labelled = ops.greater_equal(y_true, 0)
        y_clean = ops.where(labelled, y_true, ops.zeros_like(y_true))
    else:
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        present = ops.logical_not(ops.isnan(y_true))
        y_clean = ops.where(present, y_true, ops.zeros_like(y_true))
        labelled = ops.all(present, axis=-1)
    weights = ops.cast(labelled, "float32")
    if sample_weight is not None:
        sample_weight = ops.cast(sample_weight, "float32")
        while len(sample_weight.shape) < len(weights.shape):
            sample_weight = ops.expand_dims(sample_weight, -1)
        weights = weights * sample_weight
    return y_clean, weights


def wants_sparse_labels(fn):
    """Whether a Keras loss or metric takes integer class ids (`sparse_*`).

    Args:
        fn: A resolved Keras loss/metric: function, `Loss` or `Metric`.

    Returns:
        `True` for sparse categorical losses and metrics (integer class ids
        against class probabilities), `False` for those that compare
        probabilities with binary or one-hot labels (binary cross-entropy,
        AUC, precision, recall, ...).
    """
    inner = getattr(fn, "_fn", None) or getattr(fn, "fn", None)
    names = [type(fn).__name__, getattr(fn, "__name__", ""), getattr(fn, "name", "")]
    names.append(getattr(inner, "__name__", ""))
    return any("sparse" in str(name).lower() for name in names)


def as_expected_labels(y_clean, y_pred, sparse):
    """Class ids and probabilities in the form a wrapped loss/metric expects.

    Args:
        y_clean: int class ids shaped like `y_pred` without its last axis.
        y_pred: class probabilities `(..., num_classes)`.
        sparse: bool. The wrapped function takes class ids (`sparse_*`).

    Returns:
        `(labels, predictions)`: unchanged for sparse functions; for a
        2-class task the positive class (id 1) as a binary label `(..., 1)`
        against its probability `y_pred[..., 1:]` (binary cross-entropy,
        AUC, precision, recall); for more classes one-hot labels.
    """
    if sparse:
        return y_clean, y_pred
    num_classes = y_pred.shape[-1]
    if num_classes == 2:
        labels = ops.expand_dims(ops.cast(y_clean, y_pred.dtype), -1)
        return labels, y_pred[..., 1:]
    return ops.one_hot(y_clean, num_classes, dtype=y_pred.dtype), y_pred
