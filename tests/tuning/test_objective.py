"""Tests of the aggregate tuning objective (keras_mtl.tuning.scoring)."""

import math

import keras_tuner as kt
import numpy as np
import pytest

from keras_mtl.models.baselines import hard_sharing
from keras_mtl.task import Task
from keras_mtl.tuning import MeanTaskScore, objective
from keras_mtl.tuning.scoring import mean_task_score, task_scores, to_score

TASKS = [Task("a", 3), Task("b")]


def test_objective_is_maximised_mean_task_score():
    result = objective(TASKS)
    assert isinstance(result, kt.Objective)
    assert result.name == "val_mean_task_score"
    assert result.direction == "max"
    assert result.better_than(0.9, 0.5)


def test_objective_rejects_bad_tasks():
    with pytest.raises(TypeError, match="tasks"):
        objective(["a"])
    with pytest.raises(ValueError, match="tasks"):
        objective([])


def test_common_scale():
    assert to_score("accuracy", 0.75) == 0.75
    assert to_score("mae", 0.0) == 1.0
    assert to_score("mae", 1.0) == 0.5
    assert to_score("mse", 3.0) == 0.25
    assert to_score("mae", float("nan")) == 0.0
    # Lower error, higher score: the map ranks trials like the error does.
    assert to_score("mae", 0.2) > to_score("mae", 0.3)


def test_mean_task_score_equals_hand_computation():
    logs = {"val_a_accuracy": 0.6, "val_b_mae": 0.25, "a_accuracy": 0.9, "b_mae": 1}
    assert task_scores(TASKS, logs) == {"a": 0.6, "b": 1 / 1.25}
    assert math.isclose(mean_task_score(TASKS, logs), (0.6 + 0.8) / 2)
    assert math.isclose(mean_task_score(TASKS, logs, prefix=""), (0.9 + 0.5) / 2)
    assert mean_task_score(TASKS, {"loss": 1.0}) is None


def test_single_task_logs_have_no_prefix():
    assert mean_task_score([Task("a", 3)], {"val_accuracy": 0.4}) == 0.4


def test_custom_metric_direction():
    tasks = [Task("a", 2, metrics=["mse"]), Task("b", metrics=["mse"])]
    logs = {"val_a_mse": 1.0, "val_b_mse": 0.0}
    assert mean_task_score(tasks, logs) == (0.5 + 1.0) / 2


def test_callback_logs_score_during_fit():
    rng = np.random.default_rng(0)
    x = rng.random((16, 4)).astype("float32")
    y = {"a": rng.integers(0, 3, 16), "b": rng.random(16).astype("float32")}
    model = hard_sharing(TASKS, input_shape=(4,), units=4, num_layers=1, seed=0)
    history = model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=2,
        verbose=0,
        callbacks=[MeanTaskScore(TASKS)],
    ).history
    for epoch in range(2):
        accuracy = history["val_a_accuracy"][epoch]
        mae = history["val_b_mae"][epoch]
        expected = (accuracy + 1 / (1 + mae)) / 2
        np.testing.assert_allclose(
            history["val_mean_task_score"][epoch], expected, rtol=1e-6
        )
        assert 0 <= history["mean_task_score"][epoch] <= 1
