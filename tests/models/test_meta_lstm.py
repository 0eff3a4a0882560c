import keras
import numpy as np
import pytest
from testing import assert_allclose, assert_model_roundtrip, to_numpy

from keras_mtl import Task
from keras_mtl.data.sequences import BucketedSequences
from keras_mtl.layers.meta_lstm import MetaLSTM
from keras_mtl.layers.meta_lstm_cell import META_WEIGHTS, TASK_WEIGHTS
from keras_mtl.models import MultiTaskNetwork
from keras_mtl.models.meta_lstm import MetaLSTMModel, meta_lstm, meta_lstm_transfer

SMALL = dict(vocab_size=12, embedding_dim=4, units=3, meta_units=2, meta_vector_dim=2)
TASKS = [Task("a", 2), Task("b", 3), Task("tag", 2, sequence=True)]


def stream(n=8, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 12, (n, steps)).astype("int32")
    tokens[::2, 3:] = 0
    task_id = (np.arange(n) % 3).astype("int32")
    y = {
        "a": np.where(task_id == 0, rng.integers(0, 2, n), -1),
        "b": np.where(task_id == 1, rng.integers(0, 3, n), -1),
        "tag": np.where(
            (task_id == 2)[:, None] & (tokens > 0), rng.integers(0, 2, (n, steps)), -1
        ),
    }
    return {"tokens": tokens, "task_id": task_id}, y


def test_outputs_fit_and_roundtrip():
    model = meta_lstm(TASKS, bidirectional=True, num_layers=2, seed=1, **SMALL)
    assert isinstance(model, MetaLSTMModel)
    x, y = stream()
    out = model.predict(x, verbose=0)
    assert out["a"].shape == (8, 2) and out["b"].shape == (8, 3)
    assert out["tag"].shape == (8, 5, 2)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert_model_roundtrip(model, x)


def test_each_example_uses_its_own_task_weights():
    model = meta_lstm(TASKS[:2], seed=2, **SMALL)
    x, _ = stream(n=4)
    x["task_id"] = np.array([0, 1, 0, 1], "int32")
    both = to_numpy(model.predict(x, verbose=0)["a"])
    for m in (0, 1):
        alone = {
            "tokens": x["tokens"][x["task_id"] == m],
            "task_id": np.full(2, m, "int32"),
        }
        assert_allclose(
            both[x["task_id"] == m], model.predict(alone, verbose=0)["a"], atol=1e-6
        )
    # Task 1's weights change only the outputs of task-1 examples.
    cell = model.get_layer("meta_lstm_1").cell
    q = to_numpy(cell.task_q).copy()
    width = cell.meta_vector_dim
    for g in range(4):
        q[:, (g * 2 + 1) * width : (g * 2 + 2) * width] += 1.0
    cell.task_q.assign(q)
    changed = to_numpy(model.predict(x, verbose=0)["a"])
    assert_allclose(changed[[0, 2]], both[[0, 2]], atol=1e-6)
    assert not np.allclose(changed[[1, 3]], both[[1, 3]])


def test_single_task_takes_tokens_alone():
    model = meta_lstm([Task("s", 2)], **SMALL)
    assert len(model.inputs) == 1
    x, y = stream()
    model.fit(x["tokens"], y["a"].clip(0), epochs=1, verbose=0)


def test_transfer_freezes_exactly_the_meta_parameters():
    source = meta_lstm(TASKS, bidirectional=True, seed=3, **SMALL)
    x, y = stream()
    source.fit(x, y, epochs=1, verbose=0)
    before = {w.path: to_numpy(w) for w in source.weights}
    new = meta_lstm_transfer(source, Task("new", 2), seed=4)
    frozen = {w.path.split("/")[-1] for w in new.non_trainable_weights}
    assert frozen == set(META_WEIGHTS) | {"embeddings"}
    assert len(new.non_trainable_weights) == 2 * len(META_WEIGHTS) + 1
    trainable = {w.path.split("/")[-1] for w in new.trainable_weights}
    assert trainable == set(TASK_WEIGHTS) | {"kernel", "bias"}
    copied = {w.path: w for w in new.get_layer("meta_lstm_1").weights}
    for old in source.get_layer("meta_lstm_1").weights:
        if old.name in META_WEIGHTS:
            assert_allclose(copied[old.path], old, atol=0)
    frozen_values = [to_numpy(w) for w in new.non_trainable_weights]
    trained_values = [to_numpy(w) for w in new.trainable_weights]
    new.fit(x["tokens"], y["a"].clip(0), epochs=2, batch_size=4, verbose=0)
    for w, value in zip(new.non_trainable_weights, frozen_values):
        assert_allclose(w, value, atol=0)
    assert any(
        not np.allclose(to_numpy(w), v)
        for w, v in zip(new.trainable_weights, trained_values)
    )
    for w in source.weights:  # the source model is left unchanged
        assert_allclose(w, before[w.path], atol=0)
    unfrozen = meta_lstm_transfer(source, Task("new", 2), freeze_embedding=False)
    assert {w.name for w in unfrozen.non_trainable_weights} == set(META_WEIGHTS)
    assert_model_roundtrip(new, x["tokens"])


def test_task_id_out_of_range_is_rejected():
    model = meta_lstm(TASKS, **SMALL)
    x, y = stream()
    x["task_id"] = x["task_id"] + 1
    with pytest.raises(ValueError, match="task_id"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="task_id"):
        model.predict(x, verbose=0)
    x["task_id"] = x["task_id"].astype("float32")
    with pytest.raises(TypeError, match="task_id"):
        model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"units": 0}, ValueError, "units"),
        ({"meta_units": 0}, ValueError, "meta_units"),
        ({"num_layers": 0}, ValueError, "num_layers"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional"),
        ({"readout": "max"}, ValueError, "readout"),
        ({"readout": "last", "bidirectional": True}, ValueError, "readout"),
        ({"vocab_size": None, "input_shape": (5,)}, ValueError, "input_shape"),
    ],
)
def test_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        meta_lstm(TASKS, **{**SMALL, **kwargs})


def test_wrong_input_rank_is_rejected():
    model = meta_lstm([Task("s", 2)], **SMALL)
    with pytest.raises(ValueError):
        model.predict(np.ones((2, 3, 4), "int32"), verbose=0)
    with pytest.raises(TypeError, match="Task"):
        meta_lstm_transfer(model, "new")
    with pytest.raises(TypeError, match="MetaLSTMNetwork"):
        meta_lstm_transfer(
            keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), Task("n", 2)
        )


def _multi_output_data(n=24, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 12, size=(n, steps))
    tokens[:, 4:] = 0
    y = {
        "s0": rng.integers(0, 2, n),
        "s1": np.where(np.arange(n) % 2 == 0, rng.integers(0, 3, n), -1),  # a subset
        "tag": np.where(tokens > 0, rng.integers(0, 4, (n, steps)), -1),
    }
    return tokens, y


MIXED_TASKS = [Task("s0", 2), Task("s1", 3), Task("tag", 4, sequence=True)]


def test_ordinary_multi_output_data_trains_without_task_ids():
    tokens, y = _multi_output_data()
    model = meta_lstm(MIXED_TASKS, seed=0, **SMALL)
    history = model.fit(tokens, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert {"s0_loss", "s1_loss", "tag_loss"} <= set(history.history)
    predictions = model.predict(tokens, verbose=0)
    assert predictions["s0"].shape == (24, 2) and predictions["tag"].shape == (24, 6, 4)
    scores = model.evaluate(tokens, y, verbose=0, return_dict=True)
    assert np.isfinite(scores["loss"])
    # Each task's prediction is what its own basic LSTM gives the example:
    # the same as with the example's task id.
    ids = np.arange(24) % 3
    with_ids = model.predict({"tokens": tokens, "task_id": ids}, verbose=0)
    for m, task in enumerate(MIXED_TASKS):
        np.testing.assert_allclose(
            with_ids[task.name][ids == m], predictions[task.name][ids == m], atol=1e-4
        )
    assert_model_roundtrip(model, tokens)


def test_multi_output_data_through_tf_data():
    tf = pytest.importorskip("tensorflow")
    tokens, y = _multi_output_data()
    model = meta_lstm(MIXED_TASKS, seed=0, **SMALL)
    stream = tf.data.Dataset.from_tensor_slices((tokens, y)).batch(8)
    history = model.fit(stream, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    bad = dict(y, s0=np.full(24, 5))
    with pytest.raises(ValueError, match="s0"):
        model.fit(tf.data.Dataset.from_tensor_slices((tokens, bad)).batch(8), verbose=0)


def test_last_readout_reads_each_sentence_at_its_last_token():
    model = meta_lstm(TASKS, readout="last", seed=1, **SMALL)
    assert model.get_config()["readout"] == "last"
    x, y = stream()
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    states = keras.Model(model.inputs, model.get_layer("meta_lstm_1").output)
    lengths = (x["tokens"] > 0).sum(axis=1)
    # the routed batch holds one copy per task; with task ids, one
    expected = to_numpy(states(x))[np.arange(8), lengths - 1]
    assert_allclose(to_numpy(pooled(x)), expected, atol=1e-6)
    assert_model_roundtrip(model, x)


def test_trains_on_one_task_batches():
    """`BucketedSequences(one_task_per_batch=True)`: the paper's batches."""
    x, y = stream(n=12)
    batches = BucketedSequences(x, y, batch_size=3, seed=0, one_task_per_batch=True)
    for index in range(len(batches)):
        inputs, labels = batches[index]
        assert len(set(inputs["task_id"].tolist())) == 1
        assert inputs["tokens"].shape[0] == labels["a"].shape[0]
    assert sorted(batches.example_order().tolist()) == list(range(12))
    model = meta_lstm(TASKS, seed=3, **SMALL)
    history = model.fit(batches, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    with pytest.raises(ValueError, match="task_id"):
        BucketedSequences(x["tokens"], y, one_task_per_batch=True)


# Torch's step is eager and Keras's own: nothing to compare there.
@pytest.mark.backends("jax", "tensorflow")
@pytest.mark.parametrize("weighting", ["equal", "pcgrad"])
def test_the_branched_train_step_trains_as_keras_step_does(weighting, monkeypatch):
    """One-task and mixed batches: the same weights as Keras's own step."""
    if weighting != "equal" and keras.backend.backend() != "jax":
        pytest.skip("a gradient strategy inside the branches: JAX only (time)")
    x, y = stream(n=12)
    order = np.argsort(x["task_id"], kind="stable")  # 3 one-task batches of 4
    rows = np.concatenate([order, np.arange(12)])  # then 3 mixed batches
    x = {key: value[rows] for key, value in x.items()}
    y = {key: value[rows] for key, value in y.items()}
    traced = []
    inner_loop = MetaLSTM.inner_loop

    def spy(layer, *args, **kwargs):
        traced.append((layer.name, layer.traced_batch_kind))
        return inner_loop(layer, *args, **kwargs)

    monkeypatch.setattr(MetaLSTM, "inner_loop", spy)
    trained = []
    bidirectional = weighting == "equal"  # one compile-heavy case is enough
    for keras_step in (False, True):
        model = meta_lstm(
            TASKS, bidirectional=bidirectional, weighting=weighting, seed=5, **SMALL
        )
        layers = model.meta_lstm_layers()
        assert len(layers) == (2 if bidirectional else 1)
        if keras_step:
            model.train_step = MultiTaskNetwork.train_step.__get__(model)
        traced.clear()
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        kinds = {"one_task", "mixed"} if not keras_step else {None}
        assert {(layer.name, kind) for layer in layers for kind in kinds} <= set(traced)
        assert all(layer.traced_batch_kind is None for layer in layers)
        trained.append([to_numpy(w) for w in model.trainable_weights])
    for branched, plain in zip(*trained):
        assert_allclose(branched, plain, atol=1e-5)


def test_names_are_kept():
    model = meta_lstm(TASKS, name="m", **SMALL)
    assert model.name == "m" and model.get_config()["name"] == "m"
    assert meta_lstm([Task("s", 2)], name="one", **SMALL).name == "one"
    assert meta_lstm_transfer(model, Task("new", 2)).name == "m_new"
