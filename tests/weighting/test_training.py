"""Training with every strategy inside `model.fit` (run once per backend)."""

import keras
import numpy as np
import pytest
from keras import ops
from testing import fixed_weights

from keras_mtl import Task, models, weighting
from keras_mtl.models import HardSharingNetwork, MultiTaskModel, SingleTaskNetwork

TASKS = [Task("a", 3), Task("b")]


# Every MultiTaskModel trains with a strategy (`compile(weighting=...)`).
_Model, _Separate, _Functional = HardSharingNetwork, SingleTaskNetwork, MultiTaskModel


def functional(cls):
    """A hand-built graph: a shared L2-regularised layer, a private layer for
    `a`, a head per task."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    shared = keras.layers.Dense(
        4, "tanh", kernel_regularizer=keras.regularizers.L2(0.1), name="shared"
    )(inputs)
    private = keras.layers.Dense(3, "tanh", name="private")(shared)
    outputs = {
        "a": keras.layers.Dense(3, "softmax", name="a")(private),
        "b": keras.layers.Dense(1, name="b")(shared),
    }
    return cls(inputs, outputs, tasks=TASKS, name="weighted_graph")


def data(n=32, seed=0):
    """Two tasks; the first batch of 8 has no label for `a`; `b` misses some."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    a = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    b = (x[:, 2] - x[:, 3]).astype("float32")
    a[:8] = -1
    b[rng.random(n) < 0.3] = np.nan
    return x, {"a": a, "b": b}


def model(cls=_Model, **kwargs):
    return cls(TASKS, input_shape=(5,), units=6, num_layers=1, seed=0, **kwargs)


def _state(strategy):
    """The strategy's state (random-generator positions are not saved)."""
    return {v.name: ops.convert_to_numpy(v) for v in strategy.weights}


@pytest.mark.parametrize("name", sorted(weighting.STRATEGIES))
def test_every_strategy_trains_saves_and_loads(name, tmp_path):
    """3 epochs of 2 batches, the first without labels for `a`; then `.keras`."""
    x, y = data(16)
    net = model()
    net.compile(weighting=name)
    start = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    history = net.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    # "equal" trains with Keras's own step: no weights to log
    logged = ("loss",) if name == "equal" else ("loss", "weight_a", "weight_b")
    for key in logged:
        assert len(history.history[key]) == 3
        assert np.all(np.isfinite(history.history[key])), (key, history.history)
    end = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    assert all(np.all(np.isfinite(v)) for v in end)
    assert all(not np.allclose(s, e) for s, e in zip(start, end))
    if name == "dwa":  # w = 1 for two epochs, then from the loss ratios
        np.testing.assert_allclose(history.history["weight_a"][:2], 1.0)
        assert history.history["weight_a"][2] != pytest.approx(1.0, abs=1e-6)
    state = _state(net.weighting)
    if not state and name != "mgda":
        return  # stateless: one of them goes through saving below
    if name in ("uncertainty", "famo", "gradnorm", "dwa"):
        assert any(np.abs(v).max() > 0 for v in state.values())
    net.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.weighting) is type(net.weighting)
    assert loaded.weighting.get_config() == net.weighting.get_config()
    restored = _state(loaded.weighting)
    assert restored.keys() == state.keys()
    for key in state:
        np.testing.assert_allclose(restored[key], state[key], err_msg=key)


def test_shared_variables_come_from_the_graph():
    net = model()
    net.compile(weighting="mgda")
    roles = dict(zip([v.path for v in net.trainable_variables], net._roles()))
    assert {p for p, r in roles.items() if r == "shared"} == {
        "shared_layer_1/kernel",
        "shared_layer_1/bias",
    }
    assert roles["a/kernel"] == roles["b/bias"] == "task"


def _one_sgd_step(net, x, y):
    start = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    net.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    end = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    return {v.path: e - s for v, s, e in zip(net.trainable_variables, start, end)}


def test_shared_weights_apply_to_shared_variables_only():
    """Weights (2, 0): shared get 2 g_a; each head its own task's gradient."""
    x, y = data()
    x, y = x[8:], {k: v[8:] for k, v in y.items()}
    ours = model()
    ours.compile(
        optimizer=keras.optimizers.SGD(0.1), weighting=fixed_weights([2.0, 0.0])
    )
    delta = _one_sgd_step(ours, x, y)
    plain = HardSharingNetwork(TASKS, input_shape=(5,), units=6, num_layers=1, seed=0)
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss_weights={"a": 2, "b": 0})
    reference = _one_sgd_step(plain, x, y)
    for path, change in delta.items():
        if path.startswith("b/"):  # b's head: its own gradient, not weight 0
            assert np.abs(change).max() > 1e-4
            continue
        scale = 2.0 if path.startswith("a/") else 1.0
        np.testing.assert_allclose(
            change, reference[path] / scale, rtol=1e-4, atol=1e-6
        )


def test_unit_weights_with_a_penalty_equal_the_keras_step():
    """On a `MultiTaskModel` graph with a weight penalty: weights 1 on every
    task gradient plus the penalty's gradient is Keras's own step."""
    x, y = data()
    ours = functional(_Functional)
    ours.compile(
        optimizer=keras.optimizers.SGD(0.1), weighting=fixed_weights([1.0, 1.0])
    )
    roles = dict(zip([v.path for v in ours.trainable_variables], ours._roles()))
    assert roles == {
        "shared/kernel": "shared",
        "shared/bias": "shared",
        "private/kernel": "task",
        "private/bias": "task",
        "a/kernel": "task",
        "a/bias": "task",
        "b/kernel": "task",
        "b/bias": "task",
    }
    plain = functional(MultiTaskModel)
    plain.compile(optimizer=keras.optimizers.SGD(0.1))
    mine, theirs = _one_sgd_step(ours, x, y), _one_sgd_step(plain, x, y)
    assert set(mine) == set(theirs)
    for path in mine:
        np.testing.assert_allclose(mine[path], theirs[path], rtol=1e-4, atol=1e-6)


def test_gradient_strategy_needs_shared_parameters():
    net = model(cls=_Separate)
    net.compile(weighting="uncertainty")  # loss-based: fine
    with pytest.raises(ValueError, match="weighting=PCGrad"):
        net.compile(weighting="pcgrad")


def test_unknown_strategy_in_compile():
    with pytest.raises(ValueError, match="weighting"):
        model().compile(weighting="balanced")


def test_builders_take_a_weighting_and_keep_it(tmp_path):
    x, y = data(16)
    net = models.hard_sharing(
        TASKS, input_shape=(5,), units=8, seed=0, weighting="uncertainty"
    )
    assert net.get_config()["weighting"] == "uncertainty"
    history = net.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["weight_a"]).all()
    net.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.weighting) is weighting.Uncertainty
    assert loaded.get_config() == net.get_config()
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0)["a"], net.predict(x, verbose=0)["a"], atol=1e-6
    )


def test_crf_tasks_train_with_equal_weighting_only():
    tasks = [Task("chunk", 3, sequence=True, crf=True), Task("pos", 4, sequence=True)]
    with pytest.raises(ValueError, match="CRF"):
        models.hard_sharing(
            tasks, vocab_size=10, embedding_dim=4, units=4, weighting="pcgrad"
        )
