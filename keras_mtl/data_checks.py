"""Checks of the data given to `fit`/`evaluate`, run before Keras traces a step.

Every check works on numpy arrays; `fit`/`evaluate` pass the arrays
themselves, or the first batch of a `keras.utils.PyDataset` or a
`tf.data.Dataset` (see `keras_mtl.modeling.multitask_model`), so every
input path raises the same `ValueError`/`TypeError` naming the task or
argument and the fix.
"""

import numpy as np


def as_array(value, argument):
    """`value` as a numpy array (lists and framework tensors converted).

    Raises:
        TypeError: for ragged nested lists or non-numeric values.
    """
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except ValueError as error:
            raise TypeError(
                f"`{argument}` must be an array; a list of sequences of different "
                "lengths cannot be one. Pad them first, e.g. with "
                "keras_mtl.data.pad_sequences(sequences). "
                f"({error})"
            ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"`{argument}` must hold numbers; received dtype {array.dtype} "
            f"(e.g. {array.flat[0]!r} at index 0). Encode strings as integer ids, "
            "e.g. with np.unique(values, return_inverse=True)[1]."
        )
    return array


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


def check_input_shapes(expected, x, argument="x"):
    """Raises ValueError when an input array's shape differs from the model's.

    Args:
        expected: dict input name → model input shape (batch axis included,
            `None` for free axes).
        x: dict input name → numpy array.
        argument: str. How the user passed `x`, for messages.
    """
    unknown = sorted(set(x) - set(expected))
    missing = sorted(set(expected) - set(x))
    if unknown or missing:
        raise ValueError(
            f"`{argument}` must be a dict with the keys {sorted(expected)} (the "
            f"model's inputs). Received the keys {sorted(x)}."
        )
    for name, shape in expected.items():
        array = x[name]
        want = tuple(shape)
        fits = array.ndim == len(want) and all(
            w is None or w == a for w, a in zip(want[1:], array.shape[1:])
        )
        if not fits:
            where = argument if len(expected) == 1 else f"{argument}['{name}']"
            free = tuple("any" if d is None else d for d in want[1:])
            raise ValueError(
                f"`{where}` has shape {array.shape}, but the model input "
                f"{name!r} takes (batch,) + {free}. Build the model for this data "
                "(input_shape= or vocab_size=) or reshape the input."
            )


def check_features(x, argument="x", vocab_size=None, pooled=True):
    """Raises ValueError for NaN/inf features or out-of-range token ids.

    Args:
        x: dict input name → numpy array.
        argument: str. How the user passed `x`, for messages.
        vocab_size: int or None. Upper bound for token ids (input `tokens`).
        pooled: bool. Whether a sentence-level task pools the tokens (then
            an all-padding sequence is refused).
    """
    for name, array in x.items():
        where = argument if len(x) == 1 else f"{argument}['{name}']"
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(
                f"`{where}` contains NaN or infinite values "
                f"({int(np.sum(~np.isfinite(array)))} entries). Clean or impute "
                "them before training."
            )
        if name == "tokens" and vocab_size is not None and array.size:
            _check_token_ids(array, where, vocab_size, pooled)


def _check_token_ids(array, argument, vocab_size, pooled):
    """Token ids must be in the vocabulary; pooled sequences not all padding."""
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"`{argument}` must hold integer token ids (0 = padding). "
            f"Received dtype {array.dtype}."
        )
    if pooled and array.ndim == 2:
        empty = np.flatnonzero(~np.any(array != 0, axis=1))
        if empty.size:
            raise ValueError(
                f"`{argument}` has {empty.size} sequence(s) made only of padding "
                f"(0), e.g. row {int(empty[0])}: a sentence-level task averages "
                "over the tokens of a sequence, and an empty one has none. Drop "
                "those rows."
            )
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"`{argument}` holds token ids in [{low}, {high}], but "
            f"vocab_size={vocab_size} allows 0..{vocab_size - 1}."
        )


def _label_shape_error(task, where, shape, expected):
    hint = ""
    if task.is_classification and len(shape) == len(expected) + 1:
        if shape[-1] == task.num_classes:
            hint = (
                " They look one-hot: pass integer class ids instead, e.g. "
                "np.argmax(labels, axis=-1) (with -1 for a missing label)."
            )
    if not task.sequence and len(shape) == 2 and shape[1] > 1 and not hint:
        hint = (
            f" Task {task.name!r} has one label per example (sequence=False); "
            "use Task(..., sequence=True) for one label per time step."
        )
    if task.sequence and len(shape) >= 2 and len(expected) == 2:
        if shape[1] != expected[1]:
            hint = (
                f" Pad or cut the labels to the inputs' {expected[1]} time steps "
                "(-1 on padding)."
            )
    return ValueError(
        f"{where} has shape {shape}, but task {task.name!r} expects labels of "
        f"shape {expected}.{hint}"
    )


def check_label_shape(task, array, num_examples, time_steps, where):
    """Raises ValueError unless `array` has one label per example (or step)."""
    shape = array.shape
    expected = (num_examples,) + ((time_steps,) if task.sequence else ())
    if num_examples is not None and shape[:1] != (num_examples,):
        raise ValueError(
            f"{where} has {shape[0] if shape else 0} examples but the inputs "
            f"have {num_examples}."
        )
    core = shape[: len(expected)]
    extra = shape[len(expected) :]
    matches = len(core) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, core)
    )
    if not matches or extra not in ((), (1,)):
        raise _label_shape_error(task, where, shape, expected)


def check_labels(task, array, argument="y"):
    """Raises ValueError for label values that break `task`'s convention."""
    where = f"`{argument}['{task.name}']`"
    if task.is_classification:
        if array.dtype.kind == "f":
            if np.any(np.isnan(array)):
                raise ValueError(
                    f"{where} holds NaN: classification labels mark a missing "
                    "label with -1, e.g. np.where(np.isnan(y), -1, y).astype(int)."
                )
            if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
                raise ValueError(
                    f"{where} must hold integer class ids (-1 for a missing "
                    "label); found inf or fractional values."
                )
        if array.size and (array.min() < -1 or array.max() >= task.num_classes):
            raise ValueError(
                f"{where} must hold class ids in 0..{task.num_classes - 1} or -1 "
                f"(missing). Received values in [{array.min()}, {array.max()}]. "
                "Class ids start at 0; only -1 marks a missing label."
            )
        if task.crf_constraints:
            check_gold_paths(task, array, where)
    elif np.any(np.isinf(array.astype("float64"))):
        raise ValueError(
            f"{where} contains infinite values; use NaN to mark a missing label."
        )


def check_gold_paths(task, array, where):
    """Raises ValueError where gold tags break `task.crf_constraints`.

    A gold path that the constraints forbid has likelihood 0 under the CRF:
    its loss is the constraint's penalty, and nothing would say why. Checked:
    transitions between adjacent labelled steps and the tag of a labelled
    first step (sequences are padded at the end). End tags are not checked
    (the labels do not show where the tokens end).
    """
    labels = np.asarray(array).astype("int64").reshape(len(array), -1)
    rules = task.crf_constraints
    if rules.get("allowed_transitions") is not None:
        allowed = np.asarray(rules["allowed_transitions"], bool)
        before, after = labels[:, :-1], labels[:, 1:]
        labelled = (before >= 0) & (after >= 0)
        bad = labelled & ~allowed[np.maximum(before, 0), np.maximum(after, 0)]
        if bad.any():
            n, t = np.argwhere(bad)[0]
            raise ValueError(
                f"{where}: example {n} goes from tag {before[n, t]} to tag "
                f"{after[n, t]} at step {t + 1}, a transition that task "
                f"{task.name!r}'s `crf_constraints['allowed_transitions']` "
                f"forbids ({int(bad.sum())} such transition(s) in all). Fix the "
                "labels (e.g. an I- tag after O), or allow the transition."
            )
    if rules.get("allowed_start") is not None and labels.shape[1]:
        first = labels[:, 0]
        start = np.asarray(rules["allowed_start"], bool)
        bad = (first >= 0) & ~start[np.maximum(first, 0)]
        if bad.any():
            n = int(np.argmax(bad))
            raise ValueError(
                f"{where}: example {n} starts with tag {first[n]}, which task "
                f"{task.name!r}'s `crf_constraints['allowed_start']` forbids "
                f"({int(bad.sum())} such sequence(s))."
            )


def labels_as_dict(tasks, y, argument="y"):
    """`y` as a dict keyed by task name (a list or tuple is in task order).

    Raises:
        TypeError: if `y` is neither a dict nor a sequence of one label array
            per task.
    """
    names = [t.name for t in tasks]
    if isinstance(y, dict):
        return dict(y)
    if isinstance(y, (list, tuple)) and len(y) == len(tasks) and len(tasks) > 1:
        return dict(zip(names, y))
    if len(tasks) == 1:
        return {names[0]: y}
    raise TypeError(
        f"`{argument}` must be a dict keyed by task name ({names}), or a list "
        f"of {len(tasks)} label arrays in that order. Received: "
        f"{type(y).__name__}"
        + (f" of length {len(y)}" if isinstance(y, (list, tuple)) else "")
    )


def check_arrays(tasks, x, y, *, input_shapes, vocab_size=None, argument=""):
    """Checks numpy inputs and labels against the model before training.

    Args:
        tasks: list of `Task`.
        x: dict input name → numpy array.
        y: dict task name → numpy array, or None (inference).
        input_shapes: dict input name → model input shape.
        vocab_size: int or None. Upper bound for token ids.
        argument: str. Prefix of argument names in messages (e.g.
            `"validation_data "`).

    Raises:
        TypeError, ValueError: naming the argument and what was expected.
    """
    x_name = f"{argument}x"
    check_input_shapes(input_shapes, x, x_name)
    pooled = any(not t.sequence for t in tasks)
    check_features(x, x_name, vocab_size, pooled)
    if y is None:
        return
    check_label_keys(tasks, y.keys(), f"{argument}y")
    first = next(iter(x.values()))
    num_examples = first.shape[0]
    time_steps = first.shape[1] if first.ndim >= 2 else None
    for task in tasks:
        where = f"`{argument}y['{task.name}']`"
        array = as_array(y[task.name], f"{argument}y['{task.name}']")
        check_label_shape(task, array, num_examples, time_steps, where)
        check_labels(task, array, f"{argument}y")
