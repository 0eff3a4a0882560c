import keras
import numpy as np
import pytest
from meta_lstm_reference import MU, NZ, D, U, numpy_step, random_states, randomize
from testing import (
    assert_allclose,
    assert_layer_config_roundtrip,
    assert_model_roundtrip,
    to_numpy,
)

from benchmarks.meta_lstm import FullWeightMetaLSTMCell
from keras_mtl.layers.meta_lstm_cell import META_WEIGHTS, TASK_WEIGHTS, MetaLSTMCell
from keras_mtl.layers.task_conditioning import TaskConditioning


# Mixed tasks (every task's product, masked) and one task per batch (that
# task's P, Q, B selected once): the same gates.
@pytest.mark.parametrize(
    "num_tasks, tasks",
    [(1, [0] * 6), (3, [0, 2, 1, 0, 2, 1]), (3, [2] * 6)],
    ids=["one_task_model", "mixed_batch", "one_task_batch"],
)
def test_one_step_matches_numpy(num_tasks, tasks):
    rng = np.random.default_rng(1)
    cell = MetaLSTMCell(U, MU, NZ, num_tasks=num_tasks)
    code = num_tasks if num_tasks > 1 else 0
    cell.build((None, D + code))
    weights = randomize(cell)
    x = rng.normal(size=(6, D)).astype("float32")
    tasks = np.array(tasks)
    inputs = x
    if num_tasks > 1:
        inputs = np.concatenate([x, np.eye(num_tasks)[tasks]], -1).astype("float32")
    states = random_states(rng, 6)
    out, new_states = cell(inputs, states)
    expected, expected_states = numpy_step(weights, x, tasks, states, num_tasks)
    assert_allclose(out, expected, atol=1e-5)
    for actual, wanted in zip(new_states, expected_states):
        assert_allclose(actual, wanted, atol=1e-5)


def test_factorised_equals_full_weight_formulation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6, D + 2)).astype("float32")
    x[:, :, D:] = np.eye(2)[[0, 1, 1, 0]][:, None, :]
    layers = []
    for cls in (MetaLSTMCell, FullWeightMetaLSTMCell):
        layer = keras.layers.RNN(cls(U, MU, NZ, num_tasks=2), return_sequences=True)
        layer.build(x.shape)
        randomize(layer.cell)
        layers.append(layer)
    assert_allclose(layers[0](x), layers[1](x), atol=1e-5)


def test_padded_steps_leave_state_unchanged():
    tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]], dtype="int32")
    embed = keras.layers.Embedding(10, D, mask_zero=True)
    rnn = keras.layers.RNN(
        MetaLSTMCell(U, MU, NZ), return_sequences=True, return_state=True
    )
    outputs, *states = rnn(embed(tokens))
    short_outputs, *short_states = rnn(embed(tokens[:1, :3]))
    assert len(states) == 4
    for full, short in zip(states, short_states):
        assert_allclose(to_numpy(full)[:1], short, atol=1e-6)
    outputs = to_numpy(outputs)
    assert_allclose(outputs[0, 3], outputs[0, 2], atol=0)
    assert_allclose(outputs[0, 4], outputs[0, 2], atol=0)


def test_bidirectional_masked_and_states():
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, D, mask_zero=True)(tokens)
    x = TaskConditioning(2)([x, keras.Input((), dtype="int32")])
    layer = keras.layers.Bidirectional(
        keras.layers.RNN(
            MetaLSTMCell(U, MU, NZ, num_tasks=2),
            return_sequences=True,
            return_state=True,
        )
    )
    outputs = layer(x)
    assert outputs[0].shape == (None, None, 2 * U)
    assert len(outputs) == 9
    assert [tuple(s.shape) for s in outputs[1:5]] == [(None, U)] * 2 + [(None, MU)] * 2


def test_dropout_only_in_training_and_fit_updates():
    x = np.random.default_rng(3).normal(size=(8, 5, D)).astype("float32")
    cell = MetaLSTMCell(U, MU, dropout=0.5, recurrent_dropout=0.5, seed=1)
    model = keras.Sequential(
        [keras.Input((5, D)), keras.layers.RNN(cell), keras.layers.Dense(1)]
    )
    assert_allclose(model(x), model(x))
    assert not np.allclose(to_numpy(model(x, training=True)), to_numpy(model(x)))
    model.compile("adam", "mse")
    before = to_numpy(cell.task_q)
    model.fit(x, np.ones((8, 1)), epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(to_numpy(cell.task_q), before)


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = keras.layers.RNN(MetaLSTMCell(U, MU, NZ), return_sequences=True)
    out = layer(np.ones((2, 3, D), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.cell.task_q.dtype == "float32"
    assert np.all(np.isfinite(to_numpy(out)))


def test_meta_trainable_freezes_exactly_the_meta_weights():
    cell = MetaLSTMCell(U, MU, meta_trainable=False)
    cell.build((None, D))
    frozen = {w.name for w in cell.non_trainable_weights}
    assert frozen == set(META_WEIGHTS)
    assert {w.name for w in cell.trainable_weights} == set(TASK_WEIGHTS)


def test_config_and_model_roundtrip():
    cell = MetaLSTMCell(U, MU, NZ, num_tasks=2, dropout=0.1, meta_trainable=False)
    clone = assert_layer_config_roundtrip(cell)
    assert clone.meta_vector_dim == NZ and clone.num_tasks == 2
    tokens = keras.Input((None,), dtype="int32")
    task_id = keras.Input((), dtype="int32")
    x = TaskConditioning(2)(
        [keras.layers.Embedding(9, D, mask_zero=True)(tokens), task_id]
    )
    x = keras.layers.Bidirectional(keras.layers.RNN(cell, return_sequences=True))(x)
    model = keras.Model([tokens, task_id], keras.layers.Dense(2)(x))
    data = [np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32"), np.array([0, 1], "int32")]
    assert_model_roundtrip(model, data)


@pytest.mark.parametrize(
    "name, value, error",
    [
        ("units", 0, ValueError),
        ("meta_units", -1, ValueError),
        ("units", 2.5, TypeError),
        ("meta_vector_dim", 0, ValueError),
        ("num_tasks", 0, ValueError),
        ("dropout", 1.0, ValueError),
        ("recurrent_dropout", -0.1, ValueError),
        ("meta_trainable", 1, TypeError),
    ],
)
def test_bad_arguments_name_the_argument(name, value, error):
    kwargs = {"units": 2, "meta_units": 2, name: value}
    with pytest.raises(error, match=name):
        MetaLSTMCell(**kwargs)


def test_wrong_input_rank_and_width():
    with pytest.raises(ValueError, match="batch, features"):
        MetaLSTMCell(U, MU).build((None, 5, D))
    with pytest.raises(ValueError, match="task code"):
        MetaLSTMCell(U, MU, num_tasks=3).build((None, 3))
