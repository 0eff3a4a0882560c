"""Equal weighting: the sum of the task losses."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting


@keras.saving.register_keras_serializable(package="keras_mtl")
class Equal(LossWeighting):
    """Equal weighting: minimises `Σ_m L_m` (each task's `loss_weight` kept).

    The default strategy; its combined gradient is the sum of the task
    gradients.

    Example:

    >>> g = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> np.round(keras.ops.convert_to_numpy(Equal().aggregate(g)), 4).tolist()
    [1.0, 2.0]
    """

    def combine(self, losses, mask):
        return ops.sum(losses * mask), mask

    def aggregate(self, gradients, mask=None):
        """The sum of the task gradients `(num_tasks, num_params)` (rows with
        `mask` 0 left out)."""
        gradients = ops.convert_to_tensor(gradients)
        if mask is None:
            return ops.sum(gradients, axis=0)
        mask = ops.cast(ops.convert_to_tensor(mask), gradients.dtype)
        return ops.sum(gradients * mask[:, None], axis=0)
