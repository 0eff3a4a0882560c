"""Pieces every builder composes: inputs, encoder layers, task heads, compile."""

import zlib

import keras

from keras_mtl.arguments import (
    check_choice,
    check_float,
    check_int,
    check_learning_rate,
)
from keras_mtl.layers.subspace_concat import SubspaceConcat
from keras_mtl.models.multitask_model import MultiTaskModel
from keras_mtl.regularizers import SubspaceOrthogonality
from keras_mtl.task import validate_tasks

ENCODERS = ("mlp", "lstm", "bilstm")


class ModelInputs:
    """The model input and its first representation (features or embeddings).

    Args:
        input_shape: tuple or None. Shape of one feature example, e.g. `(F,)`.
        vocab_size: int or None. Token vocabulary size (0 = padding).
        embedding_dim: int. Width of the token embeddings.

    Exactly one of `input_shape` and `vocab_size` must be given.
    """

    def __init__(self, input_shape=None, vocab_size=None, embedding_dim=64):
        if (input_shape is None) == (vocab_size is None):
            raise ValueError(
                "Pass exactly one of `input_shape` (feature vectors) or "
                "`vocab_size` (token sequences). Received: "
                f"input_shape={input_shape!r}, vocab_size={vocab_size!r}"
            )
        if vocab_size is not None:
            check_int(vocab_size, "vocab_size", minimum=2)
            check_int(embedding_dim, "embedding_dim")
            self.tensor = keras.Input(shape=(None,), dtype="int32", name="tokens")
            self.features = keras.layers.Embedding(
                vocab_size, embedding_dim, mask_zero=True, name="embedding"
            )(self.tensor)
            self.is_sequence = True
        else:
            if not isinstance(input_shape, (tuple, list)) or not all(
                isinstance(d, int) and d > 0 for d in input_shape
            ):
                raise ValueError(
                    "`input_shape` must be a tuple of positive ints such as "
                    f"(num_features,). Received: input_shape={input_shape!r}"
                )
            self.tensor = keras.Input(shape=tuple(input_shape), name="features")
            self.features = self.tensor
            self.is_sequence = len(input_shape) > 1


def resolve_encoder(encoder, inputs):
    """`encoder`, or the default for the inputs (BiLSTM for tokens, else MLP)."""
    if encoder is None:
        return "bilstm" if inputs.is_sequence else "mlp"
    check_choice(encoder, "encoder", ENCODERS)
    if encoder != "mlp" and not inputs.is_sequence:
        raise ValueError(
            f"encoder={encoder!r} needs sequences: pass `vocab_size` (tokens) or "
            "an `input_shape` of rank 2 (time, features)."
        )
    return encoder


def check_stack_arguments(units, num_layers, dropout, encoder, num_subspaces=1):
    """Validates the arguments shared by every encoder stack."""
    check_int(units, "units")
    check_int(num_layers, "num_layers")
    check_float(dropout, "dropout", below=1.0)
    if units % num_subspaces:
        raise ValueError(
            f"`num_subspaces`={num_subspaces} must divide `units`={units}."
        )
    if encoder == "bilstm" and units % (2 * num_subspaces):
        raise ValueError(
            f"encoder='bilstm' splits `units`={units} over two directions of "
            f"`num_subspaces`={num_subspaces} subspaces each: `units` must be "
            f"divisible by {2 * num_subspaces}."
        )


def encoder_inputs(
    input_shape,
    vocab_size,
    embedding_dim,
    encoder,
    units,
    num_layers,
    dropout,
    num_subspaces=1,
):
    """The model inputs and the resolved encoder, with the stack arguments checked.

    Returns:
        `(ModelInputs, encoder name)`.
    """
    inputs = ModelInputs(input_shape, vocab_size, embedding_dim)
    encoder = resolve_encoder(encoder, inputs)
    check_stack_arguments(units, num_layers, dropout, encoder, num_subspaces)
    return inputs, encoder


def encoder_layer(encoder, units, name, num_subspaces=1, orthogonality_weight=0.0):
    """One layer of an encoder stack, as a callable on a tensor.

    Args:
        encoder: `"mlp"` (Dense + ReLU), `"lstm"` or `"bilstm"` (each
            direction `units // 2`, subspaces kept contiguous).
        units: int. Output width.
        name: str. Layer name prefix.
        num_subspaces: int. Subspaces of the output (for the penalty layout).
        orthogonality_weight: float. Weight of `SubspaceOrthogonality` on the
            layer's kernels; 0 attaches none.

    Returns:
        A function mapping the layer input to its output.
    """

    def regularizer(gates):
        if orthogonality_weight and num_subspaces > 1:
            return SubspaceOrthogonality(num_subspaces, orthogonality_weight, gates)
        return None

    if encoder == "mlp":
        return keras.layers.Dense(
            units, activation="relu", kernel_regularizer=regularizer(1), name=name
        )

    def lstm(width, layer_name):
        return keras.layers.LSTM(
            width,
            return_sequences=True,
            kernel_regularizer=regularizer(4),
            recurrent_regularizer=regularizer(4),
            name=layer_name,
        )

    if encoder == "lstm":
        return lstm(units, name)
    bidirectional = keras.layers.Bidirectional(
        lstm(units // 2, f"{name}_lstm"), merge_mode=None, name=name
    )
    merge = SubspaceConcat(num_subspaces, name=f"{name}_merge")
    return lambda x: merge(bidirectional(x))


def encoder_stack(x, encoder, units, num_layers, dropout, prefix, seed=None):
    """A plain stack of `num_layers` encoder layers; returns every layer output."""
    outputs = []
    for k in range(1, num_layers + 1):
        x = encoder_layer(encoder, units, f"{prefix}layer_{k}")(x)
        x = maybe_dropout(x, dropout, f"{prefix}dropout_{k}", seed)
        outputs.append(x)
    return outputs


def maybe_dropout(x, rate, name, seed=None):
    if not rate:
        return x
    return keras.layers.Dropout(rate, seed=layer_seed(seed, name), name=name)(x)


def layer_seed(seed, name):
    """The seed of layer `name` in a model built with `seed` (None stays None).

    Keras layers given the same integer seed draw the same random masks, so
    every random layer of a model gets its own seed, derived from the model's
    `seed` and the layer's (unique) name: masks differ between layers and
    tasks, and a fixed `seed` still reproduces a run.
    """
    if seed is None:
        return None
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def task_head(task, x, is_sequence):
    """The output layer of `task` (named after it), pooled if needed."""
    if task.sequence and not is_sequence:
        raise ValueError(
            f"Task {task.name!r} has sequence=True but the model input is not a "
            "sequence: pass `vocab_size` (tokens) or a rank-2 `input_shape`."
        )
    if is_sequence and not task.sequence:
        x = keras.layers.GlobalAveragePooling1D(name=f"{task.name}_pool")(x)
    return keras.layers.Dense(
        task.output_units,
        activation=task.output_activation(),
        dtype="float32",
        name=task.name,
    )(x)


def compile_model(inputs, outputs, tasks, name, learning_rate=1e-3):
    """Wraps the graph in a `MultiTaskModel` compiled with the tasks' losses."""
    model = MultiTaskModel(inputs.tensor, outputs, name=name, tasks=tasks)
    return compile_tasks(model, learning_rate)


def compile_tasks(model, learning_rate=1e-3):
    """Compiles `model` with Adam and each task's masked loss, weight and metrics."""
    model.learning_rate = check_learning_rate(learning_rate)
    model.compile()
    return model


def prepare(tasks, seed):
    """Validates `tasks` and seeds Keras's global RNG when `seed` is given."""
    tasks = validate_tasks(tasks)
    if seed is not None:
        keras.utils.set_random_seed(check_int(seed, "seed", minimum=0))
    return tasks
