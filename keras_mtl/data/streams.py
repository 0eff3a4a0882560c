"""Batching of multi-task `tf.data` streams: padding and length buckets."""

import numpy as np

from keras_mtl.data.mixing import label_dtype, missing_label


def padding_values(element_spec, tasks):
    """Padding of an `(x, y_dict)` element: 0 for inputs, missing for labels."""
    import tensorflow as tf

    x_spec, y_spec = element_spec
    by_name = {t.name: t for t in tasks}
    x_pad = tf.nest.map_structure(lambda s: tf.constant(0, s.dtype), x_spec)
    y_pad = {
        name: tf.constant(missing_label(by_name[name]), label_dtype(by_name[name]))
        for name in y_spec
    }
    return x_pad, y_pad


def token_length(x):
    """The number of time steps of an example's tokens (`x` or `x["tokens"]`)."""
    import tensorflow as tf

    tokens = x["tokens"] if isinstance(x, dict) else x
    return tf.shape(tokens, out_type=tf.int64)[0]


def batch_stream(
    dataset,
    tasks,
    *,
    batch_size=32,
    tokens=False,
    bucket_width=16,
    drop_remainder=False,
):
    """Batches an unbatched `(x, y_dict)` stream with the missing-label padding.

    Token streams are grouped by length: every batch holds examples of one
    length bucket (a multiple of `bucket_width`) and is padded to that
    width (tokens with 0, labels with -1), so only a few shapes occur.
    Other streams are padded to the longest example of each batch.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(x, y_dict)`.
        tasks: list of `Task`: the padding value of each label.
        batch_size: int. Examples per batch. Defaults to `32`.
        tokens: bool. `x` (or `x["tokens"]`) is a token sequence: bucket it.
        bucket_width: int. Width granularity of the buckets. Defaults to `16`.
        drop_remainder: bool. Drop a last, smaller batch (per bucket).

    Returns:
        A batched `tf.data.Dataset`.
    """
    import tensorflow as tf

    padding = padding_values(dataset.element_spec, tasks)
    if not tokens:
        return dataset.padded_batch(
            batch_size, padding_values=padding, drop_remainder=drop_remainder
        )
    width_step = tf.constant(int(bucket_width), tf.int64)

    def key(x, y):
        return (token_length(x) + width_step - 1) // width_step

    def reduce(bucket, window):
        width = tf.maximum(bucket, 1) * width_step
        shapes = tf.nest.map_structure(
            lambda spec: _padded_shape(spec, width), dataset.element_spec
        )
        return window.padded_batch(
            batch_size,
            padded_shapes=shapes,
            padding_values=padding,
            drop_remainder=drop_remainder,
        )

    return dataset.group_by_window(key, reduce, window_size=batch_size)


def _padded_shape(spec, width):
    import tensorflow as tf

    # The time axis (the first, of tokens and per-token labels) is the width.
    dims = spec.shape.as_list()
    if not dims:
        return tf.zeros([0], tf.int64)
    return tf.stack([width] + [tf.constant(d, tf.int64) for d in dims[1:]])


def trim_padding(x, y, tasks):
    """Drops an array example's 0-padding (tokens) and −1-padding (labels)."""
    import tensorflow as tf

    tokens = x["tokens"] if isinstance(x, dict) else x
    length = tf.maximum(tf.reduce_sum(tf.cast(tokens != 0, tf.int32)), 1)
    if isinstance(x, dict):
        x = {**x, "tokens": x["tokens"][:length]}
    else:
        x = x[:length]
    by_name = {t.name: t for t in tasks}
    y = {
        name: labels[:length] if by_name[name].sequence else labels
        for name, labels in y.items()
    }
    return x, y


def as_tensors(x, y):
    """numpy `(x, y)` → what `tf.data.Dataset.from_tensor_slices` takes."""
    if isinstance(x, dict):
        x = {k: np.asarray(v) for k, v in x.items()}
    return x, {k: np.asarray(v) for k, v in y.items()}
