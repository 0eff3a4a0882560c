"""IMTL-G: impartial multi-task learning, gradient part."""

import keras
from keras import ops

from keras_mtl.weighting.base import GradientWeighting, normalize_gram, restrict_gram


@keras.saving.register_keras_serializable(package="keras_mtl")
class IMTL(GradientWeighting):
    """IMTL-G: the combination whose projections on every unit task gradient
    are equal.

    `d = Σ_m α_m g_m` with `Σ α = 1` and `dᵀu_1 = … = dᵀu_M`,
    `u_m = g_m / ‖g_m‖`: the paper's closed form
    `α_{2:M} = g_1 Uᵀ (D Uᵀ)^{-1}`, `D` and `U` the rows `g_1 − g_m` and
    `u_1 − u_m`, computed from inner products only, over the tasks with
    labels.

    Args:
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> d = keras.ops.convert_to_numpy(IMTL().aggregate(g))  # α = (1/3, 2/3)
    >>> np.round(3 * d, 4).tolist()
    [2.0, 2.0]

    Reference:
        Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang. Towards Impartial
        Multi-task Learning. ICLR 2021.
    """

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        num_tasks = gram.shape[0]
        if num_tasks == 1:
            return mask
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        gram = restrict_gram(gram, mask)
        norms = ops.sqrt(ops.maximum(ops.diagonal(gram), 1e-12))
        a = gram / norms[None, :]  # a[i, j] = g_i · u_j
        v = a[0, 0] - a[0, 1:]
        du = a[0, 0] - a[0, 1:][None, :] - a[1:, 0][:, None] + a[1:, 1:]
        du = du + 1e-6 * ops.eye(num_tasks - 1, dtype="float32")
        rest = ops.solve(ops.transpose(du), v[:, None])[:, 0]
        first = ops.reshape(1.0 - ops.sum(rest), (1,))
        alpha = ops.concatenate([first, rest]) * mask
        total = ops.sum(alpha)
        alpha = alpha / ops.where(ops.abs(total) > 1e-12, total, 1.0)
        finite = ops.all(ops.isfinite(alpha))
        return ops.where(finite, alpha, mask / ops.maximum(ops.sum(mask), 1.0))
