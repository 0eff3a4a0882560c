"""GradNorm: gradient normalisation of the task weights."""

import keras
from keras import ops

from keras_mtl.weighting.base import GradientWeighting, check_number, count


@keras.saving.register_keras_serializable(package="keras_mtl")
class GradNorm(GradientWeighting):
    """GradNorm: learned loss weights that equalise the tasks' training rates.

    Weights `w` (starting at 1, `Σ_m w_m = M`) scale the task losses. Each
    step measures `G_m = w_m ‖∇_W L_m‖` on the last shared layer W (its
    kernel), the relative inverse training rate
    `r_m = L̃_m / mean(L̃)`, `L̃_m = L_m / L_m(0)` (`L_m(0)`: the task's first
    labelled loss), and takes a gradient step on
    `Σ_m |G_m − mean(G) r_m^α|` (targets held constant) for `w`, which is
    then clipped at 0 and renormalised to sum M. The step's update uses
    the weights before this change. Tasks without labels in the batch keep
    their weight and are left out of the means.

    The weights multiply the task losses, but the norms need per-task
    gradients of the last shared layer, so training computes per-task
    gradients as the gradient-based strategies do. With `rep_grad=True`
    the norms are those of the gradients of the shared representation.

    Args:
        alpha: float >= 0. The asymmetry α. Defaults to `1.5`.
        learning_rate: float > 0. Step size of the weights. Defaults to
            `0.025`.
        rep_grad: bool. See `GradientWeighting`. Defaults to `False`.

    Example:

    >>> strategy = GradNorm()
    >>> strategy.setup(2)
    >>> gram = np.array([[4.0, 0.0], [0.0, 1.0]], "float32")
    >>> weights = strategy.compute_weights(
    ...     gram, np.ones(2, "float32"), np.ones(2, "float32"))
    >>> keras.ops.convert_to_numpy(weights).tolist()
    [1.0, 1.0]

    Reference:
        Chen, Badrinarayanan, Lee, Rabinovich. GradNorm: Gradient
        Normalization for Adaptive Loss Balancing in Deep Multitask
        Networks. ICML 2018.
    """

    def __init__(self, alpha=1.5, learning_rate=0.025, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number(alpha, "alpha", minimum=0.0)
        self.learning_rate = check_number(
            learning_rate, "learning_rate", minimum=0.0, strict_minimum=True
        )

    def create_state(self, num_tasks):
        self.task_weights = self.state_variable("task_weights", (num_tasks,), "ones")
        self.initial_loss = self.state_variable("initial_loss", (num_tasks,), "ones")
        self.has_initial = self.state_variable("has_initial", (num_tasks,))

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        if losses is None:
            raise ValueError("GradNorm needs the task `losses` to weight the tasks.")
        gram = gram if last_gram is None else last_gram
        losses = ops.stop_gradient(ops.convert_to_tensor(losses, "float32"))
        present = ops.cast(mask, "bool")
        has = ops.convert_to_tensor(self.has_initial)
        initial = ops.where(
            present & (has == 0), losses, ops.convert_to_tensor(self.initial_loss)
        )
        self.initial_loss.assign(initial)
        self.has_initial.assign(ops.maximum(has, mask))
        w = ops.convert_to_tensor(self.task_weights)
        used = w * mask  # before the update (a variable's value may alias)
        norms = ops.sqrt(ops.maximum(ops.diagonal(gram), 0.0))
        scaled = w * norms
        ratio = losses / ops.maximum(initial, 1e-12)
        ratio = ratio / ops.maximum(ops.sum(ratio * mask) / count(mask), 1e-12)
        target = ops.sum(scaled * mask) / count(mask) * ops.power(ratio, self.alpha)
        step = ops.sign(scaled - target) * norms * mask
        new = ops.maximum(w - self.learning_rate * step, 0.0)
        total = ops.sum(new)
        new = ops.where(total > 0, new * self.num_tasks / total, ops.ones_like(new))
        self.task_weights.assign(new)
        return used

    def aggregate(self, gradients, mask=None, losses=None):
        """As `GradientWeighting.aggregate`; `losses` `(num_tasks,)` is required."""
        gradients = ops.cast(ops.convert_to_tensor(gradients), "float32")
        num_tasks = gradients.shape[0]
        self.setup(num_tasks)
        mask = ops.ones((num_tasks,)) if mask is None else ops.cast(mask, "float32")
        gram = ops.matmul(gradients, ops.transpose(gradients))
        weights = self.compute_weights(gram, mask, losses)
        return ops.matmul(weights[None, :], gradients)[0]

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "learning_rate": self.learning_rate,
        }
