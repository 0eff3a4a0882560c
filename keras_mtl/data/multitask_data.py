"""`MultiTaskData`: the one object every bundled loader returns."""

import warnings

import numpy as np

from keras_mtl.data.mixing import label_dtype, mix
from keras_mtl.data.sequences import BucketedSequences
from keras_mtl.data.streams import (
    as_tensors,
    batch_stream,
    finish_stream,
    trim_padding,
)


class MultiTaskData:
    """A multi-task dataset: its tasks, splits and metadata, as arrays or streams.

    Labels follow the missing-label convention (`-1` / `NaN` where an example
    has no label for a task). Data in which each example belongs to one task
    (FDU-MTL, Office-Caltech, School, the computer survey) also keep every
    example's task index, and `dataset(..., sampling=...)` then mixes the
    per-task data with `keras_mtl.data.mix`.

    Args:
        tasks: list of `keras_mtl.Task`.
        splits: dict split name → `(x, y)`: `x` an array (or a dict of
            arrays, e.g. `{"tokens", "task_id"}`), `y` a dict task name →
            label array.
        task_ids: dict split name → `(n,)` int32 task index of every example,
            for task-indexed data. Defaults to none.
        vocabulary: list of str or None. Token strings, index = token id.
        metadata: dict. Anything else the loader knows (tag names, domains).
        legacy: what the loader used to return; reading the object as that
            (`data["train"]`, `(x, y), (x_test, y_test) = data`) still works,
            with a `DeprecationWarning`.

    Example:

    >>> data = MultiTaskData(
    ...     [Task("a", num_classes=2)],
    ...     {"train": (np.zeros((4, 3), "float32"), {"a": np.array([0, 1, 1, 0])})})
    >>> x, y = data.arrays("train")
    >>> x.shape, data.split_names
    ((4, 3), ['train'])
    >>> batch_x, batch_y = next(iter(data.dataset("train", batch_size=2)))
    >>> batch_x.shape
    TensorShape([2, 3])
    """

    def __init__(
        self,
        tasks,
        splits,
        *,
        task_ids=None,
        vocabulary=None,
        metadata=None,
        legacy=None,
    ):
        self.tasks = list(tasks)
        self._splits = dict(splits)
        self.task_ids = dict(task_ids or {})
        self.vocabulary = vocabulary
        self.metadata = dict(metadata or {})
        self._legacy = legacy

    @property
    def split_names(self):
        """The names of the splits, e.g. `["train", "test"]`."""
        return list(self._splits)

    @property
    def vocab_size(self):
        """Number of token ids (token data), else `None`."""
        return None if self.vocabulary is None else len(self.vocabulary)

    @property
    def is_tokens(self):
        """Whether the input is integer token sequences (0 = padding)."""
        x = self._inputs(self.split_names[0])
        return self.vocabulary is not None and np.issubdtype(x.dtype, np.integer)

    def _inputs(self, split):
        x = self._splits[split][0]
        return x["tokens"] if isinstance(x, dict) else x

    def _check_split(self, split):
        if split not in self._splits:
            raise ValueError(
                f"`split` must be one of {self.split_names}. Received: split={split!r}"
            )

    def arrays(self, split="train", task=None):
        """`(x, y)` numpy arrays of a split, or of one task's examples in it.

        Args:
            split: str. A name in `split_names`. Defaults to `"train"`.
            task: str or None. Keep only the examples of this task
                (task-indexed data) — its own test set, for instance.
        """
        self._check_split(split)
        x, y = self._splits[split]
        if task is None:
            return x, y
        rows = self._task_rows(split, task)
        take = {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]
        return take, {k: v[rows] for k, v in y.items()}

    def _task_rows(self, split, task):
        names = [t.name for t in self.tasks]
        if task not in names:
            raise ValueError(f"`task` must be one of {names}. Received: task={task!r}")
        if split not in self.task_ids:
            raise ValueError(
                f"`task=` needs task-indexed data; split {split!r} has no task ids."
            )
        return np.flatnonzero(self.task_ids[split] == names.index(task))

    def batches(
        self,
        split="train",
        batch_size=32,
        shuffle=None,
        seed=None,
        one_task_per_batch=False,
    ):
        """Length-bucketed `BucketedSequences` of a token split (any backend).

        `one_task_per_batch=True` (task-indexed data) makes every batch of
        one task's examples, as the Meta-LSTM paper trains.
        """
        self._check_split(split)
        x, y = self._splits[split]
        shuffle = split == "train" if shuffle is None else shuffle
        return BucketedSequences(
            x,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            one_task_per_batch=one_task_per_batch,
        )

    def dataset(
        self,
        split="train",
        *,
        batch_size=32,
        shuffle=None,
        seed=None,
        sampling=None,
        temperature=None,
    ):
        """A batched `tf.data.Dataset` of `(x, y_dict)` for `fit`/`evaluate`.

        Token splits drop their padding per example and are length-bucketed
        (see `keras_mtl.data.streams.batch_stream`).

        Args:
            split: str. Defaults to `"train"`.
            batch_size: int. Defaults to `32`.
            shuffle: bool or None. Defaults to `True` for `"train"`.
            seed: int or None. Seed of shuffling and sampling.
            sampling: None, or `"proportional"`, `"uniform"`, `"temperature"`:
                mix the per-task data of a task-indexed split into an
                **endless** stream (pass `steps_per_epoch` to `fit`).
            temperature: float. For `sampling="temperature"`.
        """
        import tensorflow as tf

        self._check_split(split)
        shuffle = split == "train" if shuffle is None else shuffle
        if sampling is not None:
            stream = self._mixed(split, sampling, temperature, seed)
        else:
            stream = tf.data.Dataset.from_tensor_slices(
                as_tensors(*self._splits[split])
            )
            if shuffle:
                stream = stream.shuffle(
                    len(self._splits[split][1][self.tasks[0].name]),
                    seed=seed,
                    reshuffle_each_iteration=True,
                )
        stream = stream.map(self._cast_labels)
        if self.is_tokens:
            stream = stream.map(lambda x, y: trim_padding(x, y, self.tasks))
        stream = batch_stream(
            stream,
            self.tasks,
            batch_size=batch_size,
            tokens=self.is_tokens,
            shuffle=shuffle,
            seed=seed,
            cache=sampling is None,
        )
        return finish_stream(stream)

    def _cast_labels(self, x, y):
        import tensorflow as tf

        dtypes = {t.name: label_dtype(t) for t in self.tasks}
        return x, {name: tf.cast(v, dtypes[name]) for name, v in y.items()}

    def _mixed(self, split, sampling, temperature, seed):
        import tensorflow as tf

        streams = []
        for task in self.tasks:
            x, y = self.arrays(split, task=task.name)
            streams.append(
                tf.data.Dataset.from_tensor_slices(
                    as_tensors(x, {task.name: y[task.name]})
                ).shuffle(len(y[task.name]), seed=seed)
            )
        return mix(
            streams,
            tasks=self.tasks,
            sampling=sampling,
            temperature=temperature,
            seed=seed,
            sizes=[
                int(np.sum(self.task_ids[split] == m)) for m in range(len(self.tasks))
            ],
        )

    def _legacy_value(self):
        if self._legacy is None:
            raise TypeError(
                f"{type(self).__name__} is not a sequence: use `.arrays(split)`, "
                "`.dataset(split)` or `.tasks`."
            )
        warnings.warn(
            "Reading a loader's result as a tuple or dict is deprecated: use "
            "`.arrays(split)`, `.dataset(split)`, `.tasks` and `.vocabulary`.",
            DeprecationWarning,
            stacklevel=3,
        )
        return self._legacy

    def __iter__(self):
        return iter(self._legacy_value())

    def __getitem__(self, key):
        return self._legacy_value()[key]

    def __len__(self):
        return len(self._legacy_value())

    def __bool__(self):
        return True

    def __repr__(self):
        sizes = {s: len(next(iter(y.values()))) for s, (_, y) in self._splits.items()}
        names = [t.name for t in self.tasks]
        shown = names if len(names) <= 6 else names[:5] + ["..."]
        return f"<{type(self).__name__} tasks={shown} examples={sizes}>"
