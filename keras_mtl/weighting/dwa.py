"""Dynamic weight average."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting, check_number, count


@keras.saving.register_keras_serializable(package="keras_mtl")
class DWA(LossWeighting):
    """Dynamic weight average: `w_m = M softmax_m(r_m / T)` per epoch.

    `r_m = L̄_m(e−1) / L̄_m(e−2)` is the ratio of the task's mean training
    loss over the last two epochs (means over the batches where the task
    had labels); the first two epochs use `w = 1`. The softmax runs over
    the tasks with labels in the batch, M their number.

    Args:
        temperature: float > 0. The softmax temperature T. Defaults to `2.0`.

    Example:

    >>> strategy = DWA()
    >>> strategy.setup(2)
    >>> _, weights = strategy.combine_losses(
    ...     np.array([1.0, 2.0], "float32"), np.array([1.0, 1.0], "float32"))
    >>> keras.ops.convert_to_numpy(weights).tolist()
    [1.0, 1.0]

    Reference:
        Liu, Johns, Davison. End-to-End Multi-Task Learning with Attention.
        CVPR 2019.
    """

    def __init__(self, temperature=2.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = check_number(
            temperature, "temperature", minimum=0.0, strict_minimum=True
        )

    def create_state(self, num_tasks):
        self.loss_sum = self.state_variable("loss_sum", (num_tasks,))
        self.loss_count = self.state_variable("loss_count", (num_tasks,))
        # Row 0: mean of the last epoch, row 1: of the one before.
        self.history = self.state_variable("history", (2, num_tasks), "ones")
        self.epochs = self.state_variable("epochs", ())

    def current_weights(self, mask):
        """The weights for the tasks present (`mask`), from the history."""
        history = ops.convert_to_tensor(self.history)
        ratio = history[0] / ops.maximum(history[1], 1e-12)
        logits = ops.where(mask > 0, ratio / self.temperature, -1e9)
        weights = count(mask) * ops.softmax(logits)
        ready = ops.convert_to_tensor(self.epochs) >= 2
        return ops.where(ready, weights, ops.ones_like(weights)) * mask

    def combine(self, losses, mask):
        self.loss_sum.assign_add(ops.stop_gradient(losses) * mask)
        self.loss_count.assign_add(mask)
        weights = self.current_weights(mask)
        return ops.sum(weights * losses), weights

    def end_epoch(self):
        counts = ops.convert_to_tensor(self.loss_count)
        history = ops.convert_to_tensor(self.history)
        means = ops.convert_to_tensor(self.loss_sum) / ops.maximum(counts, 1.0)
        means = ops.where(counts > 0, means, history[0])
        self.history.assign(ops.stack([means, history[0]]))
        self.epochs.assign(ops.convert_to_tensor(self.epochs) + 1.0)
        self.loss_sum.assign(ops.zeros_like(counts))
        self.loss_count.assign(ops.zeros_like(counts))

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
