"""`EncoderSpec`: the input and encoder arguments every architecture shares."""

import zlib

import keras

from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.layers.subspace_concat import SubspaceConcat
from keras_mtl.regularizers import SubspaceOrthogonality

ENCODERS = ("mlp", "lstm", "bilstm")
ENCODER_ARGUMENTS = (
    "input_shape",
    "vocab_size",
    "embedding_dim",
    "units",
    "num_layers",
    "dropout",
    "encoder",
)
# The arguments of the architectures that read feature vectors only.
FEATURE_ARGUMENTS = ("input_shape", "units", "num_layers", "dropout")
DEFAULTS = {
    "input_shape": None,
    "vocab_size": None,
    "embedding_dim": 64,
    "units": 64,
    "num_layers": 2,
    "dropout": 0.0,
    "encoder": None,
}

COMMON_ARGS_DOC = """
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
        seed: int or None. Seeds Keras's global RNG before weights are made,
            and every dropout layer (each its own stream).
        name: str. Model name."""


class ModelInputs:
    """The model input and its first representation (features or embeddings).

    Args:
        input_shape: tuple or None. Shape of one feature example, e.g. `(F,)`.
        vocab_size: int or None. Token vocabulary size (0 = padding).
        embedding_dim: int. Width of the token embeddings.

    Exactly one of `input_shape` and `vocab_size` must be given.
    """

    def __init__(self, input_shape=None, vocab_size=None, embedding_dim=64):
        self.tensor = model_input(input_shape, vocab_size)
        self.features = embed(self.tensor, vocab_size, embedding_dim)
        self.is_sequence = vocab_size is not None or len(input_shape) > 1


def model_input(input_shape=None, vocab_size=None, name=None):
    """The `keras.Input` of token ids (`vocab_size`) or of features.

    Args:
        input_shape: tuple. Shape of one example's features (without
            `vocab_size`).
        vocab_size: int or None. Token ids `(batch, time)` when given.
        name: str or None. The input's name. Defaults to `"tokens"` for
            token ids, `"features"` otherwise.

    Returns:
        A `keras.KerasTensor` from `keras.Input`.
    """
    if vocab_size is not None:
        return keras.Input(shape=(None,), dtype="int32", name=name or "tokens")
    return keras.Input(shape=tuple(input_shape), name=name or "features")


def embed(x, vocab_size=None, embedding_dim=64):
    """`x` through the token `Embedding` (0 = padding, masked), or unchanged."""
    if vocab_size is None:
        return x
    return keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, name="embedding"
    )(x)


def check_input_shape(input_shape):
    """Returns `input_shape` as a tuple of positive ints, or raises."""
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must be a tuple of positive ints such as "
            f"(num_features,). Received: input_shape={input_shape!r}"
        )
    return tuple(input_shape)


class EncoderSpec:
    """The validated input and encoder arguments of an architecture.

    Every architecture reads the same few arguments (what the input is, and
    the width, depth, dropout and kind of its encoder layers); this object
    checks them once and makes the layers from them, so that each model
    class only adds what is its own.

    Args:
        owner: str. The architecture's name, for error messages.
        arguments: dict. The arguments given, a subset of `accepts`.
        accepts: tuple. The argument names the architecture takes. Defaults
            to every encoder argument (`ENCODER_ARGUMENTS`).
        defaults: dict. Defaults that differ from `DEFAULTS`.
        num_subspaces: int. Subspaces of each layer's output (for the
            BiLSTM layout and the orthogonality penalty). Defaults to `1`.
        min_layers: int. The smallest `num_layers` accepted. Defaults to `1`.
        seed: int or None. The model's seed; dropout layers derive theirs.

    Example:

    >>> spec = EncoderSpec("demo", {"input_shape": (8,), "units": 16})
    >>> spec.encoder, spec.num_layers
    ('mlp', 2)
    >>> inputs = spec.make_inputs()
    >>> len(spec.stack(inputs.features, prefix="shared_"))
    2
    """

    def __init__(
        self,
        owner,
        arguments,
        *,
        accepts=ENCODER_ARGUMENTS,
        defaults=None,
        num_subspaces=1,
        min_layers=1,
        seed=None,
    ):
        unknown = sorted(set(arguments) - set(accepts))
        if unknown:
            raise TypeError(
                f"{owner}() got unexpected keyword argument(s) {unknown}. It "
                f"also accepts: {list(accepts)}."
            )
        values = {**DEFAULTS, **(defaults or {}), **arguments}
        self.accepts = tuple(accepts)
        self.seed = seed
        self.num_subspaces = num_subspaces
        self.input_shape, self.vocab_size = self._check_input(
            values["input_shape"], values["vocab_size"]
        )
        self.embedding_dim = check_int(values["embedding_dim"], "embedding_dim")
        self.units = check_int(values["units"], "units")
        self.num_layers = check_int(
            values["num_layers"], "num_layers", minimum=min_layers
        )
        self.dropout = check_float(values["dropout"], "dropout", below=1.0)
        self.encoder = self._check_encoder(values["encoder"])
        self._check_widths()

    @staticmethod
    def _check_input(input_shape, vocab_size):
        if (input_shape is None) == (vocab_size is None):
            raise ValueError(
                "Pass exactly one of `input_shape` (feature vectors) or "
                "`vocab_size` (token sequences). Received: "
                f"input_shape={input_shape!r}, vocab_size={vocab_size!r}"
            )
        if vocab_size is not None:
            return None, check_int(vocab_size, "vocab_size", minimum=2)
        return check_input_shape(input_shape), None

    @property
    def is_sequence(self):
        """Whether the input is a sequence (tokens, or features of rank 2)."""
        return self.vocab_size is not None or len(self.input_shape) > 1

    def _check_encoder(self, encoder):
        if encoder is None:
            return "bilstm" if self.is_sequence else "mlp"
        check_choice(encoder, "encoder", ENCODERS)
        if encoder != "mlp" and not self.is_sequence:
            raise ValueError(
                f"encoder={encoder!r} needs sequences: pass `vocab_size` (tokens) "
                "or an `input_shape` of rank 2 (time, features)."
            )
        return encoder

    def _check_widths(self):
        units, subspaces = self.units, self.num_subspaces
        if units % subspaces:
            raise ValueError(
                f"`num_subspaces`={subspaces} must divide `units`={units}."
            )
        if self.encoder == "bilstm" and units % (2 * subspaces):
            raise ValueError(
                f"encoder='bilstm' splits `units`={units} over two directions of "
                f"`num_subspaces`={subspaces} subspaces each: `units` must be "
                f"divisible by {2 * subspaces}."
            )

    def get_config(self):
        """The accepted arguments with their values (defaults filled in)."""
        config = {name: getattr(self, name) for name in self.accepts}
        if config.get("input_shape") is not None:
            config["input_shape"] = list(config["input_shape"])
        return config

    # -- layers ------------------------------------------------------------

    def make_inputs(self):
        """A new `ModelInputs` (input tensor and embedded features)."""
        return ModelInputs(self.input_shape, self.vocab_size, self.embedding_dim)

    def layer(self, name, orthogonality_weight=0.0):
        """One encoder layer, as a callable on a tensor.

        `"mlp"` is Dense + ReLU; `"lstm"` an LSTM; `"bilstm"` a bidirectional
        LSTM of `units // 2` per direction whose outputs are merged with the
        subspaces kept contiguous. A positive `orthogonality_weight` puts a
        `SubspaceOrthogonality` penalty on the layer's kernels.
        """

        def regularizer(gates):
            if orthogonality_weight and self.num_subspaces > 1:
                return SubspaceOrthogonality(
                    self.num_subspaces, orthogonality_weight, gates
                )
            return None

        if self.encoder == "mlp":
            return keras.layers.Dense(
                self.units,
                activation="relu",
                kernel_regularizer=regularizer(1),
                name=name,
            )

        def lstm(width, layer_name):
            return keras.layers.LSTM(
                width,
                return_sequences=True,
                kernel_regularizer=regularizer(4),
                recurrent_regularizer=regularizer(4),
                name=layer_name,
            )

        if self.encoder == "lstm":
            return lstm(self.units, name)
        bidirectional = keras.layers.Bidirectional(
            lstm(self.units // 2, f"{name}_lstm"), merge_mode=None, name=name
        )
        merge = SubspaceConcat(self.num_subspaces, name=f"{name}_merge")
        return lambda x: merge(bidirectional(x))

    def apply_dropout(self, x, name):
        """`x` through a Dropout layer named `name` (seeded), if `dropout > 0`."""
        return dropout(x, rate=self.dropout, name=name, seed=self.seed)

    def stack(self, x, *, prefix):
        """A plain stack of `num_layers` layers on `x`; every layer's output."""
        outputs = []
        for k in range(1, self.num_layers + 1):
            x = self.layer(f"{prefix}layer_{k}")(x)
            x = self.apply_dropout(x, f"{prefix}dropout_{k}")
            outputs.append(x)
        return outputs


def dropout(x, *, rate, name, seed=None):
    """`x` through `keras.layers.Dropout(rate)` with its own seed (if `rate`)."""
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
