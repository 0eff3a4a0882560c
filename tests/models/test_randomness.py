"""Every dropout layer draws its own masks; a fixed seed still reproduces a run."""

import itertools

import keras
import numpy as np

import keras_mtl
from keras_mtl import Task

TASKS = [Task("a", 3), Task("b")]


def _first_masks(model):
    ones = np.ones((8, 32), "float32")
    layers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    ]
    return [keras.ops.convert_to_numpy(layer(ones, training=True)) for layer in layers]


def _model(seed=0):
    return keras_mtl.models.single_task(
        TASKS, input_shape=(16,), units=32, num_layers=2, dropout=0.5, seed=seed
    )


def test_dropout_layers_draw_different_masks():
    masks = _first_masks(_model())
    assert len(masks) == 4
    for one, two in itertools.combinations(masks, 2):
        assert not np.array_equal(one, two)


def test_a_fixed_seed_reproduces_masks_and_training():
    for one, two in zip(_first_masks(_model()), _first_masks(_model())):
        np.testing.assert_array_equal(one, two)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype("float32")
    y = {"a": rng.integers(0, 3, 64), "b": rng.normal(size=64).astype("float32")}
    weights = []
    for _ in range(2):
        model = _model(seed=3)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for one, two in zip(*weights):
        np.testing.assert_array_equal(one, two)


def test_the_two_directions_of_a_bidirectional_meta_lstm_draw_their_own_masks():
    model = keras_mtl.models.meta_lstm(
        [Task("s", 2)],
        vocab_size=20,
        embedding_dim=4,
        units=4,
        meta_units=3,
        bidirectional=True,
        dropout=0.5,
        seed=0,
    )
    layer = model.get_layer("meta_lstm_1")
    forward, backward = layer.forward_layer.cell, layer.backward_layer.cell
    assert forward.seed != backward.seed
    ones = np.ones((8, 16), "float32")
    masks = [
        keras.ops.convert_to_numpy(cell.get_dropout_mask(ones))
        for cell in (forward, backward)
    ]
    assert not np.array_equal(*masks)
