"""`rep_grad=True`: combining the gradients of the shared representation."""

import keras
import numpy as np
import pytest
from keras import ops
from testing import fixed_weights

from keras_mtl import Task, models, weighting
from keras_mtl.models import HardSharingNetwork, MultiTaskModel, SingleTaskNetwork

TASKS = [Task("a", 3), Task("b")]


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    a = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    b = (x[:, 2] - x[:, 3]).astype("float32")
    a[:4] = -1
    b[rng.random(n) < 0.3] = np.nan
    return x, {"a": a, "b": b}


def _functional(penalty=0.1):
    """Shared (L2-penalised) layer → a private layer for `a`; `b` reads the
    shared layer directly: the representation is one tensor read twice."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    shared = keras.layers.Dense(
        4, "tanh", kernel_regularizer=keras.regularizers.L2(penalty), name="shared"
    )(inputs)
    private = keras.layers.Dense(3, "tanh", name="private")(shared)
    outputs = {
        "a": keras.layers.Dense(3, "softmax", name="a")(private),
        "b": keras.layers.Dense(1, name="b")(shared),
    }
    return MultiTaskModel(inputs, outputs, tasks=TASKS, name="graph")


def _one_sgd_step(net, x, y, batch_size=None):
    start = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    net.fit(x, y, batch_size=batch_size or len(x), epochs=1, shuffle=False, verbose=0)
    end = [ops.convert_to_numpy(v) for v in net.trainable_variables]
    return {v.path: e - s for v, s, e in zip(net.trainable_variables, start, end)}


def _assert_same(mine, theirs):
    assert set(mine) == set(theirs)
    for path in mine:
        np.testing.assert_allclose(
            mine[path], theirs[path], rtol=2e-4, atol=1e-6, err_msg=path
        )


def test_unit_weights_equal_the_keras_step():
    """Weights 1 on every task's representation gradient, plus the penalty:
    the summed representation gradient backpropagated once is the gradient of
    the summed loss (Keras's own step), also with a missing-label batch."""
    x, y = _data()
    ours = _functional()
    ours.compile(
        optimizer=keras.optimizers.SGD(0.1),
        weighting=fixed_weights([1.0, 1.0], rep_grad=True),
    )
    assert len(ours._representation().tensors) == 1
    plain = _functional()
    plain.compile(optimizer=keras.optimizers.SGD(0.1))
    _assert_same(_one_sgd_step(ours, x, y, 8), _one_sgd_step(plain, x, y, 8))


def _tagger(strategy, implicit_mask):
    """Tokens with padding, a tagging task and a pooled sentence task."""
    tasks = [Task("tag", 3, sequence=True), Task("label", 2)]
    if not implicit_mask:  # the library's builder: explicit padding masks
        net = HardSharingNetwork(
            tasks,
            vocab_size=10,
            embedding_dim=4,
            units=4,
            num_layers=1,
            encoder="mlp",
            seed=0,
        )
    else:  # Keras masks carried by the tensors (Embedding(mask_zero=True))
        keras.utils.set_random_seed(0)
        tokens = keras.Input((None,), dtype="int32")
        h = keras.layers.Embedding(10, 4, mask_zero=True, name="emb")(tokens)
        h = keras.layers.Dense(4, "tanh", name="shared")(h)
        pooled = keras.layers.GlobalAveragePooling1D()(h)
        outputs = {
            "tag": keras.layers.Dense(3, "softmax", name="tag")(h),
            "label": keras.layers.Dense(2, "softmax", name="label")(pooled),
        }
        net = MultiTaskModel(tokens, outputs, tasks=tasks)
    net.compile(optimizer=keras.optimizers.SGD(0.5), weighting=strategy)
    return net


@pytest.mark.parametrize(
    "implicit_mask", [pytest.param(False, marks=pytest.mark.backends("jax")), True]
)
def test_masked_sequences_keep_their_mask_across_the_cut(implicit_mask):
    """The task layers read the padding mask as it is (a boolean tensor of
    the shared part: not part of the representation) and give the Keras
    step's update (Embedding(mask_zero=True), or the builders' masks)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 9, size=(8, 6))
    tokens[:, 4:] = 0
    tokens[:3, 2:] = 0
    tags = np.where(tokens > 0, tokens % 3, -1)
    y = {"tag": tags, "label": (tokens[:, 0] > 4).astype("int64")}
    ours = _tagger(fixed_weights([1.0, 1.0], rep_grad=True), implicit_mask)
    plain = _tagger("equal", implicit_mask)
    _assert_same(_one_sgd_step(ours, tokens, y), _one_sgd_step(plain, tokens, y))


@pytest.mark.parametrize(
    "name", ["mgda", pytest.param("imtl", marks=pytest.mark.backends("jax"))]
)
def test_identical_tasks_give_the_parameter_gradient_result(name):
    """Two copies of one task (same labels, same head): every representation
    gradient and every parameter gradient is the same for both tasks, so
    rep_grad gives the update of the parameter-gradient path."""
    tasks = [Task("a"), Task("b")]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5)).astype("float32")
    target = (x[:, 0] - 2 * x[:, 1]).astype("float32")

    def build(rep_grad):
        net = HardSharingNetwork(tasks, input_shape=(5,), units=6, num_layers=2, seed=0)
        net.get_layer("b").set_weights(net.get_layer("a").get_weights())
        strategy = type(weighting.get(name))(rep_grad=rep_grad)
        net.compile(optimizer=keras.optimizers.SGD(0.05), weighting=strategy)
        return net

    y = {"a": target, "b": target}
    _assert_same(_one_sgd_step(build(True), x, y), _one_sgd_step(build(False), x, y))


def _mgda_two_tasks(c1, c2):
    """MGDA's closed form for two tasks (Sener & Koltun, Algorithm 1)."""
    k11, k22, k12 = np.sum(c1 * c1), np.sum(c2 * c2), np.sum(c1 * c2)
    w1 = np.clip((k22 - k12) / (k11 + k22 - 2 * k12), 0.0, 1.0)
    return w1, 1.0 - w1


def test_mgda_on_the_representation_matches_numpy():
    """A linear shared layer h = xW + c and two linear regression heads: the
    step is MGDA's weights on ∂L_m/∂h, the combined ∂/∂h backpropagated
    through W, c, and each head's own gradient."""
    tasks = [Task("a"), Task("b")]
    keras.utils.set_random_seed(5)
    inputs = keras.Input((3,))
    h = keras.layers.Dense(4, name="shared")(inputs)
    outputs = {name: keras.layers.Dense(1, name=name)(h) for name in ("a", "b")}
    net = MultiTaskModel(inputs, outputs, tasks=tasks)
    lr = 0.1
    net.compile(
        optimizer=keras.optimizers.SGD(lr),
        weighting=weighting.MGDA(rep_grad=True, max_iterations=200),
    )
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = {"a": rng.normal(size=10).astype("float32"), "b": x[:, 0].copy()}
    W, c = (ops.convert_to_numpy(v) for v in net.get_layer("shared").weights)
    heads = {m: [ops.convert_to_numpy(v) for v in net.get_layer(m).weights] for m in y}
    delta = _one_sgd_step(net, x, y)

    n = len(x)
    hidden = x @ W + c
    residual = {m: (hidden @ heads[m][0] + heads[m][1])[:, 0] - y[m] for m in y}
    rep = {m: (2.0 / n) * residual[m][:, None] * heads[m][0][:, 0][None, :] for m in y}
    w1, w2 = _mgda_two_tasks(rep["a"], rep["b"])
    d = w1 * rep["a"] + w2 * rep["b"]
    expected = {"shared/kernel": -lr * x.T @ d, "shared/bias": -lr * d.sum(0)}
    for m in y:
        g = (2.0 / n) * residual[m]
        expected[f"{m}/kernel"] = -lr * (hidden.T @ g)[:, None]
        expected[f"{m}/bias"] = -lr * np.array([g.sum()])
    _assert_same(delta, expected)


@pytest.mark.backends("jax")
def test_rep_grad_is_configured_and_saved(tmp_path):
    strategy = weighting.PCGrad(rep_grad=True, seed=1)
    assert strategy.get_config()["rep_grad"] is True
    assert weighting.MGDA().rep_grad is False
    copy = weighting.deserialize(weighting.serialize(strategy))
    assert copy.rep_grad is True and copy.seed == 1
    assert weighting.IMTL.from_config(weighting.IMTL().get_config()).rep_grad is False
    with pytest.raises(TypeError, match="rep_grad"):
        weighting.CAGrad(rep_grad="yes")
    with pytest.raises(ValueError):
        weighting.Uncertainty(rep_grad=True)  # loss-based: no such argument
    x, y = _data(16)
    net = models.hard_sharing(
        TASKS, input_shape=(5,), units=6, seed=0, weighting=strategy
    )
    net.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.weighting.rep_grad is True
    assert loaded.get_config() == net.get_config()
    history = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.backends("jax")
def test_models_without_a_shared_representation_are_refused():
    reused = keras.layers.Dense(5, name="reused")
    inputs = keras.Input((5,))
    top = reused(inputs)
    outputs = {
        "a": keras.layers.Dense(3, "softmax", name="a")(reused(top)),
        "b": keras.layers.Dense(1, name="b")(top),
    }
    net = MultiTaskModel(inputs, outputs, tasks=TASKS)
    net.compile(weighting="mgda")  # parameter gradients: fine
    with pytest.raises(ValueError, match="rep_grad.*reused"):
        net.compile(weighting=weighting.MGDA(rep_grad=True))
    separate = SingleTaskNetwork(TASKS, input_shape=(5,), units=4, num_layers=1)
    with pytest.raises(ValueError, match="weighting=MGDA"):
        separate.compile(weighting=weighting.MGDA(rep_grad=True))
