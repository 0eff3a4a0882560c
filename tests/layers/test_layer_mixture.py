import numpy as np
import pytest
from testing import assert_layer_config_roundtrip, layer_in_model_roundtrip, to_numpy

from keras_mtl.layers import LayerMixture, SubspaceConcat


def test_matches_numpy_weighted_sum():
    rng = np.random.default_rng(0)
    beta = np.array([0.2, -1.0, 3.0], "float32")
    xs = [rng.normal(size=(2, 3, 4)).astype("float32") for _ in range(3)]
    out = LayerMixture(3, beta_init=beta)(xs)
    np.testing.assert_allclose(
        to_numpy(out), sum(b * x for b, x in zip(beta, xs)), rtol=1e-5, atol=1e-6
    )


def test_named_inits():
    last = LayerMixture(3)
    last.build([(None, 2)] * 3)
    np.testing.assert_allclose(last.beta_vector(), [0.05, 0.05, 0.9], rtol=1e-6)
    balanced = LayerMixture(4, beta_init="balanced")
    balanced.build([(None, 2)] * 4)
    np.testing.assert_allclose(balanced.beta_vector(), 0.25)
    single = LayerMixture(1)
    single.build([(None, 2)])
    np.testing.assert_allclose(single.beta_vector(), [1.0])


def test_one_hot_frozen_reads_one_layer():
    xs = [np.full((1, 2), float(k), "float32") for k in range(3)]
    mix = LayerMixture(3, beta_init=[0.0, 1.0, 0.0], trainable=False)
    np.testing.assert_array_equal(to_numpy(mix(xs)), xs[1])
    assert mix.trainable_weights == []


def test_round_trips():
    assert_layer_config_roundtrip(LayerMixture(2, beta_init=[0.3, 0.7]))
    xs = [np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")]
    layer_in_model_roundtrip(LayerMixture(2, beta_init="balanced"), xs)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"num_layers": 0}, ValueError),
        ({"num_layers": "2"}, TypeError),
        ({"num_layers": 2, "beta_init": "first"}, ValueError),
        ({"num_layers": 2, "beta_init": [1.0, 2.0, 3.0]}, ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match="num_layers|beta_init"):
        LayerMixture(**kwargs)


def test_subspace_concat_keeps_subspaces_contiguous():
    a = np.array([[1, 2, 3, 4]], "float32")
    b = np.array([[5, 6, 7, 8]], "float32")
    out = SubspaceConcat(2)([a, b])
    np.testing.assert_array_equal(to_numpy(out), [[1, 2, 5, 6, 3, 4, 7, 8]])
    np.testing.assert_array_equal(
        to_numpy(SubspaceConcat(1)([a, b])), np.concatenate([a, b], -1)
    )
    assert_layer_config_roundtrip(SubspaceConcat(2))
    with pytest.raises(ValueError, match="num_subspaces"):
        SubspaceConcat(3)([a, b])
