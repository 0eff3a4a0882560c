"""A shared feature extractor under task-specific layers (MRN, tree).

`feature_spec` validates `backbone` and the feature arguments of an
architecture that reads feature vectors; `backbone_features` applies the
backbone (or the spec's shared MLP) to the model inputs; `token_encoder`
makes a backbone for token sequences.
"""

import keras

from keras_mtl.arguments import check_int
from keras_mtl.modeling.encoder_spec import FEATURE_ARGUMENTS, EncoderSpec


def token_encoder(vocab_size, length, *, embedding_dim=64, units=64, name="encoder"):
    """A sentence encoder to use as `backbone`: embedding, LSTM, masked mean.

    `mrn` and `tree` read feature vectors through a `backbone`; with this
    one they read token sequences (their input is then a float copy of the
    ids, exact below 2**24; the embedding casts it back). Hard sharing's
    LSTM encoder, pooled over the unmasked steps.

    Args:
        vocab_size: int. Token ids are in `[0, vocab_size)`, 0 = padding.
        length: int. Tokens per example.
        embedding_dim: int. Defaults to `64`.
        units: int. LSTM width (the features' width). Defaults to `64`.
        name: str. Model name. Defaults to `"encoder"`.

    Returns:
        A `keras.Model` from `(batch, length)` ids to `(batch, units)`.

    Example:

    >>> from keras_mtl import Task
    >>> from keras_mtl.models import mrn, token_encoder
    >>> encoder = token_encoder(100, 12, embedding_dim=8, units=8)
    >>> model = mrn([Task("a", 2), Task("b", 2)], backbone=encoder, units=8)
    >>> tuple(model.predict(np.ones((3, 12)), verbose=0)["a"].shape)
    (3, 2)
    """
    tokens = keras.Input(shape=(check_int(length, "length"),), dtype="int32")
    h = keras.layers.Embedding(
        check_int(vocab_size, "vocab_size", minimum=2),
        check_int(embedding_dim, "embedding_dim"),
        mask_zero=True,
        name="embedding",
    )(tokens)
    h = keras.layers.LSTM(
        check_int(units, "units"), return_sequences=True, name="shared_lstm"
    )(h)
    h = keras.layers.GlobalAveragePooling1D(name="shared_pool")(h)
    return keras.Model(tokens, h, name=name)


def feature_spec(architecture, backbone, arguments, seed):
    """The `EncoderSpec` of `architecture` on a backbone or on feature vectors.

    Args:
        architecture: str. The architecture's class name, for error messages.
        backbone: `keras.Model` or None. Its input shape is the model's
            input shape unless `arguments` give `input_shape`.
        arguments: dict of the feature arguments (`input_shape`, `units`,
            `num_layers`, `dropout`).
        seed: int or None.

    Returns:
        An `EncoderSpec`.
    """
    arguments = dict(arguments)
    if backbone is None and arguments.get("vocab_size") is not None:
        raise TypeError(
            f"{architecture}() got unexpected keyword argument(s) ['vocab_size']: "
            "it reads feature vectors, not token ids. Pass a token encoder as "
            "`backbone`, e.g. `keras_mtl.models.token_encoder(vocab_size, length)`."
        )
    if backbone is not None:
        if not isinstance(backbone, keras.Model):
            raise TypeError(
                "`backbone` must be a keras.Model or None. "
                f"Received: backbone={backbone!r}"
            )
        if arguments.get("input_shape") is None:
            shape = tuple(backbone.input_shape[1:])
            if any(d is None for d in shape):
                raise ValueError(
                    f"`backbone` takes inputs of shape {shape} with unknown "
                    "sizes: pass `input_shape` with every size given."
                )
            arguments["input_shape"] = shape
    elif arguments.get("input_shape") is None:
        raise ValueError(
            f"{architecture}() needs `input_shape=(F,)` or a `backbone` model."
        )
    spec = EncoderSpec(
        architecture,
        arguments,
        accepts=FEATURE_ARGUMENTS,
        defaults={"encoder": "mlp"},
        min_layers=0,
        seed=seed,
    )
    if backbone is None and len(spec.input_shape) != 1:
        raise ValueError(
            f"Without a `backbone`, {architecture}() takes feature vectors: "
            f"`input_shape` must be (F,). Received: input_shape={spec.input_shape!r}"
        )
    return spec


def backbone_features(backbone, freeze_backbone, spec, inputs):
    """The shared features: `backbone(inputs)` flattened, or the spec's MLP."""
    if backbone is None:
        layers = spec.stack(inputs.features, prefix="shared_")
        return layers[-1] if layers else inputs.features
    if freeze_backbone:
        backbone.trainable = False
    features = backbone(inputs.features)
    if any(d is None for d in features.shape[1:]):
        raise ValueError(
            "`backbone` must give outputs of a known size to flatten (e.g. a "
            "keras.applications model with pooling='avg'). Received outputs of "
            f"shape {features.shape}."
        )
    if len(features.shape) > 2:
        features = keras.layers.Flatten(name="backbone_flatten")(features)
    return features
