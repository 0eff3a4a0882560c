"""Classic baselines: hard parameter sharing, single-task models, low supervision."""

from keras_mtl.arguments import check_int
from keras_mtl.models.architecture import architecture
from keras_mtl.models.components import (
    compile_model,
    encoder_inputs,
    encoder_stack,
    prepare,
    task_head,
)

_COMMON_ARGS = """
        input_shape: tuple. Shape of one feature example, e.g. `(F,)`; or
        vocab_size: int. Token vocabulary size for `(batch, time)` integer
            inputs (0 = padding, masked). Give exactly one of the two.
        embedding_dim: int. Token embedding width (shared by all tasks).
            Defaults to `64`.
        units: int. Width of every encoder layer. Defaults to `64`.
        num_layers: int. Encoder depth. Defaults to `2`.
        dropout: float. Dropout after every encoder layer. Defaults to `0.0`.
        encoder: `"mlp"`, `"lstm"` or `"bilstm"`. Defaults to `"bilstm"` for
            tokens and `"mlp"` for feature vectors.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds Keras's global RNG before weights are made.
        name: str. Model name."""


def _shared_stack(
    *, input_shape, vocab_size, embedding_dim, units, num_layers, dropout, encoder, seed
):
    inputs, encoder = encoder_inputs(
        input_shape, vocab_size, embedding_dim, encoder, units, num_layers, dropout
    )
    layers = encoder_stack(
        inputs.features, encoder, units, num_layers, dropout, "shared_", seed
    )
    return inputs, layers


@architecture("hard_sharing")
def hard_sharing(
    tasks,
    *,
    input_shape=None,
    vocab_size=None,
    embedding_dim=64,
    units=64,
    num_layers=2,
    dropout=0.0,
    encoder=None,
    learning_rate=1e-3,
    seed=None,
    name="hard_sharing",
):
    """Hard parameter sharing: one shared encoder, one output head per task.

    Args:
        tasks: list of `keras_mtl.Task`.{common}

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task.

    Example:

    >>> model = hard_sharing([Task("a", 3), Task("b")], input_shape=(8,))
    >>> model.fit(x, {{"a": y_a, "b": y_b}}, epochs=2)
    """
    tasks = prepare(tasks, seed)
    inputs, layers = _shared_stack(
        input_shape=input_shape,
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        encoder=encoder,
        seed=seed,
    )
    outputs = {t.name: task_head(t, layers[-1], inputs.is_sequence) for t in tasks}
    return compile_model(inputs, outputs, tasks, name, learning_rate)


@architecture("low_supervision")
def low_supervision(
    tasks,
    supervise_at=None,
    *,
    input_shape=None,
    vocab_size=None,
    embedding_dim=64,
    units=64,
    num_layers=2,
    dropout=0.0,
    encoder=None,
    learning_rate=1e-3,
    seed=None,
    name="low_supervision",
):
    """Low supervision (Søgaard & Goldberg, 2016): tasks read different layers.

    A shared encoder stack as in `hard_sharing`, but the head of each task in
    `supervise_at` reads the output of the given (1-based) layer, so an
    auxiliary task can be supervised at a lower layer than the main task.
    Tasks not named read the last layer.

    Args:
        tasks: list of `keras_mtl.Task`.
        supervise_at: dict mapping task name to a layer index in
            `1..num_layers`. Defaults to every task on the last layer.{common}

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task.

    Example:

    >>> model = low_supervision([Task("pos", 45, sequence=True),
    ...                          Task("chunk", 23, sequence=True)],
    ...                         supervise_at={{"pos": 1}}, vocab_size=5000)
    """
    tasks = prepare(tasks, seed)
    num_layers = check_int(num_layers, "num_layers")
    supervise_at = _check_supervise_at(supervise_at or {}, tasks, num_layers)
    inputs, layers = _shared_stack(
        input_shape=input_shape,
        vocab_size=vocab_size,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        encoder=encoder,
        seed=seed,
    )
    outputs = {
        t.name: task_head(
            t, layers[supervise_at.get(t.name, num_layers) - 1], inputs.is_sequence
        )
        for t in tasks
    }
    return compile_model(inputs, outputs, tasks, name, learning_rate)


def _check_supervise_at(supervise_at, tasks, num_layers):
    if not isinstance(supervise_at, dict):
        raise TypeError(
            "`supervise_at` must be a dict mapping task name to a layer index. "
            f"Received: supervise_at={supervise_at!r}"
        )
    names = [t.name for t in tasks]
    for task_name, layer in supervise_at.items():
        if task_name not in names:
            raise ValueError(
                f"`supervise_at` names unknown task {task_name!r}. Expected one "
                f"of {names}."
            )
        if (
            isinstance(layer, bool)
            or not isinstance(layer, int)
            or not (1 <= layer <= num_layers)
        ):
            raise ValueError(
                f"`supervise_at[{task_name!r}]` must be a layer index in "
                f"1..{num_layers} (num_layers). Received: {layer!r}"
            )
    return supervise_at


@architecture("single_task")
def single_task(
    tasks,
    *,
    input_shape=None,
    vocab_size=None,
    embedding_dim=64,
    units=64,
    num_layers=2,
    dropout=0.0,
    encoder=None,
    learning_rate=1e-3,
    seed=None,
    name="single_task",
):
    """Independent models, one encoder stack and head per task, in one model.

    The tasks share nothing but the input (and the token embedding table,
    which every builder treats as the input representation). This is the
    baseline whose sharing units sluice and cross-stitch networks add.

    Args:
        tasks: list of `keras_mtl.Task`.{common}

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task.

    Example:

    >>> model = single_task([Task("a", 3), Task("b")], input_shape=(8,))
    """
    tasks = prepare(tasks, seed)
    inputs, encoder = encoder_inputs(
        input_shape, vocab_size, embedding_dim, encoder, units, num_layers, dropout
    )
    outputs = {}
    for task in tasks:
        layers = encoder_stack(
            inputs.features, encoder, units, num_layers, dropout, f"{task.name}_", seed
        )
        outputs[task.name] = task_head(task, layers[-1], inputs.is_sequence)
    return compile_model(inputs, outputs, tasks, name, learning_rate)


for _builder in (hard_sharing, low_supervision, single_task):
    _builder.__doc__ = _builder.__doc__.format(common=_COMMON_ARGS)
