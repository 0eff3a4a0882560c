"""CAGrad: conflict-averse gradient descent."""

import keras
from keras import ops

from keras_mtl.weighting.base import (
    GradientWeighting,
    check_iterations,
    check_number,
    count,
    normalize_gram,
)
from keras_mtl.weighting.mgda import pairwise_vertices


def _line_search(slope, root_phi, q0, q1, q2, limit):
    """argmin over γ ∈ [0, limit] of `slope γ + √φ sqrt(q0 + 2 q1 γ + q2 γ²)`."""
    r = -slope / root_phi
    gap = q2 - ops.square(r)
    discriminant = ops.maximum(q0 * q2 - ops.square(q1), 0.0)
    u = r * ops.sqrt(discriminant / ops.maximum(gap, 1e-20))
    inner = (u - q1) / ops.maximum(q2, 1e-20)
    monotone = ops.where(slope < 0, limit, 0.0)
    return ops.clip(ops.where(gap > 1e-12, inner, monotone), 0.0, limit)


@keras.saving.register_keras_serializable(package="keras_mtl")
class CAGrad(GradientWeighting):
    """CAGrad: the update that maximises the worst task's improvement near g₀.

    `d = g₀ + (√φ / ‖g_w‖) g_w`, `g₀` the mean task gradient,
    `φ = c² ‖g₀‖²`, `g_w = Σ_m w_m g_m` with `w` minimising
    `g_wᵀ g₀ + √φ ‖g_w‖` on the simplex (solved by Frank–Wolfe with exact
    line search, in its pairwise form). Means and the simplex run over the
    tasks with labels.

    Args:
        c: float >= 0. Radius of the ball around g₀ (0 gives g₀).
            Defaults to `0.5`.
        max_iterations: int. Frank–Wolfe steps. Defaults to `100`.
        rep_grad: bool. Combine gradients of the shared representation
            (see `GradientWeighting`). Defaults to `False`.

    Example:

    >>> g = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> np.round(keras.ops.convert_to_numpy(CAGrad(c=0.0).aggregate(g)), 4).tolist()
    [0.5, 0.5]

    Reference:
        Liu, Liu, Jin, Stone, Liu. Conflict-Averse Gradient Descent for
        Multi-task Learning. NeurIPS 2021.
    """

    def __init__(self, c=0.5, max_iterations=100, **kwargs):
        super().__init__(**kwargs)
        self.c = check_number(c, "c", minimum=0.0)
        self.max_iterations = check_iterations(max_iterations)

    def gram_weights(self, gram, mask, losses=None, last_gram=None):
        gram, _ = normalize_gram(gram * mask[:, None] * mask[None, :], mask)
        mean = mask / count(mask)
        linear = ops.matmul(gram, mean)
        phi = self.c**2 * ops.sum(mean * linear)
        root_phi = ops.maximum(ops.sqrt(ops.maximum(phi, 0.0)), 1e-12)

        def step(_, w):
            gw = ops.matmul(gram, w)
            q0 = ops.maximum(ops.sum(w * gw), 0.0)
            norm = ops.sqrt(ops.maximum(q0, 1e-20))
            toward, away = pairwise_vertices(linear + root_phi * gw / norm, w, mask)
            direction = toward - away
            g_direction = ops.matmul(gram, direction)
            q1 = ops.sum(w * g_direction)
            q2 = ops.sum(direction * g_direction)
            slope = ops.sum(linear * direction)
            limit = ops.sum(w * away)
            gamma = _line_search(slope, root_phi, q0, q1, q2, limit)
            return w + gamma * direction

        w = ops.fori_loop(0, self.max_iterations, step, mean)
        norm = ops.sqrt(ops.maximum(ops.sum(w * ops.matmul(gram, w)), 1e-20))
        coefficient = ops.where(phi > 0, ops.sqrt(ops.maximum(phi, 0.0)) / norm, 0.0)
        return mean + coefficient * w

    def get_config(self):
        return {
            **super().get_config(),
            "c": self.c,
            "max_iterations": self.max_iterations,
        }
