"""One validation number over all tasks, for KerasTuner to maximise."""

import math

import keras
import keras_tuner as kt

from keras_mtl.task import validate_tasks

OBJECTIVE_NAME = "val_mean_task_score"

# Metrics (by name) where a larger value is better; any other metric is an
# error (mae, mse, rmse, a loss, ...) and is mapped to 1 / (1 + error).
HIGHER_IS_BETTER = (
    "accuracy",
    "acc",
    "auc",
    "precision",
    "recall",
    "f1_score",
    "fbeta_score",
    "r2_score",
    "iou",
    "mean_iou",
)


def _first_metric_name(task):
    return task.masked_metrics()[0].name


def metric_key(task, num_tasks, prefix="val_"):
    """The log key of a task's first metric, e.g. `"val_chunk_accuracy"`.

    Keras names a metric `<output>_<metric>` when the model has several
    outputs and `<metric>` when it has one.
    """
    name = _first_metric_name(task)
    return f"{prefix}{task.name}_{name}" if num_tasks > 1 else f"{prefix}{name}"


def to_score(metric_name, value):
    """Puts one metric value on the common scale: in [0, 1], higher is better.

    A higher-is-better metric in [0, 1] (accuracy, AUC, ...) is its own
    score; an error `e >= 0` (MAE, MSE, ...) becomes `1 / (1 + e)`: 1 for a
    perfect regressor, 1/2 at an error of one label unit, towards 0 for
    large errors. The map is monotone, so it ranks trials like the error.
    """
    value = float(value)
    if not math.isfinite(value):
        return 0.0
    if metric_name in HIGHER_IS_BETTER:
        return value
    return 1.0 / (1.0 + max(value, 0.0))


def task_scores(tasks, logs, prefix="val_"):
    """Per-task scores (common scale) read from Keras logs.

    Args:
        tasks: list of `keras_mtl.Task`.
        logs: dict of metric values, as given to `Callback.on_epoch_end`.
        prefix: str. `"val_"` for validation metrics, `""` for training.

    Returns:
        dict task name → score in [0, 1], for the tasks whose metric is in
        `logs` with a finite value. A task without labels in the data logs
        NaN and is left out (a score of 0 would punish the trial, and the
        metric's raw 0 would read as a perfect error).
    """
    tasks = validate_tasks(tasks)
    scores = {}
    for task in tasks:
        key = metric_key(task, len(tasks), prefix)
        if key in logs and math.isfinite(float(logs[key])):
            scores[task.name] = to_score(_first_metric_name(task), logs[key])
    return scores


def mean_task_score(tasks, logs, prefix="val_"):
    """Unweighted mean of `task_scores`, or None if no task metric is logged."""
    scores = task_scores(tasks, logs, prefix)
    return sum(scores.values()) / len(scores) if scores else None


class MeanTaskScore(keras.callbacks.Callback):
    """Writes the mean task score into the epoch logs.

    Adds `logs["val_mean_task_score"]` (and `logs["mean_task_score"]` for
    the training metrics) at the end of every epoch. Put it before any
    callback that reads the value; `History` is always last, so
    `model.fit(...).history` records it. The HyperModels of
    `keras_mtl.tuning` add it to `fit` themselves.

    Args:
        tasks: list of `keras_mtl.Task` of the model.
    """

    def __init__(self, tasks):
        super().__init__()
        self.tasks = validate_tasks(tasks)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix in ("", "val_"):
            value = mean_task_score(self.tasks, logs, prefix)
            if value is not None:
                logs[f"{prefix}mean_task_score"] = value


def objective(tasks):
    """The KerasTuner objective of the `keras_mtl.tuning` HyperModels.

    One number over all tasks: the unweighted mean, over tasks, of each
    task's first validation metric put on a common [0, 1] higher-is-better
    scale (accuracy as is, an error `e` as `1 / (1 + e)`; see `to_score`).
    The HyperModels' `fit` writes it into the logs as
    `"val_mean_task_score"`, so fit with validation data.

    Args:
        tasks: list of `keras_mtl.Task`.

    Returns:
        `keras_tuner.Objective("val_mean_task_score", direction="max")`.

    Example:

    >>> from keras_mtl.tuning import SluiceHyperModel
    >>> tasks = [Task("a", 3), Task("b")]
    >>> x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    >>> y = {"a": np.arange(64) % 3, "b": x[:, 0]}
    >>> tuner = kt.RandomSearch(SluiceHyperModel(tasks, input_shape=(8,), units=8),
    ...                         objective=objective(tasks), max_trials=1,
    ...                         directory="tuning", project_name="demo")
    >>> tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    """
    validate_tasks(tasks)
    return kt.Objective(OBJECTIVE_NAME, direction="max")
