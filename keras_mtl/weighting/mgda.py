"""MGDA: the min-norm point of the convex hull of the task gradients."""

import keras
from keras import ops

from keras_mtl.weighting.base import (
    GradientWeighting,
    check_iterations,
    count,
    normalize_gram,
)


def pairwise_vertices(scores, w, mask):
    """One-hot `(num_tasks,)` of the toward and away vertices of pairwise
    Frank–Wolfe: the present task with the lowest score, and the task with
    weight whose score is highest."""
    spread = ops.max(ops.abs(scores)) + 1.0
    toward = ops.argmin(ops.where(mask > 0, scores, spread * 4.0))
    away = ops.argmax(ops.where((w > 0) & (mask > 0), scores, -spread * 4.0))
    num_tasks = scores.shape[0]
    return (
        ops.one_hot(toward, num_tasks, dtype="float32"),
        ops.one_hot(away, num_tasks, dtype="float32"),
    )


@keras.saving.register_keras_serializable(package="keras_mtl")
class MGDA(GradientWeighting):
    """MGDA: the min-norm element of the convex hull of the task gradients.

    `w = argmin_{w ∈ simplex} ‖Σ_m w_m g_m‖²` over the tasks with labels,
    found by Frank–Wolfe with exact line search as in the paper, in its
    pairwise form (mass moves from the worst task with weight to the best
    one), which converges linearly also when the minimum lies on a face.

    Args:
        max_iterations: int. Frank–Wolfe steps. Defaults to `100`.
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(MGDA().aggregate(g)), 4).tolist()
    [0.5, 0.5]

    Reference:
        Sener, Koltun. Multi-Task Learning as Multi-Objective Optimization.
        NeurIPS 2018.
    """

    def __init__(self, max_iterations=100, **kwargs):
        super().__init__(**kwargs)
        self.max_iterations = check_iterations(max_iterations)

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)

        def step(_, w):
            gw = ops.matmul(gram, w)
            toward, away = pairwise_vertices(gw, w, mask)
            direction = toward - away
            curvature = ops.sum(direction * ops.matmul(gram, direction))
            decrease = -ops.sum(gw * direction)
            gamma = decrease / ops.maximum(curvature, 1e-12)
            gamma = ops.where(curvature > 1e-12, gamma, 0.0)
            return w + ops.clip(gamma, 0.0, ops.sum(w * away)) * direction

        return ops.fori_loop(0, self.max_iterations, step, mask / count(mask))

    def get_config(self):
        return {**super().get_config(), "max_iterations": self.max_iterations}
