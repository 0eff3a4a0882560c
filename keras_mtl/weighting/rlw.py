"""Random loss weighting."""

import keras
from keras import ops

from keras_mtl.weighting.base import LossWeighting


@keras.saving.register_keras_serializable(package="keras_mtl")
class RLW(LossWeighting):
    """Random loss weighting: `w = softmax(z)`, `z ~ N(0, I)` drawn each step.

    The softmax runs over the tasks with labels in the batch.

    Args:
        seed: int or None. Seed of the draws. Defaults to `None`.

    Example:

    >>> strategy = RLW(seed=0)
    >>> strategy.setup(3)
    >>> _, weights = strategy.combine_losses(
    ...     np.ones(3, "float32"), np.ones(3, "float32"))
    >>> round(float(keras.ops.sum(weights)), 5)
    1.0

    Reference:
        Lin, Ye, Xu, Shi, Zhang. Reasonable Effectiveness of Random Weighting:
        A Litmus Test for Multi-Task Learning. TMLR 2022.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def combine(self, losses, mask):
        z = keras.random.normal((self.num_tasks,), seed=self.seed_generator)
        z = ops.where(mask > 0, z, -1e9)
        weights = ops.softmax(z) * mask
        return ops.sum(weights * losses), weights

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
