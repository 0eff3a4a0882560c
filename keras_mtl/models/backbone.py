"""A shared feature extractor under task-specific layers (MRN, tree).

`feature_spec` validates `backbone` and the feature arguments of an
architecture that reads feature vectors; `backbone_features` applies the
backbone (or the spec's shared MLP) to the model inputs.
"""

import keras

from keras_mtl.models.encoder_spec import FEATURE_ARGUMENTS, EncoderSpec


def feature_spec(architecture, backbone, arguments, seed):
    """The `EncoderSpec` of `architecture` on a backbone or on feature vectors.

    Args:
        architecture: str. The architecture's name, for error messages.
        backbone: `keras.Model` or None. Its input shape is the model's
            input shape unless `arguments` give `input_shape`.
        arguments: dict of the feature arguments (`input_shape`, `units`,
            `num_layers`, `dropout`).
        seed: int or None.

    Returns:
        An `EncoderSpec`.
    """
    arguments = dict(arguments)
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
            f"{architecture} needs `input_shape=(F,)` or a `backbone` model."
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
            f"Without a `backbone`, {architecture} takes feature vectors: "
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
