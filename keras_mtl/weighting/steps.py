"""The weighted training step of each backend (TensorFlow, JAX, torch).

Each computes the task losses of a batch, then either the gradient of the
strategy's combined loss (loss-based strategies) or the gradients of every
task loss and of the regularization terms (gradient-based ones, combined
by `WeightedTrainingMixin.combine_jacobian`), applies them with the
model's optimizer and updates the metrics.
"""

import keras
from keras import ops
from keras.src.trainers.data_adapters import data_adapter_utils


def train_step(model, *args):
    """The step for the current backend (`args`: `(data,)` or `(state, data)`)."""
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_step(model, *args)
    if backend == "tensorflow":
        return _tensorflow_step(model, *args)
    if backend == "torch":
        return _torch_step(model, *args)
    raise NotImplementedError(f"Weighted training does not support {backend!r}.")


def _regularization(terms):
    if not terms:
        return None
    return ops.sum(ops.stack([ops.sum(ops.cast(t, "float32")) for t in terms]))


def _zero_if_none(gradients, variables):
    return [
        ops.zeros(v.shape, v.dtype) if g is None else g
        for g, v in zip(gradients, variables)
    ]


def _rows(losses, regularization):
    """The task losses, then the regularization terms (when there are any)."""
    if regularization is None:
        return losses
    return ops.concatenate([losses, regularization[None]])


# -- TensorFlow ------------------------------------------------------------


def _tensorflow_step(model, data):
    import tensorflow as tf

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    strategy = model.weighting
    variables = model.trainable_variables
    with tf.GradientTape(persistent=strategy.needs_gradients) as tape:
        y_pred = model(x, training=True)
        losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
        regularization = _regularization(model.losses)
        if not strategy.needs_gradients:
            objective, weights = strategy.combine_losses(losses, mask)
            if regularization is not None:
                objective = objective + regularization
        else:
            rows = _rows(losses, regularization)
            rows = [rows[i] for i in range(rows.shape[0])]
    if strategy.needs_gradients:
        per_row = [_zero_if_none(tape.gradient(r, variables), variables) for r in rows]
        del tape
        jacobian = [tf.stack(column) for column in zip(*per_row)]
        gradients, weights = model.combine_jacobian(jacobian, losses, mask)
    else:
        gradients = _zero_if_none(tape.gradient(objective, variables), variables)
    model.optimizer.apply(gradients, variables)
    step = _step_record(losses, mask, weights, regularization)
    return model.update_weighting_metrics((x, y, sample_weight), y_pred, step)


def _step_record(losses, mask, weights, regularization):
    return {
        "losses": ops.stop_gradient(losses),
        "mask": mask,
        "weights": ops.stop_gradient(weights),
        "regularization": None
        if regularization is None
        else ops.stop_gradient(regularization),
    }


# -- torch -----------------------------------------------------------------


def torch_jacobian(rows, tensors, keep_graph=False):
    """The gradient of every entry of `rows` w.r.t. `tensors` (torch).

    Args:
        rows: 1-D tensor (the task losses, then the regularization).
        tensors: list of tensors that require gradients.
        keep_graph: bool. Keep the autograd graph after the last row (for a
            later backward pass through it).

    Returns:
        One tensor `(rows, *tensor.shape)` per tensor; zeros where a row
        does not depend on it.
    """
    import torch

    count = rows.shape[0]
    per_row = []
    for i in range(count):
        if not rows[i].requires_grad:
            per_row.append([torch.zeros_like(t) for t in tensors])
            continue
        grads = torch.autograd.grad(
            rows[i],
            tensors,
            retain_graph=keep_graph or i + 1 < count,
            allow_unused=True,
        )
        per_row.append(
            [torch.zeros_like(t) if g is None else g for g, t in zip(grads, tensors)]
        )
    with torch.no_grad():
        return [torch.stack(column) for column in zip(*per_row)]


def _torch_step(model, data):
    import torch

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    strategy = model.weighting
    variables = model.trainable_variables
    parameters = [v.value for v in variables]
    y_pred = model(x, training=True)
    model.zero_grad()
    losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
    regularization = _regularization(model.losses)
    if strategy.needs_gradients:
        jacobian = torch_jacobian(_rows(losses, regularization), parameters)
        with torch.no_grad():
            gradients, weights = model.combine_jacobian(jacobian, losses.detach(), mask)
    else:
        objective, weights = strategy.combine_losses(losses, mask)
        if regularization is not None:
            objective = objective + regularization
        gradients = torch.autograd.grad(objective, parameters, allow_unused=True)
        gradients = _zero_if_none(gradients, variables)
    with torch.no_grad():
        model.optimizer.apply(gradients, variables)
    step = _step_record(losses, mask, weights, regularization)
    return model.update_weighting_metrics((x, y, sample_weight), y_pred, step)


# -- JAX -------------------------------------------------------------------


def _current(scope, variables, values):
    """The values of `variables` after the assignments recorded in `scope`."""
    updated = []
    for variable, value in zip(variables, values):
        new = scope.get_current_value(variable)
        updated.append(value if new is None else new)
    return updated


def _jax_step(model, state, data):
    import jax

    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    strategy = model.weighting

    def forward(trainable_values):
        y_pred, non_trainable_values, terms = model.stateless_call(
            trainable_values, non_trainable, x, training=True, return_losses=True
        )
        losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
        return y_pred, non_trainable_values, losses, mask, _regularization(terms)

    def scope_of(trainable_values, non_trainable_values):
        mapping = list(zip(model.trainable_variables, trainable_values))
        mapping += list(zip(model.non_trainable_variables, non_trainable_values))
        return keras.StatelessScope(state_mapping=mapping)

    if strategy.needs_gradients:

        def rows(trainable_values):
            y_pred, values, losses, mask, regularization = forward(trainable_values)
            aux = (y_pred, values, losses, mask, regularization)
            return _rows(losses, regularization), aux

        jacobian, aux = jax.jacrev(rows, has_aux=True)(trainable)
        y_pred, non_trainable, losses, mask, regularization = aux
        with scope_of(trainable, non_trainable) as scope:
            gradients, weights = model.combine_jacobian(jacobian, losses, mask)
        non_trainable = _current(scope, model.non_trainable_variables, non_trainable)
    else:

        def objective(trainable_values):
            y_pred, values, losses, mask, regularization = forward(trainable_values)
            with scope_of(trainable_values, values) as scope:
                total, weights = strategy.combine_losses(losses, mask)
            values = _current(scope, model.non_trainable_variables, values)
            if regularization is not None:
                total = total + regularization
            return total, (y_pred, values, losses, mask, regularization, weights)

        gradients, aux = jax.grad(objective, has_aux=True)(trainable)
        y_pred, non_trainable, losses, mask, regularization, weights = aux

    trainable, optimizer_values = model.optimizer.stateless_apply(
        optimizer_values, gradients, trainable
    )
    step = _step_record(losses, mask, weights, regularization)
    mapping = list(zip(model.metrics_variables, metrics_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = model.update_weighting_metrics((x, y, sample_weight), y_pred, step)
    metrics_values = _current(scope, model.metrics_variables, metrics_values)
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)
