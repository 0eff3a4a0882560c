"""`WeightedTrainingMixin`: trains a multi-task model with a weighting strategy."""

import inspect

import keras
from keras import ops

from keras_mtl.labels import mask_labels
from keras_mtl.weighting import rep_steps, steps
from keras_mtl.weighting.equal import Equal
from keras_mtl.weighting.graph import task_variable_roles
from keras_mtl.weighting.representation import SharedRepresentation


def _all_missing(task, predictions):
    """Labels saying "no label" for every entry of `predictions`."""
    if task.is_classification:
        return -ops.ones(ops.shape(predictions)[:-1], "int32")
    return ops.full(ops.shape(predictions), float("nan"), "float32")


class _WeightLogs:
    """The `weight_<task>` metrics (kept untracked: they hold no model state)."""

    def __init__(self, names):
        self.metrics = [keras.metrics.Mean(name=f"weight_{name}") for name in names]

    def update(self, weights, mask):
        for m, metric in enumerate(self.metrics):
            metric.update_state(weights[m], sample_weight=mask[m])


class _EndEpoch(keras.callbacks.Callback):
    """Tells the model's strategy that a training epoch ended."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.weighting.end_epoch()


class WeightedTrainingMixin:
    """Trains a `MultiTaskModel` with a task-weighting strategy.

    `MultiTaskModel` (and so every prebuilt architecture) includes it.
    `compile` takes `weighting=` (a name of `keras_mtl.weighting.STRATEGIES`
    or a strategy object; default `"equal"`, which keeps Keras's own
    training step), and with any other strategy every `fit` step:

    - computes each task's loss (its masked loss times its `loss_weight`)
      and which tasks have labels in the batch;
    - loss-based strategies: minimises the strategy's combination of the
      task losses (plus the regularization terms);
    - gradient-based strategies: computes the per-task gradients once (M
      backward passes on TensorFlow and torch, one `jax.jacrev` on JAX),
      combines those of the shared variables with the strategy, gives each
      task-specific variable its own task's gradient, adds the gradient of
      the regularization terms and applies the result.

    With `rep_grad=True` on the strategy (e.g. `MGDA(rep_grad=True)`) the
    per-task gradients are those of the shared representation instead: the
    tensors the shared layers hand to the task layers (for hard sharing,
    the encoder's output). One forward pass; M backward passes through the
    task layers only; the strategy combines those gradients; one backward
    pass takes the combination through the shared layers. Task layers
    still get their own task's gradient. A model where no such cut exists
    (a layer whose parameters serve both sides, a task output computed by
    shared layers, no shared parameters) is refused at `compile` with a
    `ValueError` naming `rep_grad`.

    A variable is shared when the graph from more than one task's output
    back to the inputs reaches it (a property of the architecture, not of
    a batch: a task without labels in a batch does not make the encoder
    look task-specific). The History holds `weight_<task>` per epoch: the
    mean weight the strategy gave the task over the batches where it had
    labels. `loss` stays the plain sum of the task losses and the
    regularization terms, comparable across strategies. The strategy and
    its state are saved with the model.

    Example:

    >>> from keras_mtl.models import HardSharingNetwork
    >>> tasks = [Task("a", 3), Task("b")]
    >>> model = HardSharingNetwork(tasks, input_shape=(4,), units=8)
    >>> model.compile(weighting="pcgrad")
    >>> x = np.zeros((8, 4), "float32")
    >>> history = model.fit(x, {"a": np.zeros(8), "b": np.zeros(8)}, verbose=0)
    >>> "weight_a" in history.history
    True
    """

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        loss_weights=None,
        metrics="auto",
        weighting="equal",
        **kwargs,
    ):
        """Compiles the model; every task loss and metric skips missing labels.

        Args:
            optimizer: `"auto"` (Adam at the model's `learning_rate`) or any
                Keras optimizer.
            loss: `"auto"` (each task's own loss), one Keras loss for every
                task, a list in task order, or a dict task name → loss (tasks
                not named keep their own). Each is wrapped in `MaskedLoss`.
            loss_weights: None (each task's `loss_weight`) or a dict task name
                → weight (tasks not named keep theirs).
            metrics: `"auto"` (each task's own metrics), a list given to every
                task, or a dict task name → list (tasks not named keep
                theirs). Each is wrapped in `MaskedMetric`.
            weighting: a strategy of `keras_mtl.weighting` or its name
                (`keras_mtl.weighting.STRATEGIES`). `"equal"` (the default)
                trains on the sum of the weighted task losses with Keras's
                own step.
            **kwargs: Passed to `keras.Model.compile`.
        """
        from keras_mtl.weighting import get, serialize

        strategy = get(weighting)
        crf_tasks = [t.name for t in self.tasks if t.crf]
        if crf_tasks and type(strategy) is not Equal:
            raise ValueError(
                f"`weighting={type(strategy).__name__}()` does not support CRF "
                f"tasks yet ({crf_tasks}). Use weighting='equal' for models "
                "with CRF tasks."
            )
        super().compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            **kwargs,
        )
        strategy.setup(len(self.tasks))
        self._weighting_roles = None
        self._weighting_representation = None
        if strategy.needs_gradients:
            self._check_shared_variables(strategy)
            if strategy.rep_grad:
                self._representation()  # ValueError if the model has none
        self._attach_strategy(strategy)
        self._weight_logs = None
        if not self._plain_step():
            self._weight_logs = _WeightLogs([t.name for t in self.tasks])
        config = getattr(self, "_compile_config", None)
        if config is not None:
            config.config["weighting"] = serialize(strategy)

    def _attach_strategy(self, strategy):
        # Kept out of the layer list (and `summary`); its variables join the
        # model's through `variables`/`weights`, and `.keras` saving finds it
        # as an attribute.
        object.__setattr__(self, "weighting", strategy)

    def _strategy_variables(self, attribute):
        strategy = self.__dict__.get("weighting")
        return list(getattr(strategy, attribute)) if strategy is not None else []

    @property
    def variables(self):
        found = super().variables
        seen = {id(v) for v in found}
        return found + [
            v for v in self._strategy_variables("variables") if id(v) not in seen
        ]

    @property
    def weights(self):
        found = super().weights
        seen = {id(v) for v in found}
        return found + [
            v for v in self._strategy_variables("weights") if id(v) not in seen
        ]

    def _check_shared_variables(self, strategy):
        roles = self._roles()
        if not any(role == "shared" for role in roles):
            raise ValueError(
                f"`weighting={type(strategy).__name__}()` combines the gradients "
                "of the shared parameters, but no trainable variable of this "
                "model is used by more than one task. Use a loss-based "
                "strategy (e.g. 'equal')."
            )

    def _roles(self):
        """Role of each trainable variable: 'shared', 'task' or 'other'."""
        variables = self.trainable_variables
        key = [id(v) for v in variables]
        cached = getattr(self, "_weighting_roles", None)
        if cached is None or cached[0] != key:
            roles = task_variable_roles(self, [t.name for t in self.tasks])
            cached = (key, [roles.get(id(v), "other") for v in variables])
            self._weighting_roles = cached
        return cached[1]

    def _representation(self):
        """The model's `SharedRepresentation` (for `rep_grad=True`)."""
        found = getattr(self, "_weighting_representation", None)
        if found is None:
            found = SharedRepresentation(self, [t.name for t in self.tasks])
            self._weighting_representation = found
        return found

    @property
    def metrics(self):
        logs = getattr(self, "_weight_logs", None)
        return super().metrics + (logs.metrics if logs is not None else [])

    # -- one step, in keras.ops --------------------------------------------

    def task_loss_vector(self, y, y_pred, sample_weight=None):
        """`(losses, mask)`, each float32 `(num_tasks,)`, for one batch.

        The losses are `compute_task_losses`' (the compiled masked losses)
        times each task's loss weight, 0 for a task without labels in the
        batch (mask 0); a task missing from `y` has no labels.
        """
        labels, predictions = self._by_task(y, y_pred)
        labels = {
            task.name: _all_missing(task, predictions[task.name])
            if labels.get(task.name) is None
            else labels[task.name]
            for task in self.tasks
        }
        values = self.compute_task_losses(labels, predictions, sample_weight)
        losses, mask = [], []
        for task, value in zip(self.tasks, values):
            weight = sample_weight
            if isinstance(sample_weight, dict):
                weight = sample_weight.get(task.name)
            _, present = mask_labels(
                labels[task.name],
                predictions[task.name],
                task.is_classification,
                weight,
            )
            labelled = ops.cast(ops.sum(present) > 0, "float32")
            factor = float(self._task_weights[task.name])
            losses.append(ops.where(labelled > 0, value, 0.0) * factor)
            mask.append(labelled)
        return ops.stack(losses), ops.stack(mask)

    def combine_jacobian(self, jacobian, losses, mask):
        """Gradients of every trainable variable from per-row gradients.

        Args:
            jacobian: list (one per trainable variable) of tensors
                `(rows, *variable.shape)`: the gradients of each task loss,
                then (a last row, if the model has any) of the
                regularization terms.
            losses: `(num_tasks,)` task losses.
            mask: `(num_tasks,)` 1 for the tasks with labels.

        Returns:
            `(gradients, weights)`.
        """
        num_tasks = len(self.tasks)
        roles = self._roles()
        present = mask > 0
        rows, gram, last, last_kernel = [], 0.0, None, None
        for value, role in zip(jacobian, roles):
            flat = ops.reshape(ops.cast(value, "float32"), (value.shape[0], -1))
            task_rows = ops.where(present[:, None], flat[:num_tasks], 0.0)
            regular = flat[num_tasks] if value.shape[0] > num_tasks else 0.0
            rows.append((task_rows, regular))
            if role == "shared":
                last = ops.matmul(task_rows, ops.transpose(task_rows))
                gram = gram + last
                if len(value.shape) > 2:  # a kernel: (rows, inputs, units)
                    last_kernel = last
        last = last if last_kernel is None else last_kernel
        weights = self.weighting.compute_weights(gram, mask, losses, last)
        gradients = []
        for (task_rows, regular), role, value in zip(rows, roles, jacobian):
            if role == "shared":
                combined = ops.matmul(weights[None, :], task_rows)[0]
            else:
                combined = ops.sum(task_rows, axis=0)
            combined = ops.reshape(combined + regular, value.shape[1:])
            gradients.append(ops.cast(combined, value.dtype))
        return gradients, weights

    def combine_representation(self, jacobian, losses, mask):
        """The combined representation gradient (`rep_grad=True`).

        Args:
            jacobian: list (one per tensor of the shared representation) of
                tensors `(rows, *tensor.shape)`: the gradients of each task
                loss, then (a last row, if the model has any) of the
                regularization terms, with respect to that tensor as the
                task layers read it.
            losses: `(num_tasks,)` task losses.
            mask: `(num_tasks,)` 1 for the tasks with labels.

        Returns:
            `(directions, weights)`: for each tensor the gradient to
            backpropagate through the shared layers (the strategy's
            combination of the task rows plus the regularization row), and
            the task weights.
        """
        num_tasks = len(self.tasks)
        present = mask > 0
        rows, gram = [], 0.0
        for value in jacobian:
            value = ops.cast(value, "float32")
            tasks = value[:num_tasks]
            keep = ops.reshape(present, (num_tasks,) + (1,) * (len(value.shape) - 1))
            tasks = ops.where(keep, tasks, 0.0)
            regular = value[num_tasks] if value.shape[0] > num_tasks else None
            flat = ops.reshape(tasks, (num_tasks, -1))
            gram = gram + ops.matmul(flat, ops.transpose(flat))
            rows.append((tasks, regular))
        weights = self.weighting.compute_weights(gram, mask, losses, gram)
        directions = []
        for (tasks, regular), value in zip(rows, jacobian):
            combined = ops.tensordot(weights, tasks, axes=1)
            if regular is not None:
                combined = combined + regular
            directions.append(ops.cast(combined, value.dtype))
        return directions, weights

    def update_weighting_metrics(self, data, y_pred, step):
        """Updates the loss tracker and every metric; returns the logs.

        Args:
            data: `(x, y, sample_weight)` of the batch.
            y_pred: the model's outputs.
            step: dict with `losses`, `mask`, `weights` and `regularization`
                (a scalar, or None without regularization terms).
        """
        x, y, sample_weight = data
        batch = next(v for v in keras.tree.flatten(x) if v is not None).shape[0]
        regularization = step["regularization"]
        total = ops.sum(step["losses"])
        if regularization is not None:
            total = total + regularization
            log_metrics = getattr(self, "_log_metrics", None)
            if log_metrics is not None:
                self._has_regularization = True
                log_metrics.regularization.update_state(regularization)
        self._loss_tracker.update_state(total, sample_weight=batch)
        self._weight_logs.update(step["weights"], step["mask"])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    # -- training ----------------------------------------------------------

    def train_step(self, *args):
        if self._plain_step():
            return super().train_step(*args)
        if getattr(self.weighting, "rep_grad", False):
            return rep_steps.train_step(self, *args)
        return steps.train_step(self, *args)

    def _plain_step(self):
        """Whether Keras's own step does the strategy's work (`"equal"`)."""
        return type(self.__dict__.get("weighting")) in (Equal, type(None))

    def fit(self, *args, **kwargs):
        arguments = inspect.signature(keras.Model.fit).bind(None, *args, **kwargs)
        callbacks = arguments.arguments.get("callbacks")
        if not isinstance(callbacks, keras.callbacks.CallbackList):
            arguments.arguments["callbacks"] = list(callbacks or []) + [_EndEpoch()]
        arguments.arguments.pop("self")
        return super().fit(**arguments.arguments)
