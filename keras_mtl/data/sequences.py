"""Padding and length-bucketed batching of token sequences (backend-agnostic)."""

import math

import keras
import numpy as np


def pad_sequences(sequences, length=None, value=0, dtype="int32"):
    """Pads (or truncates) a list of 1-D integer sequences to one length.

    Args:
        sequences: list of lists/arrays of ints.
        length: int or None. Target length; defaults to the longest sequence.
        value: Fill value (0 for tokens, -1 for missing tag labels).
        dtype: Output dtype.

    Returns:
        A numpy array `(len(sequences), length)`.
    """
    length = length or max((len(s) for s in sequences), default=1)
    out = np.full((len(sequences), length), value, dtype=dtype)
    for i, seq in enumerate(sequences):
        seq = np.asarray(seq[:length], dtype=dtype)
        out[i, : len(seq)] = seq
    return out


class BucketedSequences(keras.utils.PyDataset):
    """Batches of padded sequences, grouped by length to cut padding.

    Examples are sorted into batches of similar length; each batch is padded
    to a multiple of `bucket_width` (so only a few distinct shapes are traced)
    and batches are shuffled every epoch. Works with `model.fit` on every
    backend.

    Args:
        x: numpy array `(N, T)` of token ids, 0 = padding; or a dict with
            such an array under `"tokens"` and other per-example arrays
            (e.g. `"task_id"`), batched alike.
        y: dict of label arrays: `(N, T)` per-token labels (padding -1) or
            `(N,)` per-sentence labels. May be `None` (inference).
        batch_size: int. Examples per batch. Defaults to `32`.
        bucket_width: int. Batch lengths are rounded up to a multiple of this.
            Defaults to `16`.
        shuffle: bool. Shuffle batch order (and examples within a length
            group) every epoch. Defaults to `True`.
        seed: int or None. Seed of the shuffling.
        one_task_per_batch: bool. With `x["task_id"]`, make every batch of
            one task's examples (as the Meta-LSTM paper trains; a
            `keras_mtl.layers.MetaLSTM` then runs that task's weights
            alone). Defaults to `False`.

    Example:

    >>> data = keras_mtl.data.conll2000(max_train_sentences=64)
    >>> batches = BucketedSequences(data.x_train, data.y_train, batch_size=32)
    >>> model = keras_mtl.models.hard_sharing(data.tasks, vocab_size=data.vocab_size,
    ...                                       units=16, embedding_dim=16)
    >>> history = model.fit(batches, epochs=1, verbose=0)
    """

    def __init__(
        self,
        x,
        y=None,
        batch_size=32,
        bucket_width=16,
        shuffle=True,
        seed=None,
        one_task_per_batch=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.extra = {}
        if isinstance(x, dict):
            self.extra = {k: np.asarray(v) for k, v in x.items() if k != "tokens"}
            x = x["tokens"]
        self.x = np.asarray(x)
        self.y = y
        if one_task_per_batch and "task_id" not in self.extra:
            raise ValueError(
                "`one_task_per_batch=True` needs `x` as a dict with a "
                "'task_id' array (task-indexed data)."
            )
        self.one_task_per_batch = one_task_per_batch
        self.batch_size = int(batch_size)
        self.bucket_width = int(bucket_width)
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.lengths = np.sum(self.x != 0, axis=1)
        self._make_batches()

    def _make_batches(self):
        jitter = self._rng.random(len(self.x)) if self.shuffle else 0
        order = np.argsort(self.lengths + jitter, kind="stable")
        groups = [order]
        if self.one_task_per_batch:
            tasks = self.extra["task_id"][order]
            groups = [order[tasks == task] for task in np.unique(tasks)]
        self._batches = [
            group[i : i + self.batch_size]
            for group in groups
            for i in range(0, len(group), self.batch_size)
        ]
        if self.shuffle:
            self._rng.shuffle(self._batches)
        self._vary_first_widths()

    def _vary_first_widths(self):
        """Makes batches 0 and 1 differ in width whenever any two batches do.

        Keras's TensorFlow adapter fixes every axis on which the first two
        batches agree; equal widths there would make a later, wider batch
        fail ("generator yielded an element of shape ...").
        """
        widths = [self._width(rows) for rows in self._batches]
        if len(widths) < 3 or widths[0] != widths[1]:
            return
        other = next((j for j, w in enumerate(widths) if w != widths[0]), None)
        if other is not None:
            batches = self._batches
            batches[1], batches[other] = batches[other], batches[1]

    def _width(self, rows):
        longest = max(int(self.lengths[rows].max()), 1)
        rounded = math.ceil(longest / self.bucket_width) * self.bucket_width
        return min(self.x.shape[1], rounded)

    def example_order(self):
        """Row indices of `x` in the order the batches yield them."""
        return np.concatenate(self._batches)

    def __len__(self):
        return len(self._batches)

    def __getitem__(self, index):
        rows = self._batches[index]
        width = self._width(rows)
        x = self.x[rows, :width]
        if self.extra:
            x = {"tokens": x, **{k: v[rows] for k, v in self.extra.items()}}
        if self.y is None:
            return (x,)
        y = {
            name: labels[rows, :width] if labels.ndim == 2 else labels[rows]
            for name, labels in self.y.items()
        }
        return x, y

    def on_epoch_end(self):
        if self.shuffle:
            self._make_batches()
