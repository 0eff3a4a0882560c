import keras
import numpy as np
import pytest
from testing import (
    assert_layer_config_roundtrip,
    layer_in_model_roundtrip,
    to_numpy,
)

from keras_mtl.layers import SluiceUnit


def _numpy_sluice(inputs, alpha, num_subspaces):
    """h~[i] = sum_j alpha[i, j] h[j], block i = m * S + s (SluiceUnit's order)."""
    blocks = [b for x in inputs for b in np.split(x, num_subspaces, axis=-1)]
    mixed = [
        sum(alpha[i, j] * blocks[j] for j in range(len(blocks)))
        for i in range(len(blocks))
    ]
    s = num_subspaces
    return [np.concatenate(mixed[m * s : (m + 1) * s], -1) for m in range(len(inputs))]


@pytest.mark.parametrize(
    "num_tasks, num_subspaces, shape",
    [
        (2, 2, (3, 6)),
        (3, 3, (2, 4, 9)),
        (1, 2, (2, 4)),
        (2, 1, (2, 5)),
    ],
)
def test_matches_numpy_formula(num_tasks, num_subspaces, shape):
    rng = np.random.default_rng(0)
    size = num_tasks * num_subspaces
    alpha = rng.normal(size=(size, size)).astype("float32")
    inputs = [rng.normal(size=shape).astype("float32") for _ in range(num_tasks)]
    unit = SluiceUnit(num_tasks, num_subspaces, alpha_init=alpha)
    outputs = unit(inputs)
    expected = _numpy_sluice(inputs, alpha, num_subspaces)
    for actual, wanted in zip(outputs, expected):
        np.testing.assert_allclose(to_numpy(actual), wanted, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(unit.alpha_matrix(), alpha)


def test_index_order_is_task_major():
    # alpha moves block 1 (task 0, subspace 1) into block 2 (task 1, subspace 0).
    alpha = np.zeros((4, 4), "float32")
    alpha[2, 1] = 1.0
    a = np.array([[1.0, 2.0, 3.0, 4.0]], "float32")
    b = np.zeros((1, 4), "float32")
    out_a, out_b = SluiceUnit(2, 2, alpha_init=alpha)([a, b])
    np.testing.assert_array_equal(to_numpy(out_b), [[3.0, 4.0, 0.0, 0.0]])
    np.testing.assert_array_equal(to_numpy(out_a), np.zeros((1, 4)))


def test_named_inits():
    imbalanced = SluiceUnit(2, 2)
    imbalanced.build([(None, 4), (None, 4)])
    alpha = imbalanced.alpha_matrix()
    np.testing.assert_allclose(np.diag(alpha), 0.9)
    np.testing.assert_allclose(alpha[0, 1:], 0.1 / 3, rtol=1e-6)
    np.testing.assert_allclose(alpha.sum(1), 1.0, rtol=1e-6)
    balanced = SluiceUnit(2, 3, alpha_init="balanced")
    balanced.build([(None, 6), (None, 6)])
    np.testing.assert_allclose(balanced.alpha_matrix(), 1 / 6)


def test_identity_frozen_is_passthrough_and_not_trainable():
    unit = SluiceUnit(2, 2, alpha_init="identity", trainable=False)
    x = [np.ones((2, 4), "float32"), np.full((2, 4), 2.0, "float32")]
    for actual, wanted in zip(unit(x), x):
        np.testing.assert_array_equal(to_numpy(actual), wanted)
    assert unit.trainable_weights == [] and len(unit.non_trainable_weights) == 1


def test_activation_orthogonality_penalty_matches_numpy():
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(5, 4)).astype("float32") for _ in range(2)]
    unit = SluiceUnit(2, 2, activation_orthogonality=0.5)
    unit(x)
    expected = 0.0
    for h in x:
        expected += np.sum((h[:, :2].T @ h[:, 2:]) ** 2) / 25
    np.testing.assert_allclose(to_numpy(unit.losses[0]), 0.5 * expected, rtol=1e-4)


def test_masks_pass_through_in_a_sequence_model():
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    mixed = SluiceUnit(2, 2)([embedded, embedded])
    assert mixed[0]._keras_mask is not None


def test_config_and_saved_model_round_trip():
    unit = SluiceUnit(2, 2, alpha_init=np.eye(4).tolist(), name="su")
    clone = assert_layer_config_roundtrip(unit)
    assert clone.num_subspaces == 2
    x = [np.random.default_rng(0).normal(size=(3, 6)).astype("float32")] * 2
    layer_in_model_roundtrip(SluiceUnit(2, 3), x)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_tasks": 0}, ValueError, "num_tasks"),
        ({"num_tasks": 2.0}, TypeError, "num_tasks"),
        ({"num_tasks": 2, "num_subspaces": 0}, ValueError, "num_subspaces"),
        ({"num_tasks": 2, "alpha_init": "random"}, ValueError, "alpha_init"),
        (
            {"num_tasks": 2, "alpha_init": np.eye(3)},
            ValueError,
            r"alpha_init.*\(4, 4\)",
        ),
        ({"num_tasks": 2, "activation_orthogonality": -1}, ValueError, "activation"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SluiceUnit(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="num_subspaces"):
        SluiceUnit(2, 3)([np.ones((1, 4)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="list of num_tasks=2"):
        SluiceUnit(2, 2)([np.ones((1, 4))])
    with pytest.raises(ValueError, match="same shape"):
        SluiceUnit(2, 2)([np.ones((1, 4)), np.ones((1, 6))])
