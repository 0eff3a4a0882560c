"""UPGrad: unconflicting projection of the task gradients."""

import keras
from keras import ops

from keras_mtl.weighting.base import (
    GradientWeighting,
    check_iterations,
    count,
    normalize_gram,
    restrict_gram,
)


@keras.saving.register_keras_serializable(package="keras_mtl")
class UPGrad(GradientWeighting):
    """UPGrad: the mean of the task gradients projected onto the dual cone.

    Each `g_i` is projected onto `{v : g_jᵀv ≥ 0 for every j}`; the
    projection is `v_i = Gᵀ(e_i + λ_i)` with `λ_i ≥ 0` minimising
    `½ λᵀKλ + λᵀK e_i` (its dual), solved by cyclic coordinate descent.
    The update is the mean of the `v_i` over the tasks with labels: it
    conflicts with no task.

    Args:
        max_iterations: int. Coordinate-descent sweeps. Defaults to `100`.
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(UPGrad().aggregate(g)), 4).tolist()
    [0.5, 0.5]

    Reference:
        Quinton, Rey. Jacobian Descent for Multi-Objective Optimization.
        arXiv 2406.16232, 2024.
    """

    def __init__(self, max_iterations=100, **kwargs):
        super().__init__(**kwargs)
        self.max_iterations = check_iterations(max_iterations)

    def projection_weights(self, gram, mask):
        """`(num_tasks, num_tasks)`: row i holds `e_i + λ_i` (v_i = row · G)."""
        gram = ops.cast(ops.convert_to_tensor(gram), "float32")
        mask = ops.cast(ops.convert_to_tensor(mask), "float32")
        num_tasks = gram.shape[0]
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        gram = restrict_gram(gram, mask, fill=1.0)
        eye = ops.eye(num_tasks, dtype="float32")
        diagonal = ops.maximum(ops.diagonal(gram), 1e-12)

        def sweep(_, lam):
            for j in range(num_tasks):
                column = ops.matmul(lam + eye, gram)[:, j]
                updated = ops.maximum(lam[:, j] - column / diagonal[j], 0.0)
                lam = lam + (updated - lam[:, j])[:, None] * eye[j][None, :]
            return lam

        lam = ops.fori_loop(0, self.max_iterations, sweep, ops.zeros_like(gram))
        return (lam + eye) * mask[:, None] * mask[None, :]

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        rows = self.projection_weights(gram, mask)
        return ops.sum(rows, axis=0) / count(mask)

    def get_config(self):
        return {**super().get_config(), "max_iterations": self.max_iterations}
