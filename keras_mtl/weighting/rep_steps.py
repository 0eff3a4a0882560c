"""The weighted training step with representation gradients (`rep_grad=True`).

One forward pass in which the task layers read copies of the shared
representation cut from the shared layers (`SharedRepresentation.cut`);
the gradient of each task loss (and of the regularization terms) with
respect to those copies (backward passes through the task layers only);
the strategy's combination of them (`combine_representation`); then one
backward pass of

    Σ_m mask_m L_m + R  (on the cut graph: each task's own gradient for its
                         layers, the penalties' direct gradients)
    + Σ_k <d_k, r_k>    (the combined gradients d_k of the representation
                         tensors r_k, through the shared layers)

whose gradient is applied with the model's optimizer.
"""

import keras
from keras import ops
from keras.src.trainers.data_adapters import data_adapter_utils

from keras_mtl.weighting.steps import (
    _current,
    _regularization,
    _rows,
    _step_record,
    _zero_if_none,
    torch_jacobian,
)


def _zeros_like_if_none(gradients, tensors):
    return [ops.zeros_like(t) if g is None else g for g, t in zip(gradients, tensors)]


def train_step(model, *args):
    """The step for the current backend (`args`: `(data,)` or `(state, data)`)."""
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_step(model, *args)
    if backend == "tensorflow":
        return _tensorflow_step(model, *args)
    if backend == "torch":
        return _torch_step(model, *args)
    raise NotImplementedError(f"rep_grad=True does not support {backend!r}.")


def _row_weights(mask, regularization):
    """1 for the task rows with labels and for the regularization row."""
    if regularization is None:
        return mask
    return ops.concatenate([mask, ops.ones((1,), mask.dtype)])


# -- TensorFlow ------------------------------------------------------------


def _tensorflow_step(model, data):
    import tensorflow as tf

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    representation = model._representation()
    leaves = [None] * len(representation.tensors)
    tape = tf.GradientTape(persistent=True)

    def substitute(k, value):
        leaves[k] = tf.stop_gradient(value)
        tape.watch(leaves[k])
        return leaves[k]

    with tape:
        with representation.cut(model, substitute) as reps:
            y_pred = model(x, training=True)
        losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
        regularization = _regularization(model.losses)
        rows = _rows(losses, regularization)
        total = ops.sum(rows * _row_weights(mask, regularization))
        rows = [rows[i] for i in range(rows.shape[0])]
    per_row = [_zeros_like_if_none(tape.gradient(r, leaves), leaves) for r in rows]
    jacobian = [tf.stack(column) for column in zip(*per_row)]
    directions, weights = model.combine_representation(jacobian, losses, mask)
    gradients = tape.gradient(
        [total] + list(reps),
        variables,
        output_gradients=[tf.ones_like(total)] + directions,
    )
    tape = None  # frees the persistent tape
    gradients = _zero_if_none(gradients, variables)
    model.optimizer.apply(gradients, variables)
    step = _step_record(losses, mask, weights, regularization)
    return model.update_weighting_metrics((x, y, sample_weight), y_pred, step)


# -- torch -----------------------------------------------------------------


def _torch_step(model, data):
    import torch

    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    parameters = [v.value for v in variables]
    representation = model._representation()
    leaves = [None] * len(representation.tensors)

    def substitute(k, value):
        leaves[k] = value.detach().requires_grad_(True)
        return leaves[k]

    with representation.cut(model, substitute) as reps:
        y_pred = model(x, training=True)
    model.zero_grad()
    losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
    regularization = _regularization(model.losses)
    rows = _rows(losses, regularization)
    jacobian = torch_jacobian(rows, leaves, keep_graph=True)
    with torch.no_grad():
        directions, weights = model.combine_representation(
            jacobian, losses.detach(), mask
        )
    total = ops.sum(rows * _row_weights(mask, regularization))
    targets = [(total, torch.ones_like(total))] + list(zip(reps, directions))
    targets = [(t, g) for t, g in targets if t.requires_grad]
    gradients = torch.autograd.grad(
        [t for t, _ in targets],
        parameters,
        grad_outputs=[g for _, g in targets],
        allow_unused=True,
    )
    gradients = _zero_if_none(gradients, variables)
    with torch.no_grad():
        model.optimizer.apply(gradients, variables)
    step = _step_record(losses, mask, weights, regularization)
    return model.update_weighting_metrics((x, y, sample_weight), y_pred, step)


# -- JAX -------------------------------------------------------------------


def _jax_step(model, state, data):
    import jax
    import jax.numpy as jnp

    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    representation = model._representation()

    def forward(trainable_values, substitute):
        with representation.cut(model, substitute) as reps:
            y_pred, values, terms = model.stateless_call(
                trainable_values, non_trainable, x, training=True, return_losses=True
            )
        return y_pred, values, terms, list(reps)

    # The task layers read `stop_gradient(r_k) + p_k`: the gradient with
    # respect to the zero probe p_k is the one with respect to r_k as the
    # task layers read it.
    shapes = jax.eval_shape(
        lambda values: forward(values, lambda k, value: value)[3], trainable
    )
    probes = [jnp.zeros(s.shape, s.dtype) for s in shapes]

    def rows_and_reps(trainable_values, probe_values):
        def substitute(k, value):
            return jax.lax.stop_gradient(value) + probe_values[k]

        y_pred, values, terms, reps = forward(trainable_values, substitute)
        losses, mask = model.task_loss_vector(y, y_pred, sample_weight)
        regularization = _regularization(terms)
        aux = (y_pred, values, losses, mask, regularization)
        return (_rows(losses, regularization), reps), aux

    (rows, reps), pullback, aux = jax.vjp(
        rows_and_reps, trainable, probes, has_aux=True
    )
    y_pred, non_trainable, losses, mask, regularization = aux
    zeros = [jnp.zeros_like(r) for r in reps]
    eye = jnp.eye(rows.shape[0], dtype=rows.dtype)
    jacobian = jax.vmap(lambda row: pullback((row, zeros))[1])(eye)
    mapping = list(zip(model.trainable_variables, trainable))
    mapping += list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        directions, weights = model.combine_representation(jacobian, losses, mask)
    non_trainable = _current(scope, model.non_trainable_variables, non_trainable)
    cotangent = (_row_weights(mask, regularization).astype(rows.dtype), directions)
    gradients = pullback(cotangent)[0]

    trainable, optimizer_values = model.optimizer.stateless_apply(
        optimizer_values, gradients, trainable
    )
    step = _step_record(losses, mask, weights, regularization)
    mapping = list(zip(model.metrics_variables, metrics_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = model.update_weighting_metrics((x, y, sample_weight), y_pred, step)
    metrics_values = _current(scope, model.metrics_variables, metrics_values)
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)
