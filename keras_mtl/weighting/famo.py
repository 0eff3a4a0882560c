"""Fast adaptive multitask optimisation (FAMO)."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting, check_number

_EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="keras_mtl")
class FAMO(LossWeighting):
    """FAMO: O(1)-per-step weights that balance the tasks' log-loss decrease.

    Weights `z = softmax(ξ)` over logits ξ; the objective
    `Σ_m z_m log(L_m + ε) / c`, `c = Σ_m z_m / (L_m + ε)` (held constant),
    gives the update `Σ_m z_m ∇L_m / (c (L_m + ε))`. Each step first moves
    the logits by `ξ ← ξ − β (J_zᵀ δ + γ ξ)` with
    `δ_m = log(L_m^{prev} + ε) − log(L_m + ε)` (the change of each task's
    log-loss since its last batch, 0 for a task without labels now or
    then), then weights the current losses. As in the released code the
    logit step is taken by Adam with learning rate β (`optimizer="adam"`);
    `optimizer="sgd"` takes the plain step of the paper's algorithm.

    Args:
        learning_rate: float > 0. β, the step size of the logits.
            Defaults to `0.025`.
        weight_decay: float >= 0. γ, the decay of the logits. Defaults to
            `0.001`.
        optimizer: `"adam"` or `"sgd"`. How the logit step is taken.
            Defaults to `"adam"`.

    Example:

    >>> strategy = FAMO()
    >>> strategy.setup(2)
    >>> _, weights = strategy.combine_losses(
    ...     np.array([1.0, 1.0], "float32"), np.array([1.0, 1.0], "float32"))
    >>> np.round(keras.ops.convert_to_numpy(weights), 4).tolist()
    [0.5, 0.5]

    Reference:
        Liu, Feng, Stone, Liu. FAMO: Fast Adaptive Multitask Optimization.
        NeurIPS 2023.
    """

    def __init__(
        self, learning_rate=0.025, weight_decay=0.001, optimizer="adam", **kwargs
    ):
        super().__init__(**kwargs)
        self.learning_rate = check_number(
            learning_rate, "learning_rate", minimum=0.0, strict_minimum=True
        )
        self.weight_decay = check_number(weight_decay, "weight_decay", minimum=0.0)
        if optimizer not in ("adam", "sgd"):
            raise ValueError(
                "`optimizer` must be 'adam' or 'sgd'. "
                f"Received: optimizer={optimizer!r}"
            )
        self.optimizer = optimizer

    def create_state(self, num_tasks):
        self.logits = self.state_variable("logits", (num_tasks,))
        self.previous_loss = self.state_variable("previous_loss", (num_tasks,))
        self.has_previous = self.state_variable("has_previous", (num_tasks,))
        self.moment = self.state_variable("moment", (num_tasks,))
        self.second_moment = self.state_variable("second_moment", (num_tasks,))
        self.steps = self.state_variable("steps", ())

    def _logit_step(self, losses, mask):
        xi = ops.convert_to_tensor(self.logits)
        seen = ops.convert_to_tensor(self.has_previous) * mask
        delta = ops.log(ops.convert_to_tensor(self.previous_loss) + _EPSILON)
        delta = (delta - ops.log(losses + _EPSILON)) * seen
        z = ops.softmax(xi)
        gradient = z * (delta - ops.sum(z * delta)) + self.weight_decay * xi
        active = ops.cast(ops.sum(seen) > 0, "float32")
        if self.optimizer == "sgd":
            return xi - active * self.learning_rate * gradient
        steps = ops.convert_to_tensor(self.steps) + active
        m = ops.convert_to_tensor(self.moment)
        v = ops.convert_to_tensor(self.second_moment)
        m = m + active * (1.0 - 0.9) * (gradient - m)
        v = v + active * (1.0 - 0.999) * (ops.square(gradient) - v)
        m_hat = m / (1.0 - ops.power(0.9, ops.maximum(steps, 1.0)))
        v_hat = v / (1.0 - ops.power(0.999, ops.maximum(steps, 1.0)))
        self.moment.assign(m)
        self.second_moment.assign(v)
        self.steps.assign(steps)
        return xi - active * self.learning_rate * m_hat / (ops.sqrt(v_hat) + 1e-8)

    def combine(self, losses, mask):
        values = ops.stop_gradient(losses)
        xi = self._logit_step(values, mask)
        self.logits.assign(xi)
        present = ops.cast(mask, "bool")
        self.previous_loss.assign(
            ops.where(present, values, ops.convert_to_tensor(self.previous_loss))
        )
        self.has_previous.assign(
            ops.maximum(ops.convert_to_tensor(self.has_previous), mask)
        )
        z = ops.softmax(ops.where(present, xi, -1e9)) * mask
        scale = ops.sum(z / (values + _EPSILON))
        scale = ops.where(scale > 0, scale, 1.0)
        objective = ops.sum(z * ops.log(losses + _EPSILON)) / scale
        return objective, z / (scale * (values + _EPSILON))

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "optimizer": self.optimizer,
        }
