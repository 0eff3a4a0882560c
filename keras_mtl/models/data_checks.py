"""Checks of the data given to `fit`/`evaluate`, run before any training."""

import numpy as np


def _as_array(value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__array__") and not hasattr(value, "element_spec"):
        return np.asarray(value)
    return None


def check_label_keys(tasks, keys, argument="y"):
    """Raises ValueError if the label dict keys differ from the task names."""
    names = [t.name for t in tasks]
    unknown = sorted(set(keys) - set(names))
    missing = [n for n in names if n not in set(keys)]
    if unknown:
        raise ValueError(
            f"`{argument}` has labels for unknown task(s) {unknown}. "
            f"Expected the keys {names}."
        )
    if missing:
        raise ValueError(
            f"`{argument}` has no labels for task(s) {missing}. Expected the keys "
            f"{names}; mark examples without a label with -1 (classification) "
            "or NaN (regression)."
        )


def check_features(x, argument="x", vocab_size=None):
    """Raises ValueError for NaN/inf features or out-of-range token ids."""
    arrays = x.values() if isinstance(x, dict) else x
    if not isinstance(arrays, (list, tuple)) and not isinstance(x, dict):
        arrays = [x]
    for array in map(_as_array, arrays):
        if array is None:
            continue
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(
                f"`{argument}` contains NaN or infinite values "
                f"({int(np.sum(~np.isfinite(array)))} entries). Clean or impute "
                "them before training."
            )
        if vocab_size is not None and array.dtype.kind in "iu" and array.size:
            _check_token_ids(array, argument, vocab_size)


def _check_token_ids(array, argument, vocab_size):
    """Token ids must be in the vocabulary, and no sequence may be all padding."""
    if array.ndim == 2:
        empty = np.flatnonzero(~np.any(array != 0, axis=1))
        if empty.size:
            raise ValueError(
                f"`{argument}` has {empty.size} sequence(s) made only of padding "
                f"(0), e.g. row {int(empty[0])}: drop them (pooled sentence "
                "outputs of an empty sequence are undefined)."
            )
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"`{argument}` holds token ids in [{low}, {high}], but "
            f"vocab_size={vocab_size} allows 0..{vocab_size - 1}."
        )


def check_labels(task, labels, num_examples, argument="y"):
    """Raises ValueError for labels that break `task`'s convention."""
    array = _as_array(labels)
    if array is None:
        return
    where = f"`{argument}['{task.name}']`"
    if num_examples is not None and array.shape[:1] != (num_examples,):
        raise ValueError(
            f"{where} has {array.shape[0] if array.ndim else 0} examples but the "
            f"inputs have {num_examples}."
        )
    if task.is_classification:
        if array.dtype.kind == "f":
            if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
                raise ValueError(
                    f"{where} must hold integer class ids (-1 for a missing "
                    "label); found NaN, inf or fractional values."
                )
        if array.size and (array.min() < -1 or array.max() >= task.num_classes):
            raise ValueError(
                f"{where} must hold class ids in 0..{task.num_classes - 1} or -1 "
                f"(missing). Received values in [{array.min()}, {array.max()}]."
            )
    elif np.any(np.isinf(array.astype("float64"))):
        raise ValueError(
            f"{where} contains infinite values; use NaN to mark a missing label."
        )


def _num_examples(x):
    first = x
    if isinstance(x, dict):
        first = next(iter(x.values()), None)
    elif isinstance(x, (list, tuple)):
        first = x[0] if x else None
    array = _as_array(first)
    return None if array is None or array.ndim == 0 else array.shape[0]


def check_fit_data(tasks, x, y, prefix="", vocab_size=None):
    """Checks inputs and label dicts against the tasks before training.

    Args:
        tasks: list of `Task`.
        x: The inputs given to `fit`/`evaluate` (arrays, dict of arrays, or a
            dataset, whose label keys are checked from its `element_spec`).
        y: The labels: dict keyed by task name (or `None` with a dataset).
        prefix: str. Prepended to argument names in messages.
        vocab_size: int or None. Upper bound for token ids.

    Raises:
        TypeError, ValueError: naming the argument and what was expected.
    """
    spec = getattr(x, "element_spec", None)
    if y is None and isinstance(spec, tuple) and len(spec) >= 2:
        if isinstance(spec[1], dict):
            check_label_keys(tasks, spec[1].keys(), prefix + "y")
        return
    if y is None:
        return
    if not isinstance(y, dict):
        if len(tasks) > 1:
            raise TypeError(
                f"`{prefix}y` must be a dict keyed by task name "
                f"({[t.name for t in tasks]}). Received: {type(y).__name__}"
            )
        y = {tasks[0].name: y}
    check_label_keys(tasks, y.keys(), prefix + "y")
    check_features(x, prefix + "x", vocab_size)
    count = _num_examples(x)
    for task in tasks:
        check_labels(task, y[task.name], count, prefix + "y")
