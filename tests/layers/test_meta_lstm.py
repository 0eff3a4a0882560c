"""`MetaLSTM` computes what `keras.layers.RNN(MetaLSTMCell)` computes, on any batch."""

import keras
import numpy as np
import pytest
from meta_lstm_reference import MU, NZ, D, U, numpy_step, random_states, randomize
from testing import assert_allclose, assert_model_roundtrip, to_numpy

from keras_mtl.layers.meta_lstm import MetaLSTM, batch_kind
from keras_mtl.layers.task_conditioning import TaskConditioning

M, T = 3, 4

BATCHES = {
    "mixed_batch": [0, 2, 1, 0, 2, 1],
    "one_task_batch": [2] * 6,
    "no_task_batch": [M] * 6,  # an out-of-range id: all-zero code
}


def coded_sequences(tasks, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(tasks), T, D)).astype("float32")
    code = np.zeros((len(tasks), T, M), "float32")
    for row, task in enumerate(tasks):
        if task < M:
            code[row, :, task] = 1.0
    return x, np.concatenate([x, code], axis=-1)


# Both ways of running the step (the input half of the products inside the
# recurrence, or computed for all steps first), whichever the backend uses.
HOIST = pytest.mark.parametrize("hoist", [False, True], ids=["per_step", "hoisted"])


@HOIST
@pytest.mark.parametrize("tasks", BATCHES.values(), ids=BATCHES.keys())
def test_matches_the_paper_step_by_step(tasks, hoist):
    x, coded = coded_sequences(tasks)
    layer = MetaLSTM(U, MU, NZ, num_tasks=M, return_sequences=True, return_state=True)
    layer.hoist_input_products = hoist
    layer.build(coded.shape)
    weights = randomize(layer.cell)
    rng = np.random.default_rng(1)
    states = random_states(rng, len(tasks))
    outputs, *final = layer(coded, initial_state=states)
    if tasks[0] == M:  # no task: the gates of z = 0
        for name in ("task_q", "task_p", "task_b"):
            weights[name] = np.zeros_like(weights[name])
        tasks = [0] * len(tasks)
    expected = []
    for t in range(T):
        h, states = numpy_step(weights, x[:, t], tasks, states, M)
        expected.append(h)
    assert_allclose(to_numpy(outputs), np.stack(expected, axis=1), atol=1e-5)
    for got, want in zip(final, states):
        assert_allclose(to_numpy(got), want, atol=1e-5)


@HOIST
@pytest.mark.parametrize("tasks", BATCHES.values(), ids=BATCHES.keys())
@pytest.mark.parametrize("go_backwards", [False, True])
def test_equals_the_cell_in_a_plain_rnn(tasks, go_backwards, hoist):
    """Masked steps, reversed reading and training-time dropout included."""
    _, coded = coded_sequences(tasks, seed=2)
    mask = np.ones(coded.shape[:2], bool)
    mask[:2, 2:] = False
    arguments = dict(return_sequences=True, go_backwards=go_backwards)
    layer = MetaLSTM(
        U, MU, NZ, num_tasks=M, dropout=0.3, recurrent_dropout=0.2, seed=4, **arguments
    )
    layer.hoist_input_products = hoist
    layer.build(coded.shape)
    randomize(layer.cell)
    plain = keras.layers.RNN(layer.cell, **arguments)
    for training in (False, True):
        # The same seed state before each call: the same dropout masks.
        state = to_numpy(layer.cell.seed_generator.state)
        got = layer(coded, mask=mask, training=training)
        layer.cell.seed_generator.state.assign(state)
        want = plain(coded, mask=mask, training=training)
        assert_allclose(to_numpy(got), to_numpy(want), atol=1e-5)


@HOIST
def test_trains_on_mixed_and_one_task_batches(hoist):
    _, mixed = coded_sequences(BATCHES["mixed_batch"])
    _, one = coded_sequences(BATCHES["one_task_batch"])
    inputs = keras.Input((T, D + M))
    layer = MetaLSTM(U, MU, NZ, num_tasks=M, dropout=0.1)
    layer.hoist_input_products = hoist
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [to_numpy(w) for w in model.layers[1].cell.trainable_weights]
    x = np.concatenate([mixed, one])
    model.fit(x, np.ones((len(x), 1)), batch_size=6, epochs=2, shuffle=False, verbose=0)
    after = [to_numpy(w) for w in model.layers[1].cell.trainable_weights]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))


@pytest.mark.parametrize("kind", ["one_task", "mixed"])
def test_a_traced_batch_kind_computes_what_the_cond_computes(kind):
    """`batch_kind` traces one loop; on batches of that kind nothing changes."""
    layer = MetaLSTM(U, MU, NZ, num_tasks=M, return_sequences=True)
    kinds = {"one_task": ["one_task_batch", "no_task_batch"], "mixed": list(BATCHES)}
    for batch in kinds[kind]:
        _, coded = coded_sequences(BATCHES[batch], seed=5)
        layer.build(coded.shape)
        randomize(layer.cell)
        want = to_numpy(layer(coded))
        with batch_kind([layer], kind):
            assert layer.traced_batch_kind == kind
            got = to_numpy(layer(coded))
        assert layer.traced_batch_kind is None
        assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        with batch_kind([layer], "auto"):
            pass
    with pytest.raises(RuntimeError):
        with batch_kind([layer], kind):
            raise RuntimeError
    assert layer.traced_batch_kind is None


def test_one_task_kind_runs_the_first_sequences_task_for_all():
    """Traced as one-task, a mixed batch runs row 0's task for every row."""
    tasks = BATCHES["mixed_batch"]
    _, coded = coded_sequences(tasks, seed=6)
    layer = MetaLSTM(U, MU, NZ, num_tasks=M, return_sequences=True)
    layer.build(coded.shape)
    randomize(layer.cell)
    _, as_first_task = coded_sequences([tasks[0]] * len(tasks), seed=6)
    with batch_kind([layer], "one_task"):
        got = to_numpy(layer(coded))
    assert_allclose(got, to_numpy(layer(as_first_task)), atol=1e-6)
    assert np.abs(got - to_numpy(layer(coded))).max() > 1e-3


def test_config_and_model_roundtrip():
    layer = MetaLSTM(U, MU, num_tasks=2, dropout=0.1, seed=3, name="meta")
    config = layer.get_config()
    assert config["num_tasks"] == 2 and config["meta_vector_dim"] == MU
    assert config["seed"] == 3 and "cell" not in config
    clone = MetaLSTM.from_config(config)
    assert clone.cell.num_tasks == 2 and clone.cell.dropout == 0.1
    tokens = keras.Input((None,), dtype="int32")
    task_id = keras.Input((), dtype="int32")
    x = TaskConditioning(2)(
        [keras.layers.Embedding(9, D, mask_zero=True)(tokens), task_id]
    )
    backward = MetaLSTM(U, MU, num_tasks=2, return_sequences=True, go_backwards=True)
    x = keras.layers.Bidirectional(
        MetaLSTM(U, MU, num_tasks=2, return_sequences=True), backward_layer=backward
    )(x)
    model = keras.Model([tokens, task_id], keras.layers.Dense(2)(x))
    data = [np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32"), np.array([1, 1], "int32")]
    assert_model_roundtrip(model, data)
