"""Batching of multi-task `tf.data` streams: padding and length buckets."""

import numpy as np

from keras_mtl.arguments import check_int
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
    shuffle=False,
    seed=None,
    sort_window=10_000,
    cache=False,
):
    """Batches an unbatched `(x, y_dict)` stream with the missing-label padding.

    Token streams are batched as `keras_mtl.data.BucketedSequences` batches
    arrays: every `sort_window` examples are sorted by length, cut into
    batches of consecutive examples, and each batch is padded (tokens with
    0, labels with -1) to its longest example rounded up to a multiple of
    `bucket_width`. So only a few batch shapes occur (a compiled train step
    each on JAX) and a finite stream has one smaller batch per pass, at its
    end. All of it runs once per window, not once per example, so a cached
    stream costs little per pass. Other streams are padded to the longest
    example of each batch.

    Args:
        dataset: unbatched `tf.data.Dataset` of `(x, y_dict)`.
        tasks: list of `Task`: the padding value of each label.
        batch_size: int. Examples per batch. Defaults to `32`.
        tokens: bool. `x` (or `x["tokens"]`) is a token sequence: bucket it.
        bucket_width: int. Width granularity of the buckets. Defaults to `16`.
        drop_remainder: bool. Drop a smaller last batch (of each sort window).
        shuffle: bool. Token streams: shuffle every window's examples before
            sorting them (so ties and batches differ every pass) and the
            order of its batches, seeded by `seed`, anew every pass. Other
            streams are batched in order. Defaults to `False`.
        seed: int or None. Seed of `shuffle`.
        sort_window: int. Token examples sorted together, rounded up to a
            multiple of `batch_size`. Defaults to `10_000`.
        cache: bool or str. Token streams: keep the padded windows after the
            first pass, in memory (`True`) or in files with this prefix (a
            str); later passes only shuffle, sort and cut them. A window's
            examples stay together from then on. Defaults to `False`.

    Returns:
        A batched `tf.data.Dataset`.
    """
    import tensorflow as tf

    padding = padding_values(dataset.element_spec, tasks)
    if not tokens:
        return dataset.padded_batch(
            batch_size, padding_values=padding, drop_remainder=drop_remainder
        )
    batch_size, step = int(batch_size), int(bucket_width)
    window = -(-max(int(sort_window), 1) // batch_size) * batch_size
    windows = dataset.map(lambda x, y: (x, y, token_length(x))).padded_batch(
        window, padding_values=(*padding, tf.constant(0, tf.int64))
    )

    def widen(x, y, lengths):
        # Room for every batch width: the longest example, rounded up.
        full = _round_up(tf.reduce_max(lengths), step)
        x, y = tf.nest.map_structure(
            lambda t, value: _pad_time(t, full, value), (x, y), padding
        )
        return x, y, lengths

    windows = windows.map(widen)
    if cache:
        windows = windows.cache("" if cache is True else str(cache))

    def split(x, y, lengths, key=None):
        order = tf.range(tf.size(lengths))
        if key is not None:
            order = _permutation(tf.size(lengths), [key, 0])
        # Stable: equal lengths keep the (shuffled) order.
        order = tf.gather(order, tf.argsort(tf.gather(lengths, order), stable=True))
        # One gather per pass; each batch is then a slice of the sorted rows.
        rows = tf.nest.map_structure(lambda t: tf.gather(t, order), (x, y))
        count = tf.size(order)
        longest = tf.math.segment_max(
            tf.gather(lengths, order), tf.range(count) // batch_size
        )
        last = tf.maximum(count - batch_size + 1, 0) if drop_remainder else count
        starts = tf.range(0, last, batch_size)
        widths = _round_up(longest[: tf.size(starts)], step)
        if key is not None:
            shuffled = _permutation(tf.size(starts), [key, 1])
            starts, widths = tf.gather(starts, shuffled), tf.gather(widths, shuffled)

        def take(start, width):
            return tf.nest.map_structure(
                lambda t: _cut(t[start : start + batch_size], width), rows
            )

        return tf.data.Dataset.from_tensor_slices((starts, widths)).map(take)

    if not shuffle:
        return windows.flat_map(split)
    # One seed per window and pass (the same sequence for a given `seed`).
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(windows, keys).flat_map(
        lambda window, key: split(*window, key)
    )


def finish_stream(dataset, threads=1):
    """Prefetches a batched stream and sizes its `tf.data` thread pool.

    Args:
        dataset: batched `tf.data.Dataset`.
        threads: int or None. Threads of the stream's own pool, autotuning
            off. The default `1` leaves the other cores to the training
            step: on 2 cores tf.data's autotuned pool slowed a cached demo
            epoch by 5–10 % (JAX) and up to 40 % under load (torch), against
            ±5 % with one thread. `None` keeps tf.data's defaults (for
            streams that do heavy work every pass).

    Returns:
        The prefetched `tf.data.Dataset`.
    """
    import tensorflow as tf

    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if threads is None:
        return dataset
    options = tf.data.Options()
    options.threading.private_threadpool_size = check_int(threads, "threads")
    options.autotune.enabled = False
    return dataset.with_options(options)


def _permutation(size, seed):
    import tensorflow as tf

    return tf.argsort(tf.random.stateless_uniform([size], seed), stable=True)


def _round_up(length, step):
    import tensorflow as tf

    return (tf.maximum(length, 1) + step - 1) // step * step


def _pad_time(tensor, width, value):
    """Pads the time axis (axis 1 of a batch) of `tensor` to `width`."""
    import tensorflow as tf

    if tensor.shape.rank < 2:
        return tensor
    extra = width - tf.shape(tensor, out_type=tf.int64)[1]
    paddings = [[0, 0], [0, extra]] + [[0, 0]] * (tensor.shape.rank - 2)
    return tf.pad(tensor, paddings, constant_values=value)


def _cut(tensor, width):
    return tensor if tensor.shape.rank < 2 else tensor[:, :width]


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
