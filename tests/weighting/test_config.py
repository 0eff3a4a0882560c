"""Strategies by name, serialization round trips and bad hyperparameters."""

import keras
import numpy as np
import pytest

from keras_mtl import weighting

NON_DEFAULT = {
    "equal": {},
    "uncertainty": {},
    "dwa": {"temperature": 3.0},
    "rlw": {"seed": 4},
    "gls": {},
    "famo": {"learning_rate": 0.1, "weight_decay": 0.0, "optimizer": "sgd"},
    "gradnorm": {"alpha": 0.5, "learning_rate": 0.01},
    "mgda": {"max_iterations": 7},
    "pcgrad": {"shuffle": False, "seed": 2},
    "cagrad": {"c": 0.2, "max_iterations": 9},
    "imtl": {},
    "nash_mtl": {"max_iterations": 5},
    "aligned_mtl": {},
    "upgrad": {"max_iterations": 11},
}


def test_every_api_name_is_available():
    expected = {
        "equal",
        "uncertainty",
        "dwa",
        "rlw",
        "gls",
        "famo",
        "gradnorm",
        "mgda",
        "pcgrad",
        "cagrad",
        "imtl",
        "nash_mtl",
        "aligned_mtl",
        "upgrad",
    }
    assert set(weighting.STRATEGIES) == expected == set(NON_DEFAULT)
    for name in expected:
        strategy = weighting.get(name)
        assert isinstance(strategy, weighting.Weighting)
        assert weighting.get(name.upper()).__class__ is strategy.__class__
        gradient_based = isinstance(strategy, weighting.GradientWeighting)
        assert strategy.needs_gradients == gradient_based
        if gradient_based or name == "equal":
            assert callable(strategy.aggregate)
    assert isinstance(weighting.get(None), weighting.Equal)


def test_paper_defaults():
    assert weighting.DWA().temperature == 2.0
    assert weighting.CAGrad().c == 0.5
    assert weighting.GradNorm().alpha == 1.5
    famo = weighting.FAMO()
    assert (famo.learning_rate, famo.weight_decay) == (0.025, 0.001)
    assert weighting.PCGrad().shuffle is True


@pytest.mark.parametrize("name", sorted(NON_DEFAULT))
def test_serialization_round_trip(name):
    strategy = weighting.STRATEGIES[name](**NON_DEFAULT[name])
    config = weighting.serialize(strategy)
    restored = weighting.deserialize(config)
    assert type(restored) is type(strategy)
    for key, value in NON_DEFAULT[name].items():
        assert getattr(restored, key) == value
    assert restored.get_config() == strategy.get_config()
    assert isinstance(weighting.get(config), type(strategy))
    # Through Keras's own registry (what `.keras` files use).
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(strategy)
    )
    assert again.get_config() == strategy.get_config()


def test_unknown_name_names_the_argument():
    with pytest.raises(ValueError, match="weighting.*'nope'"):
        weighting.get("nope")
    with pytest.raises(TypeError, match="weighting"):
        weighting.get(3)
    with pytest.raises(ValueError, match="task-weighting"):
        weighting.deserialize(
            keras.saving.serialize_keras_object(keras.layers.Dense(2))
        )


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: weighting.CAGrad(c=-0.1), "c"),
        (lambda: weighting.DWA(temperature=0), "temperature"),
        (lambda: weighting.DWA(temperature=-1.0), "temperature"),
        (lambda: weighting.FAMO(learning_rate=0.0), "learning_rate"),
        (lambda: weighting.FAMO(weight_decay=-1.0), "weight_decay"),
        (lambda: weighting.FAMO(optimizer="rmsprop"), "optimizer"),
        (lambda: weighting.GradNorm(alpha=-0.5), "alpha"),
        (lambda: weighting.GradNorm(learning_rate=-1.0), "learning_rate"),
        (lambda: weighting.MGDA(max_iterations=0), "max_iterations"),
        (lambda: weighting.NashMTL(max_iterations=0), "max_iterations"),
        (lambda: weighting.UPGrad(max_iterations=-2), "max_iterations"),
        (lambda: weighting.CAGrad(c=float("nan")), "c"),
    ],
)
def test_bad_hyperparameters_raise_value_error(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: weighting.CAGrad(c="big"), "c"),
        (lambda: weighting.MGDA(max_iterations=2.5), "max_iterations"),
        (lambda: weighting.PCGrad(shuffle="yes"), "shuffle"),
    ],
)
def test_bad_hyperparameter_types_raise_type_error(make, argument):
    with pytest.raises(TypeError, match=f"`{argument}`"):
        make()


def test_bad_gradients_and_state_size():
    with pytest.raises(ValueError, match="gradients"):
        weighting.MGDA().aggregate(np.ones(3, "float32"))
    strategy = weighting.Uncertainty()
    strategy.setup(2)
    with pytest.raises(ValueError, match="2 tasks"):
        strategy.setup(3)
    with pytest.raises(TypeError, match="not a layer"):
        strategy(np.ones((1, 2)))
