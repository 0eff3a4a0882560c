"""What `fit`/`evaluate`/`predict` receive, put in one form and checked.

Arrays (numpy, lists, tensors) are converted and checked whole; a
`keras.utils.PyDataset` or a `tf.data.Dataset` is checked on its first batch,
so every input path gives the same errors before Keras traces a step. A
dataset is checked once per model: passing the same one to `fit` again
skips the check (drawing a tf.data stream's first batch restarts its
pipeline, which costs as much as a tenth of an epoch on the demo).
"""

import weakref

import keras
import numpy as np

from keras_mtl import data_checks

# dataset → the models it has passed the checks of (both held weakly).
_CHECKED = weakref.WeakKeyDictionary()


def input_shapes(model):
    """dict input name → shape of the model's inputs."""
    inputs = model._inputs_struct
    if isinstance(inputs, dict):
        return {name: tuple(t.shape) for name, t in inputs.items()}
    inputs = keras.tree.flatten(inputs)
    return {t.name: tuple(t.shape) for t in inputs}


def given_input_shapes(model, arrays):
    """The shapes of the model inputs in `arrays` (optional ones may be left out)."""
    shapes = input_shapes(model)
    left_out = optional_inputs(model) - set(arrays)
    return {name: shape for name, shape in shapes.items() if name not in left_out}


def optional_inputs(model):
    """Names of the model inputs that may be left out (`keras.Input(optional=True)`)."""
    inputs = model._inputs_struct
    if not isinstance(inputs, dict):
        return set()
    return {
        name
        for name, tensor in inputs.items()
        if getattr(tensor._keras_history.operation, "optional", False)
    }


def _is_dataset(x):
    return hasattr(x, "element_spec") and hasattr(x, "take")


def _is_array_like(x):
    return isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "__array__")


def inputs_as_dict(model, x, argument="x"):
    """`x` (arrays) as a dict input name → numpy array, plus what Keras gets.

    Returns:
        `(x_for_keras, arrays)`: `x` with lists converted to arrays, and the
        dict of arrays that the checks read.
    """
    shapes = input_shapes(model)
    if isinstance(model._inputs_struct, dict):
        optional = optional_inputs(model)
        required = sorted(set(shapes) - optional)
        if not isinstance(x, dict) and len(required) == 1:
            x = {required[0]: x}  # the optional inputs left out
        if not isinstance(x, dict) or not set(required) <= set(x):
            expected = f"a dict with the keys {sorted(shapes)}"
            if optional:
                expected += f" (or without {sorted(optional)})"
            received = type(x).__name__
            if isinstance(x, dict):
                received += f" with the keys {sorted(x)}"
            raise TypeError(f"`{argument}` must be {expected}. Received: {received}")
        arrays = {
            k: data_checks.as_array(v, f"{argument}['{k}']") for k, v in x.items()
        }
        return arrays, arrays
    (name,) = shapes
    if isinstance(x, dict):
        if set(x) != {name}:
            raise ValueError(
                f"`{argument}` is a dict with the keys {sorted(x)}, but the model "
                f"has one input named {name!r}: pass the array itself, or "
                f"{{{name!r}: array}}."
            )
        x = x[name]
    elif isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
        x = x[0]
    array = data_checks.as_array(x, argument)
    return array, {name: array}


def first_batch(x):
    """The first `(x, y, sample_weight)` of a PyDataset or tf.data.Dataset."""
    if isinstance(x, keras.utils.PyDataset):
        batch = x[0]
    else:
        batch = next(iter(x.take(1)))
        batch = keras.tree.map_structure(np.asarray, batch)
    if not isinstance(batch, tuple):
        batch = (batch,)
    return keras.utils.unpack_x_y_sample_weight(batch)


def check_dataset(model, data, argument="x"):
    """Checks the first batch of a PyDataset / tf.data.Dataset `data`.

    Raises:
        TypeError, ValueError: the error the same data as arrays would
            raise, prefixed with where it was found.
    """
    passed = _models_passed(data)
    if passed is not None and model in passed:
        return
    kind = type(data).__name__
    try:
        _check_first_batch(model, data, argument)
    except (TypeError, ValueError) as error:
        message = f"In the first batch of `{argument}` (a {kind}): {error}"
        raise type(error)(message) from None
    if passed is not None:
        passed.add(model)


def _models_passed(data):
    """The models whose checks `data` has passed (None: cannot be recorded)."""
    try:
        return _CHECKED.setdefault(data, weakref.WeakSet())
    except TypeError:  # neither hashable nor weakly referable
        return None


def _check_first_batch(model, data, argument):
    names = [t.name for t in model.tasks]
    spec = getattr(data, "element_spec", None)
    labels_spec = spec[1] if isinstance(spec, tuple) and len(spec) >= 2 else None
    x, y, _ = first_batch(data)
    for label in (labels_spec, y):
        if isinstance(label, (tuple, list)) and len(names) > 1:
            raise TypeError(
                f"labels come as a {type(label).__name__}; yield a dict keyed by "
                f"task name ({names}) instead."
            )
    _, arrays = inputs_as_dict(model, x, "x")
    shapes = input_shapes(model)
    for name, array in arrays.items():
        if name in shapes and array.ndim == len(shapes[name]) - 1:
            raise ValueError(
                f"it yields single examples (shape {array.shape} for input "
                f"{name!r}), not batches: batch it, e.g. dataset.batch(32)."
            )
    labels = None if y is None else data_checks.labels_as_dict(model.tasks, y)
    data_checks.check_arrays(
        model.tasks,
        arrays,
        labels,
        input_shapes=given_input_shapes(model, arrays),
        vocab_size=model.vocab_size(),
    )


def prepare_data(model, x, y=None, argument=""):
    """Checks `(x, y)` and returns them in the form Keras should get.

    Arrays are converted (lists to arrays, labels given as a list or tuple in
    task order to a dict) and checked whole; datasets are checked on their
    first batch and returned unchanged.
    """
    if isinstance(x, keras.utils.PyDataset) or _is_dataset(x):
        check_dataset(model, x, f"{argument}x")
        return x, y
    if x is None or not _is_array_like(x):
        return x, y
    x, arrays = inputs_as_dict(model, x, f"{argument}x")
    labels = None
    if y is not None:
        labels = data_checks.labels_as_dict(model.tasks, y, f"{argument}y")
        labels = {
            name: data_checks.as_array(value, f"{argument}y['{name}']")
            for name, value in labels.items()
        }
    data_checks.check_arrays(
        model.tasks,
        arrays,
        labels,
        input_shapes=given_input_shapes(model, arrays),
        vocab_size=model.vocab_size(),
        argument=argument,
    )
    if labels is not None:
        labels = {t.name: labels[t.name] for t in model.tasks}
    return x, labels


def prepare_validation(model, validation_data):
    """`validation_data` checked and converted as `prepare_data` does."""
    if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
        x, y = prepare_data(
            model, validation_data[0], validation_data[1], "validation_data "
        )
        return (x, y) + tuple(validation_data[2:])
    if validation_data is not None:
        prepare_data(model, validation_data, None, "validation_data ")
    return validation_data
