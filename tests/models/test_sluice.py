"""Sluice networks, their special cases, and every foundation builder end to end."""

import keras
import numpy as np
import pytest
from testing import assert_model_roundtrip

from keras_mtl import Task, models
from keras_mtl.layers import LayerMixture, SluiceUnit

FEATURE_TASKS = [Task("a", num_classes=3), Task("b")]
TOKEN_TASKS = [
    Task("tag", num_classes=4, sequence=True),
    Task("sent", num_classes=2),
]
BUILDERS = ["hard_sharing", "single_task", "cross_stitch", "low_supervision", "sluice"]


def feature_data(n=24, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = {
        "a": np.where(rng.random(n) < 0.2, -1, rng.integers(0, 3, n)),
        "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)).astype(
            "float32"
        ),
    }
    return x, y


def token_data(n=16, length=6, vocab=12, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, length + 1, n)
    x = rng.integers(1, vocab, (n, length)).astype("int32")
    x[np.arange(length)[None, :] >= lengths[:, None]] = 0
    tags = np.where(x > 0, rng.integers(0, 4, x.shape), -1)
    return x, {"tag": tags, "sent": rng.integers(0, 2, n)}


def build(builder, tasks, **kwargs):
    return getattr(models, builder)(tasks, units=8, num_layers=2, seed=3, **kwargs)


@pytest.mark.parametrize("builder", BUILDERS)
def test_feature_builders_fit_and_round_trip(builder):
    x, y = feature_data()
    model = build(builder, FEATURE_TASKS, input_shape=(5,))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert sorted(model.output_names if hasattr(model, "output_names") else []) in (
        [],
        ["a", "b"],
    )
    predictions = model.predict(x, verbose=0)
    assert set(predictions) == {"a", "b"}
    assert predictions["a"].shape == (24, 3) and predictions["b"].shape == (24, 1)
    restored = assert_model_roundtrip(model, x)
    assert [t.name for t in restored.tasks] == ["a", "b"]


@pytest.mark.parametrize(
    "builder, encoder",
    [
        ("sluice", "bilstm"),
        ("sluice", "lstm"),
        ("cross_stitch", "bilstm"),
        ("hard_sharing", "lstm"),
        ("single_task", "bilstm"),
        ("low_supervision", "mlp"),
    ],
)
def test_token_builders_fit_and_round_trip(builder, encoder):
    x, y = token_data()
    model = build(builder, TOKEN_TASKS, vocab_size=12, embedding_dim=4, encoder=encoder)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    predictions = model.predict(x, verbose=0)
    assert predictions["tag"].shape == (16, 6, 4)
    assert predictions["sent"].shape == (16, 2)
    assert_model_roundtrip(model, x)


def copy_weights(source_layers, target_layers):
    for source, target in zip(source_layers, target_layers):
        target.set_weights(source.get_weights())


def encoder_layers(model, task):
    return [model.get_layer(f"{task}_layer_{k}") for k in (1, 2)]


def test_single_task_equals_sluice_with_identity_frozen_alpha():
    x, _ = feature_data()
    plain = build("single_task", FEATURE_TASKS, input_shape=(5,))
    special = build(
        "sluice",
        FEATURE_TASKS,
        input_shape=(5,),
        alpha_init="identity",
        alpha_trainable=False,
        beta_init=[0.0, 1.0],
        beta_trainable=False,
        orthogonality_weight=0.0,
    )
    for task in ("a", "b"):
        copy_weights(encoder_layers(plain, task), encoder_layers(special, task))
        copy_weights([plain.get_layer(task)], [special.get_layer(task)])
    expected = plain.predict(x, verbose=0)
    actual = special.predict(x, verbose=0)
    for task in ("a", "b"):
        np.testing.assert_allclose(actual[task], expected[task], rtol=1e-5, atol=1e-6)
    trainable = {v.path.split("/")[0] for v in special.trainable_variables}
    assert not any(name.startswith("sluice_unit") for name in trainable)


def test_cross_stitch_is_sluice_with_one_subspace_and_last_layer_beta():
    x, y = feature_data()
    stitch = build("cross_stitch", FEATURE_TASKS, input_shape=(5,))
    sluice = build(
        "sluice",
        FEATURE_TASKS,
        input_shape=(5,),
        num_subspaces=1,
        beta_init=[0.0, 1.0],
        beta_trainable=False,
        orthogonality_weight=0.0,
    )
    units = [layer for layer in stitch.layers if isinstance(layer, SluiceUnit)]
    assert [u.alpha_matrix().shape for u in units] == [(2, 2), (2, 2)]
    assert all(u.trainable for u in units)
    for mixture in (x for x in stitch.layers if isinstance(x, LayerMixture)):
        np.testing.assert_array_equal(mixture.beta_vector(), [0.0, 1.0])
        assert not mixture.trainable
    sluice.set_weights(stitch.get_weights())
    np.testing.assert_allclose(
        sluice.predict(x, verbose=0)["a"], stitch.predict(x, verbose=0)["a"], rtol=1e-6
    )
    assert stitch.losses == [] or all(float(loss) == 0 for loss in stitch.losses)


def test_cross_stitch_unit_is_the_two_task_linear_combination():
    alpha = np.array([[0.7, 0.3], [0.4, 0.6]], "float32")
    h_a, h_b = np.ones((1, 3), "float32"), np.full((1, 3), 2.0, "float32")
    out_a, out_b = SluiceUnit(2, 1, alpha_init=alpha)([h_a, h_b])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out_a), 0.7 + 0.6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out_b), 0.4 + 1.2)


def test_low_supervision_head_reads_the_chosen_layer():
    x, _ = feature_data()
    model = build(
        "low_supervision", FEATURE_TASKS, input_shape=(5,), supervise_at={"a": 1}
    )
    layer_1 = keras.Model(model.input, model.get_layer("shared_layer_1").output)
    head = model.get_layer("a")
    expected = head(layer_1(x))
    np.testing.assert_allclose(
        model.predict(x, verbose=0)["a"],
        keras.ops.convert_to_numpy(expected),
        rtol=1e-5,
    )
    assert model.get_layer("b").input.shape == (None, 8)


def test_hard_sharing_has_one_encoder_shared_by_all_heads():
    model = build("hard_sharing", FEATURE_TASKS, input_shape=(5,))
    encoder_names = [layer.name for layer in model.layers if "layer_" in layer.name]
    assert encoder_names == ["shared_layer_1", "shared_layer_2"]
    single = build("single_task", FEATURE_TASKS, input_shape=(5,))
    assert model.count_params() < single.count_params()


def test_orthogonality_penalty_is_added_to_the_loss():
    model = build("sluice", FEATURE_TASKS, input_shape=(5,), orthogonality_weight=1.0)
    assert len(model.losses) == 4  # one kernel regularizer per task layer
    acts = build(
        "sluice",
        FEATURE_TASKS,
        input_shape=(5,),
        orthogonality="activations",
        orthogonality_weight=1.0,
    )
    x, _ = feature_data()
    acts(x)
    assert len(acts.losses) == 2  # one activation penalty per sluice unit


def test_sluice_subspace_orthogonality_penalty_values_for_lstm():
    model = build(
        "sluice", TOKEN_TASKS, vocab_size=12, encoder="lstm", orthogonality_weight=1.0
    )
    assert len(model.losses) == 8  # kernel + recurrent kernel, 2 tasks x 2 layers
    assert all(float(keras.ops.convert_to_numpy(v)) > 0 for v in model.losses)


def test_training_loss_ignores_missing_labels_exactly():
    x, y = feature_data(n=8)
    model = build("hard_sharing", FEATURE_TASKS, input_shape=(5,))
    results = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    predictions = model.predict(x, verbose=0)
    keep = y["a"] >= 0
    ce = -np.mean(np.log(predictions["a"][keep, y["a"][keep]]))
    have = ~np.isnan(y["b"])
    mse = np.mean((predictions["b"][have, 0] - y["b"][have]) ** 2)
    np.testing.assert_allclose(results["a_loss"], ce, rtol=1e-4)
    np.testing.assert_allclose(results["b_loss"], mse, rtol=1e-4)
    np.testing.assert_allclose(results["loss"], ce + mse, rtol=1e-4)


def test_sluice_trains_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    x, y = feature_data()
    model = build("sluice", FEATURE_TASKS, input_shape=(5,))
    unit = model.get_layer("sluice_unit_1")
    assert unit.compute_dtype == "bfloat16" and unit.alpha.dtype == "float32"
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x, verbose=0)["a"].dtype == np.float32
