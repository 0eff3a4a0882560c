"""`MultiTaskModel`: a functional model that knows its tasks."""

import inspect

import keras
import numpy as np
from keras import ops

from keras_mtl import input_paths
from keras_mtl.arguments import check_learning_rate
from keras_mtl.callbacks import CompactProgbarLogger
from keras_mtl.layers.crf import LinearChainCRF
from keras_mtl.losses import CRFLoss, MaskedLoss
from keras_mtl.metrics import MaskedMetric, TaskLossMean
from keras_mtl.task import Task, validate_tasks
from keras_mtl.weighting.training import WeightedTrainingMixin

REGULARIZATION_KEY = "regularization_loss"


def token_embedding(model):
    """The model's token `Embedding` layer, or `None` if it reads features."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            return layer
    return None


def _keywords(method, x, y, args, kwargs):
    """The arguments of a `keras.Model` method call, all by name."""
    bound = inspect.signature(method).bind(None, x, y, *args, **kwargs)
    arguments = dict(bound.arguments)
    arguments.pop("self")
    arguments.update(arguments.pop("kwargs", {}))
    return arguments


class _LogMetrics:
    """The metrics a `MultiTaskModel` adds to Keras's logs (kept untracked)."""

    def __init__(self, losses):
        self.task_losses = [
            TaskLossMean(loss, name=f"{name}_loss") for name, loss in losses.items()
        ]
        self.regularization = keras.metrics.Mean(name=REGULARIZATION_KEY)

    def all(self):
        return self.task_losses + [self.regularization]


class _MultiTaskModelBase(keras.Model):
    """The model behaviour of `MultiTaskModel` (see there)."""

    # More tasks than this: progress lines show only the aggregate entries.
    COMPACT_PROGRESS_TASKS = 6

    def __init__(self, inputs, outputs, name=None, **kwargs):
        tasks = kwargs.pop("tasks", None)
        learning_rate = kwargs.pop("learning_rate", 1e-3)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        tasks = [t if isinstance(t, Task) else Task.from_config(t) for t in tasks]
        self.tasks = validate_tasks(tasks)
        self.learning_rate = check_learning_rate(learning_rate)
        self._log_metrics = None
        self._has_regularization = False

    def vocab_size(self):
        """The token vocabulary size, or `None` for a model on features."""
        embedding = token_embedding(self)
        return None if embedding is None else embedding.input_dim

    # -- compile -----------------------------------------------------------

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        loss_weights=None,
        metrics="auto",
        **kwargs,
    ):
        """Compiles the tasks' masked losses and metrics.

        `MultiTaskModel.compile` (which adds `weighting=`) documents the
        arguments.
        """
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = keras.optimizers.Adam(self.learning_rate)
        losses = self._task_losses(loss)
        weights = self._task_loss_weights(loss_weights)
        # Keras computes the per-step losses; `compute_loss` adds the CRF ones.
        keras_losses = {
            name: value
            for name, value in (losses or {}).items()
            if not isinstance(value, CRFLoss)
        }
        super().compile(
            optimizer=optimizer,
            loss=self._keras_losses(losses),
            loss_weights=None if not keras_losses else weights,
            metrics=self._task_metrics(metrics),
            **kwargs,
        )
        self._task_loss_objects = losses or {}
        self._task_weights = weights
        self._log_metrics = _LogMetrics(losses or {})

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved (Keras skips custom compiles)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def _per_task(self, value, argument):
        """dict task name → value (or `None` where the call names nothing)."""
        names = [t.name for t in self.tasks]
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise ValueError(
                    f"`{argument}` names unknown task(s) {unknown}. Expected "
                    f"keys among {names}."
                )
            return {n: value.get(n) for n in names}
        if isinstance(value, (list, tuple)) and argument == "loss":
            if len(value) != len(names):
                raise ValueError(
                    f"`loss` as a list needs one loss per task ({names}). "
                    f"Received {len(value)}."
                )
            return dict(zip(names, value))
        return {n: value for n in names}

    def _keras_losses(self, losses):
        """The losses Keras computes: every task's but the CRF ones (None)."""
        if not losses or all(isinstance(v, CRFLoss) for v in losses.values()):
            return None
        return {
            name: None if isinstance(value, CRFLoss) else value
            for name, value in losses.items()
        }

    def _task_losses(self, loss):
        crf_tasks = [task for task in self.tasks if task.crf]
        if loss is None:
            if not crf_tasks:
                return None
            return {task.name: self._crf_loss(task, None) for task in crf_tasks}
        given = self._per_task(loss, "loss")
        losses = {}
        for task in self.tasks:
            value = given[task.name]
            if task.crf:
                losses[task.name] = self._crf_loss(task, value)
            elif value is None or (isinstance(value, str) and value == "auto"):
                losses[task.name] = task.masked_loss()
            elif isinstance(value, MaskedLoss):
                losses[task.name] = value
            else:
                losses[task.name] = MaskedLoss(
                    value, task.is_classification, name=f"{task.name}_loss"
                )
        return losses

    def _crf_loss(self, task, value):
        """The CRF task's `CRFLoss`, bound to its `LinearChainCRF` layer."""
        automatic = value is None or (isinstance(value, str) and value == "auto")
        if not automatic and not isinstance(value, CRFLoss):
            raise ValueError(
                f"Task {task.name!r} has a CRF head: its loss is the CRF negative "
                f"log-likelihood and cannot be replaced. Received: loss={value!r}"
            )
        loss = value if isinstance(value, CRFLoss) else task.masked_loss()
        return loss.bind(self.crf_layer(task))

    def crf_layer(self, task):
        """The `LinearChainCRF` output layer of a CRF task (named after it)."""
        name = task if isinstance(task, str) else task.name
        layer = next((x for x in self.layers if x.name == name), None)
        if not isinstance(layer, LinearChainCRF):
            raise ValueError(
                f"Task {name!r} has crf=True, so the model's output {name!r} must "
                "come from a keras_mtl.layers.LinearChainCRF named after the "
                f"task. Found: {type(layer).__name__ if layer else 'no layer'}."
            )
        return layer

    def _task_loss_weights(self, loss_weights):
        weights = {t.name: t.loss_weight for t in self.tasks}
        if loss_weights is not None:
            given = self._per_task(loss_weights, "loss_weights")
            weights.update({k: v for k, v in given.items() if v is not None})
        return weights

    def _task_metrics(self, metrics):
        if metrics is None:
            return None
        given = self._per_task(metrics, "metrics")
        compiled = {}
        for task in self.tasks:
            value = given[task.name]
            if value is None or (isinstance(value, str) and value == "auto"):
                compiled[task.name] = task.masked_metrics()
                continue
            value = value if isinstance(value, (list, tuple)) else [value]
            compiled[task.name] = [
                MaskedMetric.from_config(m.get_config())
                if isinstance(m, MaskedMetric)
                else MaskedMetric(m, task.is_classification)
                for m in value
            ]
        return compiled

    # -- logs --------------------------------------------------------------

    @property
    def metrics(self):
        extra = self._log_metrics.all() if self._log_metrics else []
        return super().metrics + extra

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, **kwargs):
        """The total loss: Σ_m loss_weight_m · L_m + the regularization terms.

        Keras's compiled losses give the per-step tasks' terms (and the
        regularization); the CRF tasks' terms are added here, where their
        layers' weights are current on every backend.
        """
        terms = []
        if self._compile_loss is not None or self.losses:
            terms.append(super().compute_loss(x, y, y_pred, sample_weight, **kwargs))
        for task, (loss, values, weights) in self._crf_terms(y, y_pred, sample_weight):
            terms.append(ops.cast(loss, "float32") * self._task_weights[task.name])
            self._task_log_metric(task).update_from_values(values, weights)
        if self._log_metrics is not None and self.losses:
            self._has_regularization = True
            terms_ = [ops.sum(ops.cast(term, "float32")) for term in self.losses]
            self._log_metrics.regularization.update_state(ops.sum(ops.stack(terms_)))
        if not terms:
            return ops.zeros(())
        return terms[0] if len(terms) == 1 else ops.sum(ops.stack(terms))

    def compute_task_losses(self, y, y_pred, sample_weight=None):
        """Each task's loss on a batch, before loss weights, in task order.

        Args:
            y: dict task name → labels (bare labels for a single task).
            y_pred: the model's outputs on the batch.
            sample_weight: None, one array for every task, or a dict.

        Returns:
            list of scalar float32 tensors (0 for a task without a loss).
        """
        labels, predictions = self._by_task(y, y_pred)
        values = []
        for task in self.tasks:
            loss = (self._task_loss_objects or {}).get(task.name)
            weight = _task_weight(sample_weight, task.name)
            value = (
                ops.zeros(())
                if loss is None
                else loss(labels[task.name], predictions[task.name], weight)
            )
            values.append(ops.cast(value, "float32"))
        return values

    def _by_task(self, y, y_pred):
        """Labels and predictions as dicts keyed by task name."""
        if len(self.tasks) == 1:  # a single-task dataset may yield bare labels
            name = self.tasks[0].name
            y = y if isinstance(y, dict) else {name: y}
            y_pred = y_pred if isinstance(y_pred, dict) else {name: y_pred}
        return y, y_pred

    def _crf_terms(self, y, y_pred, sample_weight):
        """(task, (mean loss, per-sequence values, weights)) of each CRF task."""
        labels, predictions = self._by_task(y, y_pred)
        if not isinstance(labels, dict):
            return []
        terms = []
        for task in self.tasks:
            loss = (self._task_loss_objects or {}).get(task.name)
            if not isinstance(loss, CRFLoss):
                continue
            weight = _task_weight(sample_weight, task.name)
            values, weights = loss.sequence_values(
                labels[task.name], predictions[task.name], weight
            )
            mean = ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1e-12)
            terms.append((task, (mean, values, weights)))
        return terms

    def _task_log_metric(self, task):
        index = [t.name for t in self.tasks].index(task.name)
        return self._log_metrics.task_losses[index]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, predictions = self._by_task(y, y_pred)
        if self._log_metrics is not None and isinstance(labels, dict):
            for task, metric in zip(self.tasks, self._log_metrics.task_losses):
                if task.crf:
                    continue  # updated in `compute_loss`
                weight = _task_weight(sample_weight, task.name)
                metric.update_state(labels[task.name], predictions[task.name], weight)
        return super().compute_metrics(x, y, self._decoded(y_pred), sample_weight)

    def _decoded(self, y_pred):
        """`y_pred` with each CRF output as one-hot Viterbi tags (for metrics)."""
        crf_tasks = [task for task in self.tasks if task.crf]
        if not crf_tasks:
            return y_pred
        if not isinstance(y_pred, dict):
            task = crf_tasks[0]
            return _one_hot_tags(y_pred, task.num_classes)
        decoded = dict(y_pred)
        for task in crf_tasks:
            decoded[task.name] = _one_hot_tags(y_pred[task.name], task.num_classes)
        return decoded

    def get_metrics_result(self):
        logs = super().get_metrics_result()
        if not self._has_regularization:
            logs.pop(REGULARIZATION_KEY, None)
        return logs

    # -- fit / evaluate / predict -----------------------------------------

    def check_model_inputs(self, x, argument):
        """Architecture-specific checks of the inputs `x` (none by default).

        Called by `fit`, `evaluate` and `predict` (and on the inputs of
        `validation_data`) before any step; `argument` names `x` in errors.
        """

    def _progress_callbacks(self, callbacks, verbose):
        if isinstance(callbacks, keras.callbacks.CallbackList):
            return callbacks  # `fit`'s own validation pass
        callbacks = list(callbacks or [])
        compact = len(self.tasks) > self.COMPACT_PROGRESS_TASKS
        has_progbar = any(
            isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks
        )
        if compact and verbose != 0 and not has_progbar:
            callbacks.append(CompactProgbarLogger(self.tasks))
        return callbacks

    def fit(self, x=None, y=None, *args, **kwargs):
        kwargs = _keywords(keras.Model.fit, x, y, args, kwargs)
        self.check_model_inputs(kwargs.get("x"), "x")
        kwargs["x"], kwargs["y"] = input_paths.prepare_data(
            self, kwargs.get("x"), kwargs.get("y")
        )
        validation = kwargs.get("validation_data")
        if validation is not None:
            if isinstance(validation, (tuple, list)) and validation:
                self.check_model_inputs(validation[0], "validation_data x")
            kwargs["validation_data"] = input_paths.prepare_validation(self, validation)
        kwargs["callbacks"] = self._progress_callbacks(
            kwargs.get("callbacks"), kwargs.get("verbose", "auto")
        )
        return super().fit(**kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        kwargs = _keywords(keras.Model.evaluate, x, y, args, kwargs)
        self.check_model_inputs(kwargs.get("x"), "x")
        kwargs["x"], kwargs["y"] = input_paths.prepare_data(
            self, kwargs.get("x"), kwargs.get("y")
        )
        kwargs["callbacks"] = self._progress_callbacks(
            kwargs.get("callbacks"), kwargs.get("verbose", "auto")
        )
        return super().evaluate(**kwargs)

    def predict(self, x, *args, **kwargs):
        """As `keras.Model.predict`, with the outputs in task order."""
        self.check_model_inputs(x, "x")
        x, _ = input_paths.prepare_data(self, x)
        outputs = super().predict(x, *args, **kwargs)
        if isinstance(outputs, dict):
            return {t.name: _predicted(t, outputs[t.name]) for t in self.tasks}
        return _predicted(self.tasks[0], outputs) if len(self.tasks) == 1 else outputs

    def get_config(self):
        """Keras's functional config plus the model's `tasks` and learning rate.

        The prebuilt architectures (`MultiTaskNetwork` subclasses) return
        their constructor arguments instead.
        """
        config = super().get_config()
        config["tasks"] = [task.get_config() for task in self.tasks]
        config["learning_rate"] = self.learning_rate
        return config


def _task_weight(sample_weight, name):
    """The sample weights of task `name` (one array for all, or a dict)."""
    if isinstance(sample_weight, dict):
        return sample_weight.get(name)
    return sample_weight


def _one_hot_tags(outputs, num_classes):
    """A CRF output's Viterbi tags as one-hot rows (zeros on padding)."""
    tags = LinearChainCRF.decoded_tags(outputs)
    return ops.one_hot(ops.maximum(tags, 0), num_classes) * ops.expand_dims(
        ops.cast(ops.greater_equal(tags, 0), "float32"), -1
    )


def _predicted(task, output):
    """A task's `predict` output: for a CRF task its int32 Viterbi tags."""
    if not task.crf:
        return output
    return np.asarray(ops.convert_to_numpy(LinearChainCRF.decoded_tags(output)))


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultiTaskModel(WeightedTrainingMixin, _MultiTaskModelBase):
    """A functional Keras model with one output per `Task`.

    It behaves as any functional model; in addition it:

    - keeps its `tasks` (serialized with the model);
    - compiles each task's loss and metrics with the missing-label mask,
      also when `compile` is called again with plain Keras losses/metrics;
    - logs each task's loss as its mean over the labelled entries (Keras's
      own per-output loss is a mean of per-batch values, which counts a
      batch without labels for the task as 0), NaN for a task without
      labels, and the regularization terms (`add_loss`, weight
      regularizers) as `regularization_loss`;
    - checks the data given to `fit`, `evaluate` and `predict` before any
      step, on every input path (arrays, `keras.utils.PyDataset`,
      `tf.data.Dataset`): label keys, shapes and ranges, input shapes,
      NaN/inf inputs, token ids;
    - keeps progress lines short when there are many tasks (the History
      still holds every per-task value);
    - trains a CRF task (`Task(..., crf=True)`, whose output layer is a
      `LinearChainCRF` named after the task) by its negative log-likelihood,
      computes its metrics on the Viterbi tags, and `predict` returns those
      tags (int32 `(N, T)`, `-1` on padding).

    Args:
        inputs: The model's input tensor(s).
        outputs: dict of output tensors keyed by task name.
        name: str. Model name.
        tasks: list of `Task` (or their configs), in output order.
        learning_rate: float. Learning rate of the Adam optimizer that
            `compile(optimizer="auto")` makes. Defaults to `1e-3`.

    Example:

    >>> inputs = keras.Input((3,))
    >>> outputs = {"y": keras.layers.Dense(1, name="y")(inputs)}
    >>> model = MultiTaskModel(inputs, outputs, tasks=[Task("y")])
    >>> model.compile()
    """
