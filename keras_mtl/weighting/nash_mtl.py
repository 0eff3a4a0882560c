"""Nash-MTL: the Nash bargaining solution of the tasks."""

import keras
from keras import ops

from keras_mtl.weighting.base import (
    GradientWeighting,
    check_iterations,
    normalize_gram,
    restrict_gram,
)


@keras.saving.register_keras_serializable(package="keras_mtl")
class NashMTL(GradientWeighting):
    """Nash-MTL: weights α > 0 solving `GᵀG α = 1/α` (element-wise).

    The solution is the unique minimiser of the strictly convex
    `½ αᵀKα − Σ_m log α_m` (`K` the Gram matrix), found by damped Newton
    steps (step `1 / (1 + λ)`, λ the Newton decrement, which keeps α > 0).
    A tiny ridge (`1e-6` of the mean squared gradient norm) keeps α finite
    for a task whose gradient is zero. Over the tasks with labels.

    Args:
        max_iterations: int. Newton steps. Defaults to `20`.
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(NashMTL().aggregate(g)), 4).tolist()
    [1.0, 1.0]

    Reference:
        Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya.
        Multi-Task Learning as a Bargaining Game. ICML 2022.
    """

    def __init__(self, max_iterations=20, **kwargs):
        super().__init__(**kwargs)
        self.max_iterations = check_iterations(max_iterations)

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        num_tasks = gram.shape[0]
        gram, scale = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        eye = ops.eye(num_tasks, dtype="float32")
        gram = restrict_gram(gram, mask, fill=1.0) + 1e-6 * eye

        def step(_, alpha):
            gradient = ops.matmul(gram, alpha) - 1.0 / alpha
            hessian = gram + eye / ops.square(alpha)[None, :]
            newton = ops.solve(hessian, gradient[:, None])[:, 0]
            decrement = ops.sqrt(ops.maximum(ops.sum(gradient * newton), 0.0))
            return alpha - newton / (1.0 + decrement)

        alpha = 1.0 / ops.sqrt(ops.diagonal(gram))
        alpha = ops.fori_loop(0, self.max_iterations, step, alpha)
        return alpha * mask / ops.sqrt(scale)

    def get_config(self):
        return {**super().get_config(), "max_iterations": self.max_iterations}
