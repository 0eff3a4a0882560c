"""Per-task data → one multi-task stream with the missing-label convention."""

import numpy as np

from keras_mtl.arguments import check_choice
from keras_mtl.task import Task

SAMPLINGS = ("proportional", "uniform", "temperature")


def missing_label(task):
    """The "no label here" value of `task`: `-1` (classification) or `NaN`."""
    return -1 if task.num_classes else np.nan


def label_dtype(task):
    """`"int32"` for classification labels, `"float32"` for regression."""
    return "int32" if task.num_classes else "float32"


def stack_tasks(parts, tasks):
    """Stacks per-task numpy data into one task-indexed multi-task set.

    Args:
        parts: list of `(x_t, y_t)` in task order: task t's examples `x_t`
            (an array, or a dict of arrays) and their labels `y_t` for task t.
        tasks: list of `Task`, one per part.

    Returns:
        `(x, y, task_ids)`: the examples of all parts concatenated, a dict task
        name → labels holding each task's label on its own examples and the
        missing-label value (`-1` or `NaN`) elsewhere, and the `(n,)` int32
        task index of every example.

    Example:

    >>> x, y, ids = stack_tasks(
    ...     [(np.zeros((2, 3)), np.array([1, 0])), (np.ones((1, 3)), np.array([2.5]))],
    ...     [Task("a", num_classes=2), Task("b")])
    >>> y["a"].tolist(), y["b"].tolist(), ids.tolist()
    ([1, 0, -1], [nan, nan, 2.5], [0, 0, 1])
    """
    tasks = _check_tasks(tasks)
    if len(parts) != len(tasks):
        raise ValueError(
            f"`parts` must hold one `(x, y)` per task ({len(tasks)}). "
            f"Received: {len(parts)} parts"
        )
    sizes = [len(np.asarray(y)) for _, y in parts]
    task_ids = np.repeat(np.arange(len(tasks), dtype="int32"), sizes)
    if isinstance(parts[0][0], dict):
        x = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    else:
        x = np.concatenate([np.asarray(p[0]) for p in parts])
    y = {}
    for t, task in enumerate(tasks):
        labels = [
            np.asarray(part[1], label_dtype(task))
            if t == m
            else np.full((n,) + np.shape(part[1])[1:], missing_label(task))
            for m, (part, n) in enumerate(zip(parts, sizes))
        ]
        y[task.name] = np.concatenate(labels).astype(label_dtype(task))
    return x, y, task_ids


def sampling_weights(sizes, sampling="proportional", temperature=None):
    """Task sampling probabilities from dataset sizes.

    `"proportional"`: ∝ size; `"uniform"`: equal; `"temperature"`:
    ∝ size^(1/temperature) (1 is proportional, large values approach uniform).

    Example:

    >>> sampling_weights([100, 300], "temperature", temperature=2.0).round(3)
    array([0.366, 0.634])
    """
    check_choice(sampling, "sampling", SAMPLINGS)
    if (temperature is not None) != (sampling == "temperature"):
        raise ValueError(
            "`temperature` must be given with sampling='temperature' (and only "
            f"then). Received: sampling={sampling!r}, temperature={temperature!r}"
        )
    if sampling == "temperature" and not float(temperature) > 0:
        raise ValueError(
            f"`temperature` must be > 0. Received: temperature={temperature!r}"
        )
    if sampling == "uniform":
        return np.full(len(sizes), 1.0 / len(sizes))
    sizes = np.asarray(sizes, dtype="float64")
    if sizes.ndim != 1 or not np.all(sizes > 0):
        raise ValueError(
            f"Dataset sizes must be positive numbers. Received: sizes={sizes.tolist()}"
        )
    power = 1.0 if sampling == "proportional" else 1.0 / float(temperature)
    weights = sizes**power
    return weights / weights.sum()


def mix(
    datasets,
    *,
    tasks,
    sampling="proportional",
    temperature=None,
    seed=None,
    sizes=None,
    task_id=False,
):
    """Mixes per-task `tf.data.Dataset`s into one endless multi-task stream.

    Every dataset holds the examples of one task, as `(x, {task: y})` (or
    `(x, y)`). The result is an unbatched, endless stream of `(x, y_dict)`:
    each example carries its own task's label and the missing-label value
    (`-1` for classification, `NaN` for regression; for sequence tasks a
    `-1` per token of `x`) for every other task. Batch it and give `fit` a
    `steps_per_epoch`.

    Args:
        datasets: dict task name → `tf.data.Dataset`, or a list in the order
            of `tasks`.
        tasks: list of `keras_mtl.Task`.
        sampling: `"proportional"` (to dataset sizes), `"uniform"` or
            `"temperature"` (∝ size^(1/temperature)). Defaults to
            `"proportional"`.
        temperature: float > 0. Required with `sampling="temperature"`.
        seed: int or None. Seed of the task sampling.
        sizes: list of ints or None. Dataset sizes in task order; defaults to
            each dataset's cardinality (needed when that is unknown).
        task_id: bool. Add the example's task index: `x` becomes
            `{"tokens": x, "task_id": t}` (a dict `x` gets a `"task_id"`
            key), the inputs of `keras_mtl.models.meta_lstm`. Defaults to
            `False`.

    Returns:
        An endless `tf.data.Dataset` of `(x, y_dict)`.

    Example:

    >>> import tensorflow as tf
    >>> tasks = [Task("a", num_classes=2), Task("b", num_classes=3)]
    >>> a = tf.data.Dataset.from_tensor_slices(([[1.0], [2.0]], {"a": [0, 1]}))
    >>> b = tf.data.Dataset.from_tensor_slices(([[3.0]], {"b": [2]}))
    >>> stream = mix({"a": a, "b": b}, tasks=tasks, sampling="uniform", seed=0)
    >>> x, y = next(iter(stream.batch(4)))
    >>> sorted(y), x.shape
    (['a', 'b'], TensorShape([4, 1]))
    """
    import tensorflow as tf

    tasks = _check_tasks(tasks)
    datasets = _dataset_list(datasets, tasks)
    needs_sizes = sampling != "uniform"
    sizes = _sizes(datasets, sizes, tasks) if needs_sizes else [1] * len(tasks)
    weights = sampling_weights(sizes, sampling, temperature)
    streams = [
        _complete(ds, m, tasks, task_id).repeat() for m, ds in enumerate(datasets)
    ]
    return tf.data.Dataset.sample_from_datasets(
        streams, weights=[float(w) for w in weights], seed=seed
    )


def _check_tasks(tasks):
    tasks = list(tasks) if isinstance(tasks, (list, tuple)) else None
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        raise TypeError("`tasks` must be a non-empty list of `keras_mtl.Task`.")
    return tasks


def _dataset_list(datasets, tasks):
    names = [t.name for t in tasks]
    if isinstance(datasets, dict):
        if set(datasets) != set(names):
            raise ValueError(
                f"`datasets` must have one dataset per task, keyed {names}. "
                f"Received keys: {sorted(datasets)}"
            )
        datasets = [datasets[n] for n in names]
    datasets = list(datasets)
    if len(datasets) != len(tasks) or not all(
        hasattr(d, "element_spec") for d in datasets
    ):
        raise TypeError(
            f"`datasets` must be {len(tasks)} `tf.data.Dataset`s, one per task "
            f"({names}). Received: {[type(d).__name__ for d in datasets]}"
        )
    return datasets


def _sizes(datasets, sizes, tasks):
    if sizes is not None:
        if len(sizes) != len(tasks):
            raise ValueError(
                f"`sizes` must hold one size per task ({len(tasks)}). "
                f"Received: sizes={sizes}"
            )
        return list(sizes)
    out = []
    for task, ds in zip(tasks, datasets):
        n = int(ds.cardinality())
        if n <= 0:
            raise ValueError(
                f"The size of task {task.name!r}'s dataset is unknown or infinite "
                f"(cardinality {n}): pass `sizes`, or sampling='uniform'."
            )
        out.append(n)
    return out


def _complete(dataset, m, tasks, task_id):
    """`(x, {own: y})` → `(x, y_dict)` with every other task's label missing."""
    import tensorflow as tf

    spec = dataset.element_spec
    own = tasks[m]
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError(
            f"The dataset of task {own.name!r} must yield `(x, y)` pairs. "
            f"Received an element spec {spec}"
        )
    if isinstance(spec[1], dict) and set(spec[1]) != {own.name}:
        raise ValueError(
            f"The dataset of task {own.name!r} must yield labels for that task "
            f"only, as `{{{own.name!r}: y}}` or `y`. Received keys {sorted(spec[1])}"
        )

    def complete(x, y):
        label = y[own.name] if isinstance(y, dict) else y
        tokens = x["tokens"] if isinstance(x, dict) and "tokens" in x else x
        labels = {}
        for task in tasks:
            if task is own:
                labels[task.name] = tf.cast(label, label_dtype(task))
                continue
            shape = tf.shape(tokens)[:1] if task.sequence else []
            labels[task.name] = tf.fill(
                shape, tf.constant(missing_label(task), label_dtype(task))
            )
        if task_id:
            index = tf.constant(m, "int32")
            x = (
                {**x, "task_id": index}
                if isinstance(x, dict)
                else {
                    "tokens": x,
                    "task_id": index,
                }
            )
        return x, labels

    return dataset.map(complete)
