"""What a newcomer meets in the first hour: logs, compile, binary tasks, errors."""

import contextlib
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from testing import save_and_load

import keras_mtl
from keras_mtl import Task
from keras_mtl.tuning.scoring import mean_task_score

RNG = np.random.default_rng(0)


def _mixed_data():
    """Task a: 400 examples (binary); task b: 20 (regression); disjoint, mixed."""
    xa = RNG.normal(size=(400, 8)).astype("float32")
    xb = RNG.normal(size=(20, 8)).astype("float32")
    x = np.concatenate([xa, xb])
    y = {
        "a": np.concatenate([(xa[:, 0] > 0).astype("int32"), np.full(20, -1, "int32")]),
        "b": np.concatenate(
            [np.full(400, np.nan, "float32"), (xb @ np.ones(8)).astype("float32")]
        ),
    }
    order = RNG.permutation(len(x))
    return x[order], {k: v[order] for k, v in y.items()}


def _model(tasks=(Task("a", 2), Task("b")), **kwargs):
    return keras_mtl.models.hard_sharing(
        list(tasks), input_shape=(8,), units=8, seed=0, **kwargs
    )


def _labelled_losses(model, x, y):
    p = model.predict(x, verbose=0)
    la, lb = y["a"] >= 0, ~np.isnan(y["b"])
    return {
        "a": float(np.mean(-np.log(p["a"][la, y["a"][la]]))),
        "b": float(np.mean((p["b"][lb, 0] - y["b"][lb]) ** 2)),
    }


def test_task_losses_are_means_over_labelled_entries_at_any_batch_size():
    x, y = _mixed_data()
    model = _model()
    expected = _labelled_losses(model, x, y)
    for batch_size in (7, 32, len(x)):
        logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        assert logs["a_loss"] == pytest.approx(expected["a"], rel=1e-4)
        assert logs["b_loss"] == pytest.approx(expected["b"], rel=1e-4)


def test_validation_task_losses_match_evaluate():
    x, y = _mixed_data()
    model = _model()
    history = model.fit(
        x, y, epochs=1, batch_size=32, verbose=0, validation_data=(x, y)
    ).history
    expected = _labelled_losses(model, x, y)
    assert history["val_b_loss"][-1] == pytest.approx(expected["b"], rel=1e-4)
    assert np.isfinite(history["b_loss"][-1])


def test_a_task_without_labels_logs_nan_and_is_left_out_of_the_score():
    x, y = _mixed_data()
    y = {"a": y["a"], "b": np.full(len(x), np.nan, "float32")}
    model = _model()
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert np.isnan(logs["b_loss"]) and np.isnan(logs["b_mae"])
    assert np.isfinite(logs["a_loss"]) and np.isfinite(logs["loss"])
    val_logs = {f"val_{k}": v for k, v in logs.items()}
    score = mean_task_score(model.tasks, val_logs)
    assert score == pytest.approx(logs["a_accuracy"])


def test_recompiling_with_plain_keras_losses_keeps_the_mask():
    x, y = _mixed_data()
    model = _model()
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.compile(
        optimizer="adam", loss={"a": "sparse_categorical_crossentropy", "b": "mse"}
    )
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    for key in ("loss", "a_loss", "b_loss", "a_accuracy", "b_mae"):
        assert after[key] == pytest.approx(before[key], rel=1e-5), key
    history = model.fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])


def test_compile_defaults_keep_the_tasks_losses_weights_and_metrics():
    model = _model(tasks=(Task("a", 2, loss_weight=0.5), Task("b")))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = _mixed_data()
    # One batch: the total loss is the weighted sum of the task losses.
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    assert {"a_accuracy", "b_mae"} <= set(logs)
    assert logs["loss"] == pytest.approx(
        0.5 * logs["a_loss"] + 1.0 * logs["b_loss"], rel=1e-4
    )


def test_binary_tasks_take_positive_class_metrics_and_binary_losses():
    x, y = _mixed_data()
    tasks = [
        Task(
            "a", 2, loss="binary_crossentropy", metrics=["auc", "precision", "recall"]
        ),
        Task("b"),
    ]
    model = _model(tasks)
    model.fit(x, y, epochs=1, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)["a"][:, 1]
    labelled = y["a"] >= 0
    yt, pp = y["a"][labelled], p[labelled]
    bce = -np.mean(yt * np.log(pp) + (1 - yt) * np.log(1 - pp))
    assert logs["a_loss"] == pytest.approx(bce, rel=1e-3)
    auc = keras.metrics.AUC()
    auc.update_state(yt, pp)
    assert logs["a_auc"] == pytest.approx(float(auc.result()), abs=1e-4)
    predicted = pp > 0.5
    if predicted.any():
        precision = np.mean(yt[predicted] == 1)
        assert logs["a_precision"] == pytest.approx(precision, abs=1e-4)


def test_labels_as_a_tuple_follow_the_task_order():
    tasks = [Task("zeta", 3), Task("alpha")]
    x = RNG.normal(size=(50, 8)).astype("float32")
    y = {"zeta": RNG.integers(0, 3, 50), "alpha": RNG.normal(size=50)}
    model = _model(tasks)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    as_tuple = model.evaluate(x, (y["zeta"], y["alpha"]), verbose=0, return_dict=True)
    assert as_tuple == pytest.approx(as_dict)


def test_predictions_come_in_task_order():
    tasks = [Task("zeta", 3), Task("alpha"), Task("mid", 2)]
    model = _model(tasks)
    out = model.predict(np.zeros((2, 8), "float32"), verbose=0)
    assert list(out) == ["zeta", "alpha", "mid"]


def test_lists_of_token_ids_are_arrays_and_ragged_ones_are_refused():
    model = keras_mtl.models.hard_sharing(
        [Task("tag", 3, sequence=True)], vocab_size=10, embedding_dim=4, units=4
    )
    tokens = [[1, 2, 3], [4, 5, 0]]
    model.fit(tokens, [[0, 1, 2], [2, 1, -1]], epochs=1, verbose=0)
    with pytest.raises(TypeError, match="pad_sequences"):
        model.fit([[1, 2, 3], [4]], [[0, 1, 2], [1]], epochs=1, verbose=0)


def test_all_padding_rows_are_allowed_for_tagging_only_models():
    model = keras_mtl.models.hard_sharing(
        [Task("tag", 3, sequence=True)], vocab_size=10, embedding_dim=4, units=4
    )
    x = np.array([[1, 2, 0], [0, 0, 0]])
    model.fit(x, np.array([[0, 1, -1], [-1, -1, -1]]), epochs=1, verbose=0)


TOKENS = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
BAD_TAGGING_LABELS = [
    ("one-hot", {"tag": np.eye(3)[[[0, 1, 2, 0], [1, 1, 0, 0]]]}, "one-hot"),
    ("longer", {"tag": np.zeros((2, 6), "int32")}, "time steps"),
    ("per sentence", {"tag": np.zeros(2, "int32")}, "shape"),
]


@pytest.mark.parametrize("case, labels, match", BAD_TAGGING_LABELS)
def test_label_shapes_are_checked_before_training(case, labels, match):
    model = keras_mtl.models.hard_sharing(
        [Task("tag", 3, sequence=True)], vocab_size=10, embedding_dim=4, units=4
    )
    with pytest.raises(ValueError, match=match):
        model.fit(TOKENS, labels, epochs=1, verbose=0)


def test_per_token_labels_for_a_sentence_task_are_refused():
    model = keras_mtl.models.hard_sharing(
        [Task("topic", 3)], vocab_size=10, embedding_dim=4, units=4
    )
    with pytest.raises(ValueError, match="sequence=True"):
        model.fit(TOKENS, {"topic": np.zeros((2, 4), "int32")}, epochs=1, verbose=0)


def test_string_labels_are_a_type_error_naming_the_task():
    x, y = _mixed_data()
    y["a"] = np.where(y["a"] == 1, "yes", "no")
    with pytest.raises(TypeError, match=r"y\['a'\]"):
        _model().fit(x, y, epochs=1, verbose=0)


def test_a_wrong_input_width_is_refused_and_the_model_stays_usable():
    x, y = _mixed_data()
    model = _model()
    with pytest.raises(ValueError, match="takes"):
        model.fit(np.zeros((len(x), 12), "float32"), y, epochs=1, verbose=0)
    model.fit(x, y, epochs=1, verbose=0)


def _bad_dataset_inputs():
    x, y = _mixed_data()
    nan_x = x.copy()
    nan_x[3, 2] = np.nan
    out_of_range = dict(y, a=np.where(y["a"] >= 0, y["a"] + 1, -1))
    return [
        ("NaN input", nan_x, y, ValueError, "NaN"),
        ("class id out of range", x, out_of_range, ValueError, "class ids"),
    ]


@pytest.mark.parametrize("path", ["tf.data", "PyDataset"])
@pytest.mark.parametrize("case, x, y, error, match", _bad_dataset_inputs())
def test_every_input_path_is_checked(path, case, x, y, error, match):
    if path == "tf.data":
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    else:
        data = _ArrayBatches(x, y, 64)
    with pytest.raises(error, match=match):
        _model().fit(data, epochs=1, verbose=0)
    with pytest.raises(error, match="first batch"):
        _model().evaluate(data, verbose=0)


def test_a_dataset_is_checked_once_per_model(monkeypatch):
    from keras_mtl import input_paths

    drawn = []

    def counting(data):
        drawn.append(data)
        return first_batch(data)

    first_batch = input_paths.first_batch
    monkeypatch.setattr(input_paths, "first_batch", counting)
    x, y = _mixed_data()
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model = _model()
    model.fit(data, epochs=1, verbose=0)
    model.fit(data, epochs=1, verbose=0)
    model.evaluate(data, verbose=0)
    assert len(drawn) == 1
    _model().evaluate(data, verbose=0)  # another model checks it again
    assert len(drawn) == 2
    other = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model.fit(other, epochs=1, verbose=0)
    assert len(drawn) == 3


def test_an_unbatched_dataset_is_refused():
    x, y = _mixed_data()
    data = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match="batch"):
        _model().fit(data, epochs=1, verbose=0)


class _ArrayBatches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], {k: v[rows] for k, v in self.y.items()}


def test_regularization_terms_have_their_own_log_entry():
    x = RNG.normal(size=(64, 8)).astype("float32")
    y = {"a": RNG.integers(0, 2, 64), "b": RNG.normal(size=64).astype("float32")}
    tasks = [Task("a", 2), Task("b")]
    sluice = keras_mtl.models.sluice(tasks, input_shape=(8,), units=8, seed=0)
    logs = sluice.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert logs["regularization_loss"] > 0
    assert logs["loss"] == pytest.approx(
        logs["a_loss"] + logs["b_loss"] + logs["regularization_loss"], rel=1e-4
    )
    plain = _model(tasks).evaluate(x, y, verbose=0, return_dict=True)
    assert "regularization_loss" not in plain


def test_many_task_progress_lines_stay_short_and_history_keeps_everything():
    tasks = [Task(f"t{i}") for i in range(8)]
    x = RNG.normal(size=(32, 8)).astype("float32")
    y = {t.name: RNG.normal(size=32).astype("float32") for t in tasks}
    model = _model(tasks)
    keras.config.enable_interactive_logging()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            history = model.fit(x, y, epochs=1, verbose=2).history
    finally:
        keras.config.disable_interactive_logging()
    assert "loss" in out.getvalue() and "t3_loss" not in out.getvalue()
    assert {"t3_loss", "t7_mae"} <= set(history)


def test_a_loaded_model_is_compiled_as_it_was_saved():
    x, y = _mixed_data()
    model = _model(tasks=(Task("a", 2, metrics=["auc"]), Task("b")))
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    restored = save_and_load(model)
    assert restored.compiled
    actual = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert actual == pytest.approx(expected, rel=1e-5)


def test_learning_rate_must_be_positive():
    with pytest.raises(ValueError, match="learning_rate"):
        _model(learning_rate=0.0)


def test_a_single_task_dataset_may_yield_bare_labels():
    x, y = _mixed_data()
    model = _model(tasks=(Task("a", 2),))
    data = tf.data.Dataset.from_tensor_slices((x, y["a"])).batch(32)
    logs = model.evaluate(data, verbose=0, return_dict=True)
    labelled = y["a"] >= 0
    p = model.predict(x, verbose=0)["a"]
    expected = np.mean(-np.log(p[labelled, y["a"][labelled]]))
    assert logs["a_loss"] == pytest.approx(expected, rel=1e-4)
