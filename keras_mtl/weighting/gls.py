"""Geometric loss strategy."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting, count

_TINY = 1e-12


@keras.saving.register_keras_serializable(package="keras_mtl")
class GLS(LossWeighting):
    """Geometric loss strategy: minimises `(Π_m L_m)^{1/M}`.

    The product runs over the tasks with labels in the batch (M of them).
    Its gradient weights task m by `GLS / (M L_m)`, which is what is logged.

    Example:

    >>> strategy = GLS()
    >>> strategy.setup(2)
    >>> objective, _ = strategy.combine_losses(
    ...     np.array([1.0, 4.0], "float32"), np.array([1.0, 1.0], "float32"))
    >>> round(float(objective), 5)
    2.0

    Reference:
        Chennupati, Sistu, Yogamani, Rawashdeh. MultiNet++: Multi-Stream
        Feature Aggregation and Geometric Loss Strategy for Multi-Task
        Learning. CVPR Workshops 2019.
    """

    def combine(self, losses, mask):
        logs = ops.log(ops.maximum(losses, _TINY)) * mask
        objective = ops.exp(ops.sum(logs) / count(mask))
        weights = ops.stop_gradient(objective) / (
            count(mask) * ops.maximum(ops.stop_gradient(losses), _TINY)
        )
        return objective, weights * mask
