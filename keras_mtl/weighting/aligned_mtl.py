"""Aligned-MTL: task gradients with equalised singular values."""

import keras
from keras import ops

from keras_mtl.weighting.base import GradientWeighting, normalize_gram, restrict_gram


@keras.saving.register_keras_serializable(package="keras_mtl")
class AlignedMTL(GradientWeighting):
    """Aligned-MTL: the sum of the rows of the aligned gradient matrix.

    With `G Gᵀ = V Λ Vᵀ` (rank r), the aligned matrix is `Ĝ = B G`,
    `B = σ_min V Λ^{-1/2} Vᵀ`, `σ_min = sqrt(λ_min)` the smallest non-zero
    singular value of G: every non-zero singular value of Ĝ equals σ_min
    (a perfectly conditioned system). The update is `1ᵀĜ`, so the task
    weights are `1ᵀB`. Eigenvalues below `1e-5` of the largest count as
    zero. Over the tasks with labels.

    Args:
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(AlignedMTL().aggregate(g)), 4).tolist()
    [1.0, 1.0]

    Reference:
        Senushkin, Patakin, Kuznetsov, Konushin. Independent Component
        Alignment for Multi-Task Learning. CVPR 2023.
    """

    def balance_matrix(self, gram, mask=None):
        """`B` `(num_tasks, num_tasks)` such that `B G` is the aligned matrix."""
        gram = ops.cast(ops.convert_to_tensor(gram), "float32")
        if mask is None:
            mask = ops.ones((gram.shape[0],), "float32")
        mask = ops.cast(ops.convert_to_tensor(mask), "float32")
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        gram = restrict_gram(gram, mask, fill=ops.sum(ops.diagonal(gram)) + 1.0)
        values, vectors = ops.eigh(gram)
        kept = values > 1e-5 * ops.max(values)
        inverse_root = ops.where(kept, 1.0 / ops.sqrt(ops.maximum(values, 1e-20)), 0)
        smallest = ops.min(ops.where(kept, values, ops.max(values)))
        b = ops.matmul(vectors * inverse_root[None, :], ops.transpose(vectors))
        return ops.sqrt(smallest) * b * mask[:, None] * mask[None, :]

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        return ops.sum(self.balance_matrix(gram, mask), axis=0) * mask
