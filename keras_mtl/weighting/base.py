"""The base classes of the task-weighting strategies."""

import json

import keras
from keras import ops

# Eager calls of stateless solvers, compiled once per configuration and shape.
_COMPILED = {}


class Weighting(keras.layers.Layer):
    """Base of every task-weighting strategy.

    A strategy is a Keras layer only to be tracked by the model it trains:
    its state (learned log-variances, loss histories, logits) is made of
    Keras variables, so it is saved in `.keras` files, restored on loading
    and threaded through JAX's stateless training step. It is never called
    on tensors.

    Subclasses set `needs_gradients` and implement `combine`
    (loss-based) or `gram_weights` (gradient-based). `setup(num_tasks)`
    creates the state for a number of tasks; `MultiTaskModel.compile` calls
    it.
    """

    needs_gradients = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = None

    def setup(self, num_tasks):
        """Creates the strategy's state for `num_tasks` tasks (once)."""
        num_tasks = int(num_tasks)
        if num_tasks < 1:
            raise ValueError(f"`num_tasks` must be >= 1. Received: {num_tasks}")
        if self.num_tasks is not None and not self.weights:
            self.num_tasks = num_tasks  # no per-task state: any number
            return
        if self.num_tasks is not None:
            if self.num_tasks != num_tasks:
                raise ValueError(
                    f"This {type(self).__name__} was set up for {self.num_tasks} "
                    f"tasks; it cannot weight {num_tasks}."
                )
            return
        self.num_tasks = num_tasks
        self.create_state(num_tasks)
        self.built = True

    def create_state(self, num_tasks):
        """Creates the strategy's variables (none by default)."""

    def state_variable(self, name, shape, initializer="zeros", trainable=False):
        """A float32 state variable of the strategy."""
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer,
            trainable=trainable,
            dtype="float32",
            autocast=False,
        )

    def end_epoch(self):
        """Called after every training epoch (eagerly); nothing by default."""

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs):
        raise TypeError(
            f"A {type(self).__name__} is a task-weighting strategy, not a layer "
            "to call: pass it as `weighting=` to `compile`."
        )


class LossWeighting(Weighting):
    """A strategy that combines the task losses into one objective."""

    def combine_losses(self, losses, mask):
        """The training objective and the weight each task gets.

        Args:
            losses: float32 tensor `(num_tasks,)`, the task losses (0 for a
                task without labels in the batch).
            mask: float32 tensor `(num_tasks,)`, 1 for a task with labels in
                the batch, 0 otherwise.

        Returns:
            `(objective, weights)`: a scalar to minimise, and the weight
            `(num_tasks,)` of each task's loss in it (for logging).
        """
        losses = ops.cast(ops.convert_to_tensor(losses), "float32")
        mask = ops.cast(ops.convert_to_tensor(mask), "float32")
        return self.combine(losses, mask)

    def combine(self, losses, mask):
        """`combine_losses` on float32 tensors (what subclasses implement)."""
        raise NotImplementedError


class GradientWeighting(Weighting):
    """A strategy that combines the task gradients into one update direction.

    Every strategy here gives a direction in the span of the task gradients,
    `d = Σ_m w_m g_m`, whose weights `w` depend on the gradients only through
    their Gram matrix `K = G Gᵀ`: `compute_weights(K, mask)` gives `w`, and
    training applies `Σ_m w_m g_m` without stacking the gradients.

    Args:
        rep_grad: bool. Combine the per-task gradients of the shared
            representation (the tensors the shared layers hand to the task
            layers, LibMTL's `rep_grad=True`) instead of those of the shared
            parameters; the combined representation gradient is then
            backpropagated through the shared layers once. Cheaper (the
            per-task backward passes stop at the representation), but the
            strategy then balances representation gradients, summed over
            the batch, which is not the same as balancing parameter
            gradients. Needs a model with a shared representation (see
            `WeightedTrainingMixin`). Defaults to `False`.
    """

    needs_gradients = True

    def __init__(self, rep_grad=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rep_grad, bool):
            raise TypeError(
                f"`rep_grad` must be a bool. Received: rep_grad={rep_grad!r}"
            )
        self.rep_grad = rep_grad

    def get_config(self):
        return {**super().get_config(), "rep_grad": self.rep_grad}

    def compute_weights(self, gram, mask, losses=None, last_gram=None):
        """The weight of each task gradient in the combined direction.

        Args:
            gram: float32 tensor `(num_tasks, num_tasks)`, `G Gᵀ`.
            mask: float32 tensor `(num_tasks,)`, 1 for a task with labels in
                the batch. Tasks with mask 0 get weight 0 and do not change
                the weights of the others.
            losses: float32 tensor `(num_tasks,)` or None. The task losses.
            last_gram: float32 tensor `(num_tasks, num_tasks)` or None. The
                Gram matrix of the gradients of the last shared layer only.

        Returns:
            float32 tensor `(num_tasks,)`.
        """
        gram = ops.cast(ops.convert_to_tensor(gram), "float32")
        mask = ops.cast(ops.convert_to_tensor(mask), "float32")
        if losses is not None:
            losses = ops.cast(ops.convert_to_tensor(losses), "float32")
        if last_gram is not None:
            last_gram = ops.cast(ops.convert_to_tensor(last_gram), "float32")
        compiled = self._compiled(gram)
        if compiled is not None and losses is None and last_gram is None:
            return compiled(gram, mask)
        return self.gram_weights(gram, mask, losses, last_gram)

    def _compiled(self, gram):
        """A compiled `gram_weights` for eager calls (JAX, TensorFlow), or None.

        Eager JAX compiles every operation and loop on its first use and
        eager TensorFlow runs the solver loops step by step; a stateless
        strategy's solver is compiled instead, once per configuration.
        """
        backend = keras.backend.backend()
        if backend not in ("jax", "tensorflow") or self.variables:
            return None
        if backend == "jax":
            import jax

            if isinstance(gram, jax.core.Tracer):
                return None
        else:
            import tensorflow as tf

            if not tf.executing_eagerly():
                return None
        config = {k: v for k, v in self.get_config().items() if k != "name"}
        key = (type(self), json.dumps(config, sort_keys=True, default=str))
        key += (tuple(gram.shape),)
        if key not in _COMPILED:
            solve = type(self).from_config(self.get_config()).gram_weights
            if backend == "jax":
                import jax

                _COMPILED[key] = jax.jit(lambda g, m: solve(g, m))
            else:
                import tensorflow as tf

                _COMPILED[key] = tf.function(lambda g, m: solve(g, m))
        return _COMPILED[key]

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        """`compute_weights` on float32 tensors (what subclasses implement)."""
        raise NotImplementedError

    def aggregate(self, gradients, mask=None):
        """Combines per-task gradients into one update direction.

        Args:
            gradients: tensor `(num_tasks, num_params)`, one row per task.
            mask: optional tensor `(num_tasks,)`, 1 for the tasks to combine
                (the others contribute nothing). Defaults to every task.

        Returns:
            tensor `(num_params,)`.
        """
        gradients = ops.convert_to_tensor(gradients)
        if len(gradients.shape) != 2:
            raise ValueError(
                "`gradients` must be a `(num_tasks, num_params)` matrix. "
                f"Received shape {tuple(gradients.shape)}."
            )
        dtype = gradients.dtype
        gradients = ops.cast(gradients, "float32")
        num_tasks = gradients.shape[0]
        if mask is None:
            mask = ops.ones((num_tasks,), "float32")
        mask = ops.cast(ops.convert_to_tensor(mask), "float32")
        self.setup(num_tasks)
        weights = self.compute_weights(
            ops.matmul(gradients, ops.transpose(gradients)), mask
        )
        return ops.cast(ops.matmul(weights[None, :], gradients)[0], dtype)


def count(mask):
    """The number of tasks present (at least 1, to divide by)."""
    return ops.maximum(ops.sum(mask), 1.0)


def restrict_gram(gram, mask, fill=None):
    """`gram` with the absent tasks made orthogonal unit-scale dummies.

    Rows and columns of absent tasks are zeroed and their diagonal entry set
    to `fill` (default: the mean diagonal of the present tasks), so solvers
    that need a positive diagonal run unchanged, and the weights of the
    present tasks follow from the present tasks alone.
    """
    outer = mask[:, None] * mask[None, :]
    gram = gram * outer
    if fill is None:
        fill = ops.sum(ops.diagonal(gram)) / count(mask)
        fill = ops.where(fill > 0, fill, 1.0)
    eye = ops.eye(gram.shape[0], dtype="float32")
    return gram + eye * ((1.0 - mask) * fill)[None, :]


def normalize_gram(gram, mask):
    """`(gram / scale, scale)`, scale = mean diagonal of the present tasks."""
    scale = ops.sum(ops.diagonal(gram) * mask) / count(mask)
    scale = ops.where(scale > 0, scale, 1.0)
    return gram / scale, scale


def check_number(value, name, minimum=None, maximum=None, strict_minimum=False):
    """A float hyperparameter checked against its range (ValueError names it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    value = float(value)
    low_bad = minimum is not None and (
        value <= minimum if strict_minimum else value < minimum
    )
    high_bad = maximum is not None and value > maximum
    if low_bad or high_bad or value != value:
        bound = []
        if minimum is not None:
            bound.append(f"{'>' if strict_minimum else '>='} {minimum}")
        if maximum is not None:
            bound.append(f"<= {maximum}")
        raise ValueError(
            f"`{name}` must be {' and '.join(bound)}. Received: {name}={value}"
        )
    return value


def check_iterations(value, name="max_iterations"):
    """A positive int hyperparameter (ValueError/TypeError name it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1. Received: {name}={value}")
    return value
