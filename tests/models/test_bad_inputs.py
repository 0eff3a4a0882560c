"""Bad arguments and bad data raise clear errors before any training."""

import numpy as np
import pytest

from keras_mtl import Task, models

TASKS = [Task("a", num_classes=3), Task("b")]
GOOD = {"input_shape": (4,), "units": 8, "num_layers": 2}


@pytest.mark.parametrize(
    "builder, kwargs, error, match",
    [
        ("sluice", {"tasks": []}, ValueError, "at least one task"),
        ("hard_sharing", {"tasks": [Task("a"), Task("a")]}, ValueError, "unique"),
        ("sluice", {"num_subspaces": 0}, ValueError, "num_subspaces"),
        ("sluice", {"num_subspaces": 3}, ValueError, "num_subspaces"),
        ("sluice", {"units": 0}, ValueError, "units"),
        ("single_task", {"num_layers": 0}, ValueError, "num_layers"),
        ("hard_sharing", {"units": 2.5}, TypeError, "units"),
        ("sluice", {"alpha_init": "uniform"}, ValueError, "alpha_init"),
        ("sluice", {"alpha_init": np.eye(3)}, ValueError, "alpha_init"),
        ("sluice", {"beta_init": "first"}, ValueError, "beta_init"),
        ("sluice", {"beta_init": {"zzz": "last"}}, ValueError, "beta_init"),
        ("sluice", {"encoder": "gru"}, ValueError, "encoder"),
        ("sluice", {"orthogonality": "both"}, ValueError, "orthogonality"),
        ("sluice", {"orthogonality_weight": -0.1}, ValueError, "orthogonality_weight"),
        ("hard_sharing", {"encoder": "lstm"}, ValueError, "encoder"),
        ("hard_sharing", {"dropout": 1.0}, ValueError, "dropout"),
        ("low_supervision", {"supervise_at": {"zzz": 1}}, ValueError, "supervise_at"),
        ("low_supervision", {"supervise_at": {"a": 3}}, ValueError, "supervise_at"),
        ("low_supervision", {"supervise_at": {"a": 0}}, ValueError, "supervise_at"),
        ("cross_stitch", {"num_subspaces": 2}, TypeError, "num_subspaces"),
        ("hard_sharing", {"vocab_size": 10}, ValueError, "exactly one"),
    ],
)
def test_bad_builder_arguments(builder, kwargs, error, match):
    arguments = {"tasks": TASKS, **GOOD, **kwargs}
    with pytest.raises(error, match=match):
        getattr(models, builder)(**arguments)


def test_bilstm_needs_units_divisible_by_two_subspace_sets():
    with pytest.raises(ValueError, match="bilstm"):
        models.sluice(
            [Task("t", 2, sequence=True)],
            vocab_size=10,
            units=6,
            num_subspaces=2,
            encoder="bilstm",
        )


def test_sequence_task_needs_sequence_input():
    with pytest.raises(ValueError, match="sequence"):
        models.hard_sharing([Task("t", 2, sequence=True)], input_shape=(4,))


@pytest.fixture(scope="module")
def model():
    return models.hard_sharing(TASKS, **GOOD)


def _data(n=6):
    x = np.ones((n, 4), "float32")
    return x, {"a": np.zeros(n, "int32"), "b": np.zeros(n, "float32")}


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (lambda x, y: y.pop("b"), ValueError, r"no labels for task\(s\) \['b'\]"),
        (lambda x, y: y.update(c=y["a"]), ValueError, r"unknown task\(s\) \['c'\]"),
        (lambda x, y: x.__setitem__((0, 0), np.nan), ValueError, "x.*NaN"),
        (lambda x, y: x.__setitem__((1, 1), np.inf), ValueError, "x.*infinite"),
        (lambda x, y: y["a"].__setitem__(0, 3), ValueError, r"y\['a'\].*0..2"),
        (lambda x, y: y["a"].__setitem__(0, -2), ValueError, r"y\['a'\]"),
        (lambda x, y: y["b"].__setitem__(0, np.inf), ValueError, r"y\['b'\].*infinite"),
        (lambda x, y: y.__setitem__("a", y["a"][:3]), ValueError, "examples"),
    ],
)
def test_bad_fit_data_is_refused_before_training(model, mutate, error, match):
    x, y = _data()
    mutate(x, y)
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=match):
        model.fit(x, y, epochs=1, verbose=0)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_labels_must_be_a_dict_for_several_tasks(model):
    x, y = _data()
    with pytest.raises(TypeError, match="dict keyed by task name"):
        model.fit(x, y["a"], verbose=0)


def test_validation_data_and_evaluate_are_checked(model):
    x, y = _data()
    bad = dict(y, a=np.full(6, 7))
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(x, y, validation_data=(x, bad), verbose=0)
    with pytest.raises(ValueError, match="y"):
        model.evaluate(x, bad, verbose=0)


def test_positional_validation_data_is_checked_too(model):
    x, y = _data()
    bad = dict(y, a=np.full(6, 7))
    # fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
    #     validation_data, ...) as Keras orders them.
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(x, y, 2, 1, 0, None, 0.0, (x, bad))
    history = model.fit(x, y, 2, 1, 0, None, 0.0, (x, y))
    assert "val_loss" in history.history


def test_token_ids_outside_the_vocabulary_are_refused():
    seq = models.hard_sharing(
        [Task("t", 2, sequence=True)],
        vocab_size=5,
        units=4,
        num_layers=1,
        encoder="lstm",
    )
    x = np.array([[1, 2, 9]], "int32")
    with pytest.raises(ValueError, match="vocab_size=5"):
        seq.fit(x, {"t": np.zeros((1, 3), "int32")}, verbose=0)


def test_all_padding_sequences_are_refused():
    seq = models.hard_sharing(
        [Task("s", 2)], vocab_size=5, units=4, num_layers=1, encoder="lstm"
    )
    x = np.array([[1, 2, 0], [0, 0, 0]], "int32")
    with pytest.raises(ValueError, match="only of padding"):
        seq.fit(x, {"s": np.zeros(2, "int32")}, verbose=0)
