"""Each architecture is a model class configured by its constructor arguments."""

import keras
import numpy as np
import pytest
from testing import assert_model_roundtrip

import keras_mtl
from keras_mtl import Task

TASKS = [Task("a", 3), Task("b")]
X = np.random.default_rng(0).normal(size=(6, 8)).astype("float32")

CASES = [
    ("hard_sharing", "HardSharingNetwork", {"units": 8, "num_layers": 1}),
    ("single_task", "SingleTaskNetwork", {"units": 8, "dropout": 0.2, "seed": 4}),
    (
        "low_supervision",
        "LowSupervisionNetwork",
        {"units": 8, "supervise_at": {"a": 1}},
    ),
    ("cross_stitch", "CrossStitchNetwork", {"units": 8, "alpha_init": "balanced"}),
    (
        "sluice",
        "SluiceNetwork",
        {"units": 8, "num_subspaces": 4, "alpha_init": np.eye(8)},
    ),
    ("mrn", "MRN", {"units": 8, "update_every": 3}),
    ("tree", "TreeMTL", {"num_levels": 2, "num_layers": 0}),
]


@pytest.mark.parametrize("builder, cls, kwargs", CASES, ids=[c[0] for c in CASES])
def test_config_holds_the_constructor_arguments_also_after_loading(
    builder, cls, kwargs
):
    tasks = [Task("a"), Task("b")] if builder == "tree" else TASKS
    model = getattr(keras_mtl.models, builder)(tasks, input_shape=(8,), **kwargs)
    assert type(model) is getattr(keras_mtl.models, cls)
    config = model.get_config()
    assert [t["name"] for t in config["tasks"]] == ["a", "b"]
    assert config["input_shape"] == [8]
    assert config["learning_rate"] == 1e-3  # defaults are in the config too
    assert config["name"] == builder
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            stored = keras.saving.deserialize_keras_object(config[key])
            np.testing.assert_array_equal(np.asarray(stored), value)
        else:
            assert config[key] == value, key
    restored = assert_model_roundtrip(model, X)
    assert restored.get_config() == config
    # The class rebuilds from its config alone, as keras-hub models do.
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == config


def test_the_class_and_the_builder_build_the_same_model():
    kwargs = {"input_shape": (8,), "units": 8, "seed": 3}
    by_builder = keras_mtl.models.sluice(TASKS, **kwargs)
    by_class = keras_mtl.models.SluiceNetwork(TASKS, **kwargs)
    assert by_class.get_config() == by_builder.get_config()
    for a, b in zip(by_builder.get_weights(), by_class.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unknown_arguments_name_the_class():
    with pytest.raises(TypeError, match=r"TreeMTL\(\).*\['vocab_size'\]"):
        keras_mtl.models.tree([Task("a"), Task("b")], vocab_size=10)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        keras_mtl.models.hard_sharing(TASKS, input_shape=(8,), unit=8)


def test_meta_lstm_config_round_trip():
    tasks = [Task("s", 2), Task("t", 3)]
    model = keras_mtl.models.meta_lstm(
        tasks, vocab_size=20, embedding_dim=4, units=4, meta_units=3
    )
    config = model.get_config()
    assert (config["units"], config["meta_units"], config["vocab_size"]) == (4, 3, 20)
    x = {"tokens": np.array([[1, 2, 0], [3, 4, 5]]), "task_id": np.array([0, 1])}
    restored = assert_model_roundtrip(model, x)
    assert type(restored).__name__ == "MetaLSTMNetwork"
    assert restored.get_config() == config
