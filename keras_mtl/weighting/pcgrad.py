"""PCGrad: projecting conflicting gradients."""

import keras
from keras import ops

from keras_mtl.weighting.base import GradientWeighting, normalize_gram


@keras.saving.register_keras_serializable(package="keras_mtl")
class PCGrad(GradientWeighting):
    """PCGrad: each task gradient projected off those it conflicts with, summed.

    For each task i, in a random order of the other tasks j: if
    `g_i^PC · g_j < 0`, `g_i^PC ← g_i^PC − (g_i^PC · g_j / ‖g_j‖²) g_j`. The
    update is `Σ_i g_i^PC`. Computed on the Gram matrix (each `g_i^PC` is a
    combination of the task gradients), so the logged weights are the
    coefficient of each `g_j` in the sum. Tasks without labels are left out.

    Args:
        shuffle: bool. Random order per task and step (the paper); `False`
            uses task order. Defaults to `True`.
        seed: int or None. Seed of the orders. Defaults to `None`.
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[1.0, 0.0], [-1.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(PCGrad().aggregate(g)), 4).tolist()
    [0.5, 1.5]

    Reference:
        Yu, Kumar, Gupta, Levine, Hausman, Finn. Gradient Surgery for
        Multi-Task Learning. NeurIPS 2020.
    """

    def __init__(self, shuffle=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(shuffle, bool):
            raise TypeError(f"`shuffle` must be a bool. Received: shuffle={shuffle!r}")
        self.shuffle = shuffle
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _orders(self, num_tasks):
        if not self.shuffle:
            return ops.tile(ops.arange(num_tasks)[None, :], (num_tasks, 1))
        keys = keras.random.uniform((num_tasks, num_tasks), seed=self.seed_generator)
        return ops.argsort(keys, axis=1)

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        num_tasks = gram.shape[0]
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        diagonal = ops.diagonal(gram)
        eye = ops.eye(num_tasks, dtype="float32")
        orders = self._orders(num_tasks)
        coefficients = eye
        for k in range(num_tasks):
            pick = ops.one_hot(orders[:, k], num_tasks, dtype="float32")
            dots = ops.sum(ops.matmul(coefficients, gram) * pick, axis=1)
            norms = ops.sum(diagonal[None, :] * pick, axis=1)
            other = ops.sum(pick * eye, axis=1) == 0
            project = (dots < 0) & other & (norms > 1e-12)
            factor = ops.where(project, dots / ops.maximum(norms, 1e-12), 0.0)
            coefficients = coefficients - factor[:, None] * pick
        return ops.sum(coefficients * mask[:, None], axis=0) * mask

    def get_config(self):
        return {**super().get_config(), "shuffle": self.shuffle, "seed": self.seed}
