"""Shared test helpers, in the spirit of keras-hub's TestCase."""

import os
import tempfile

import keras
import numpy as np

BACKEND = keras.backend.backend()


def to_numpy(value):
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy(v) for v in value]
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_allclose(actual, expected, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(
        to_numpy(actual), to_numpy(expected), atol=atol, rtol=rtol
    )


def save_and_load(model):
    """Saves `model` as .keras and loads it back with safe_mode on."""
    path = os.path.join(tempfile.mkdtemp(), "model.keras")
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def assert_model_roundtrip(model, x):
    """A .keras save → load (safe_mode) gives identical predictions."""
    expected = model.predict(x, verbose=0)
    restored = save_and_load(model)
    actual = restored.predict(x, verbose=0)
    assert type(restored) is type(model)
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected)
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key])
    else:
        np.testing.assert_array_equal(actual, expected)
    return restored


def assert_layer_config_roundtrip(layer):
    """from_config(get_config()) rebuilds a layer with the same config."""
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(layer)
    return clone


def layer_in_model_roundtrip(layer, inputs):
    """Wraps `layer` in a functional model on `inputs` (arrays) and round-trips it."""
    arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    symbolic = [keras.Input(a.shape[1:], dtype=str(a.dtype)) for a in arrays]
    outputs = layer(symbolic if isinstance(inputs, (list, tuple)) else symbolic[0])
    model = keras.Model(symbolic, outputs)
    return assert_model_roundtrip(model, list(arrays) if len(arrays) > 1 else arrays[0])


def fixed_weights(values, **kwargs):
    """A gradient strategy with fixed task weights (to check what gets them)."""
    from keras_mtl import weighting

    class FixedWeights(weighting.GradientWeighting):
        def gram_weights(self, gram, mask, losses=None, last_gram=None):
            return keras.ops.convert_to_tensor(values, "float32") * mask

    return FixedWeights(**kwargs)
