"""Built models keep their builder's arguments; `.keras` loading rebuilds from them."""

import numpy as np
import pytest
from testing import assert_model_roundtrip

import keras_mtl
from keras_mtl import Task

TASKS = [Task("a", 3), Task("b")]
X = np.random.default_rng(0).normal(size=(6, 8)).astype("float32")

CASES = [
    ("hard_sharing", {"units": 8, "num_layers": 1}),
    ("single_task", {"units": 8, "dropout": 0.2, "seed": 4}),
    ("low_supervision", {"units": 8, "supervise_at": {"a": 1}}),
    ("cross_stitch", {"units": 8, "alpha_init": "balanced"}),
    ("sluice", {"units": 8, "num_subspaces": 4, "alpha_init": np.eye(8)}),
    ("mrn", {"units": 8, "update_every": 3}),
    ("tree", {"num_levels": 2, "num_layers": 0}),
]


@pytest.mark.parametrize("builder, kwargs", CASES, ids=[c[0] for c in CASES])
def test_config_holds_the_builder_arguments_also_after_loading(builder, kwargs):
    tasks = [Task("a"), Task("b")] if builder == "tree" else TASKS
    model = getattr(keras_mtl.models, builder)(tasks, input_shape=(8,), **kwargs)
    config = model.get_config()
    assert config["architecture"] == builder
    assert [t["name"] for t in config["tasks"]] == ["a", "b"]
    assert config["input_shape"] == [8]
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(
                np.asarray(model.architecture.arguments[key]), value
            )
        else:
            assert config[key] == value, key
    restored = assert_model_roundtrip(model, X)
    assert restored.get_config() == config
    assert restored.architecture.name == builder


def test_meta_lstm_config_round_trip():
    tasks = [Task("s", 2), Task("t", 3)]
    model = keras_mtl.models.meta_lstm(
        tasks, vocab_size=20, embedding_dim=4, units=4, meta_units=3
    )
    config = model.get_config()
    assert (config["units"], config["meta_units"], config["vocab_size"]) == (4, 3, 20)
    x = {"tokens": np.array([[1, 2, 0], [3, 4, 5]]), "task_id": np.array([0, 1])}
    restored = assert_model_roundtrip(model, x)
    assert type(restored).__name__ == "MetaLSTMModel"
    assert restored.get_config() == config
