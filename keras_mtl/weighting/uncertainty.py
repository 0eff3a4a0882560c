"""Uncertainty weighting (learned homoscedastic task uncertainty)."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting


@keras.saving.register_keras_serializable(package="keras_mtl")
class Uncertainty(LossWeighting):
    """Uncertainty weighting: `Σ_m ½ e^{−s_m} L_m + ½ s_m`, `s_m` learned.

    `s_m = log σ_m²` is trained with the model's optimizer (it starts at 0:
    every weight ½). A task without labels in a batch contributes neither
    term, so its `s_m` is not pulled towards −∞.

    Example:

    >>> strategy = Uncertainty()
    >>> strategy.setup(2)
    >>> objective, weights = strategy.combine_losses(
    ...     np.array([1.0, 3.0], "float32"), np.array([1.0, 1.0], "float32"))
    >>> float(objective), keras.ops.convert_to_numpy(weights).tolist()
    (2.0, [0.5, 0.5])

    Reference:
        Kendall, Gal, Cipolla. Multi-Task Learning Using Uncertainty to Weigh
        Losses for Scene Geometry and Semantics. CVPR 2018.
    """

    def create_state(self, num_tasks):
        self.log_variance = self.state_variable(
            "log_variance", (num_tasks,), trainable=True
        )

    def combine(self, losses, mask):
        s = ops.convert_to_tensor(self.log_variance)
        weights = 0.5 * ops.exp(-s) * mask
        objective = ops.sum(weights * losses + 0.5 * s * mask)
        return objective, weights
