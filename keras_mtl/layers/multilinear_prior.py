"""Task-specific dense weights under a tensor-normal prior (MRN, Long et al.)."""

import keras
import numpy as np
from keras import ops

from keras_mtl.arguments import check_bool, check_choice, check_float, check_int

COVARIANCES = ("all", "task")
TASK_SCALES = ("mle", "trace")
# Released-code constants of the `covariances="task"` scheme.
_TASK_MODE_MIN_EIGENVALUE = 0.1
_TASK_MODE_MAX_TRACE = 3000.0
_TASK_MODE_EPSILON = 1e-5


def mode_products(w, p1=None, p2=None, p3=None):
    """`W ×1 p1 ×2 p2 ×3 p3` for `w (D1, D2, T)`; a `None` factor is skipped.

    Each `p_k` is a symmetric `(D_k, D_k)` matrix; `p1` may also be the
    factors `(U, values, complement)` of a low-rank feature precision (see
    `feature_factors`). The Kronecker product is never formed: `p3` and `p2`
    act first, then `p1` as one `(D1, D1) @ (D1, D2·T)` product, or as two
    `(D1, r)` products in factored form.
    """
    if p3 is not None:
        w = ops.einsum("ijt,tu->iju", w, p3)
    if p2 is not None:
        w = ops.einsum("ijt,jk->ikt", w, p2)
    if p1 is not None:
        d1, d2, tasks = w.shape
        w = ops.reshape(_feature_product(p1, ops.reshape(w, (d1, d2 * tasks))), w.shape)
    return w


def _feature_product(p1, matrix):
    """`Ω1 @ matrix`; `p1` dense or `(U, values, complement)`.

    Factored: `Ω1 = a I + U diag(values − a) Uᵀ` (the eigenvalues `values` on
    the orthonormal columns of U, `a` on their complement), so the product
    costs `2 D1 r K` instead of `D1² K`.
    """
    if not isinstance(p1, (list, tuple)):
        return ops.matmul(p1, matrix)
    basis, values, complement = p1
    core = ops.matmul(ops.transpose(basis), matrix)
    core = ops.expand_dims(values - complement, 1) * core
    return complement * matrix + ops.matmul(basis, core)


def tensor_normal_prior(w, p1, p2, p3, weight):
    """`½ · weight · vec(W)ᵀ (Ω3 ⊗ Ω2 ⊗ Ω1) vec(W)`, differentiable in `w`.

    `M = W ×1 Ω1 ×2 Ω2 ×3 Ω3` is computed once, without gradient; the
    returned `weight · (⟨W, M⟩ − ½ ⟨W, M⟩|stop)` has the prior's value and,
    the Ω being symmetric, its exact gradient `weight · M`, so the backward
    pass does not repeat the mode products.
    """
    fixed = ops.stop_gradient(w)
    inner = ops.sum(w * mode_products(fixed, p1, p2, p3))
    return weight * (inner - 0.5 * ops.stop_gradient(inner))


def _gram(w, mode, p1=None, p2=None, p3=None, other=None):
    """`W_(k) (⊗ of the other two precisions) other_(k)ᵀ` for mode `k` in 0, 1, 2.

    `other` defaults to `w`.
    """
    weighted = mode_products(w, p1, p2, p3)
    spec = {0: "ijt,ajt->ia", 1: "ijt,iat->ja", 2: "ijt,ija->ta"}[mode]
    return ops.einsum(spec, weighted, w if other is None else other)


def _symmetric_eigh(matrix):
    matrix = 0.5 * (matrix + ops.transpose(matrix))
    return ops.eigh(matrix)


def _from_eigen(values, vectors):
    matrix = ops.matmul(vectors * ops.expand_dims(values, 0), ops.transpose(vectors))
    return 0.5 * (matrix + ops.transpose(matrix))


def uses_feature_factors(d1, d2, tasks):
    """Whether Ω1 is kept factored: `2 · D2 · T < D1` (see `feature_factors`)."""
    return 2 * d2 * tasks < d1


def normalized_covariance(gram, count, epsilon, rescale=True):
    """`gram / count + εI`, rescaled to trace = its dimension, and its inverse.

    The inverse is formed from the eigendecomposition, with eigenvalues
    floored at `epsilon` (so no precision entry exceeds `1 / epsilon`).

    Args:
        gram: float32 `(D, D)`.
        count: number of samples the gram sums over.
        epsilon: float. The ridge ε.
        rescale: bool. `False` keeps the maximum-likelihood scale
            `gram / count + εI`.

    Returns:
        `(covariance, precision)`, both float32 `(D, D)`.
    """
    dim = gram.shape[0]
    covariance = gram / count + epsilon * ops.eye(dim, dtype="float32")
    if rescale:
        covariance = covariance * (dim / ops.trace(covariance))
    values, vectors = _symmetric_eigh(covariance)
    values = ops.maximum(values, epsilon)
    return _from_eigen(values, vectors), _from_eigen(1.0 / values, vectors)


def feature_factors(w, p2, p3, epsilon):
    """The flip-flop Σ1 update as the factors of its inverse, without `D1 × D1` work.

    `G1 = W_(1) (Ω3 ⊗ Ω2) W_(1)ᵀ` has rank `r ≤ D2·T`: with the thin QR
    `W_(1) = Q R`, `G1 = Q (R K Rᵀ) Qᵀ` (`K = Ω3 ⊗ Ω2`, applied by mode
    products), and the eigenpairs `(λ, P)` of the `r × r` core give those of
    G1: eigenvectors `U = Q P`, eigenvalues λ, and 0 on the complement of
    U. So `Σ1 = c (G1 / (D2 T) + εI)`, `c = D1 / (tr G1 / (D2 T) + D1 ε)`
    (trace = D1), has eigenvalues `max(c (λ / (D2 T) + ε), ε)` on U and
    `max(c ε, ε)` on the complement, exactly as `normalized_covariance`
    computes them from the dense matrix, and its inverse is (Woodbury)
    `Ω1 = a I + U diag(1/s − a) Uᵀ` with `s` those eigenvalues and `a` the
    complement's inverse.

    Args:
        w: float32 `(D1, D2, T)`.
        p2, p3: the current class and task precisions.
        epsilon: float. Ridge ε.

    Returns:
        `(U (D1, r), values (r,), complement ())`, `r = D2·T`: the precision
        eigenvalues on U's columns and on their complement.
    """
    d1, d2, tasks = w.shape
    rank = d2 * tasks
    q, r = ops.qr(ops.reshape(w, (d1, rank)), mode="reduced")
    weighted = ops.reshape(
        mode_products(ops.reshape(r, (rank, d2, tasks)), None, p2, p3), (rank, rank)
    )
    eigenvalues, vectors = _symmetric_eigh(ops.matmul(weighted, ops.transpose(r)))
    scale = d1 / (ops.sum(eigenvalues) / rank + d1 * epsilon)
    values = ops.maximum(scale * (eigenvalues / rank + epsilon), epsilon)
    complement = ops.maximum(scale * epsilon, epsilon)
    return ops.matmul(q, vectors), 1.0 / values, 1.0 / complement


def _factored_gram(residual, projected, mode, factors, p_other):
    """`_gram(w, mode, Ω1, ...)` for a factored Ω1 = a (I − UUᵀ) + U diag(values) Uᵀ:
    `a · gram(W − U V) + gram(V)` (V weighted by `values`), from
    `projected = V = W ×1 Uᵀ` and `residual = W − U V`. The complement's
    term is formed from the residual, not as `a · gram(W) − a · gram(V)`,
    which would cancel when `a` is large and W lies near U's span."""
    _, values, complement = factors
    scaled = ops.reshape(values, (-1, 1, 1)) * projected
    others = {1: (None, p_other), 2: (p_other, None)}[mode]
    return complement * _gram(residual, mode, None, *others) + _gram(
        scaled, mode, None, *others, other=projected
    )


def task_only_precision(w, epsilon=_TASK_MODE_EPSILON):
    """The released code's task precision, with Σ1 = Σ2 = I.

    `W_(3) W_(3)ᵀ + εI` is decomposed (eigh; for this symmetric PSD matrix
    its eigenvalues are its singular values); eigenvalues `s > 0.1` are
    inverted and the others kept as they are (the released `select_func`:
    `1/s if s > 0.1 else s`), and the precision's trace is capped at 3000.

    Returns:
        `(covariance, precision)`, both float32 `(T, T)`.
    """
    tasks = w.shape[-1]
    covariance = _gram(w, 2) + epsilon * ops.eye(tasks, dtype="float32")
    values, vectors = _symmetric_eigh(covariance)
    keep = ops.greater(values, _TASK_MODE_MIN_EIGENVALUE)
    inverse = ops.where(
        keep, 1.0 / ops.maximum(values, _TASK_MODE_MIN_EIGENVALUE), values
    )
    precision = _from_eigen(inverse, vectors)
    trace = ops.trace(precision)
    precision = precision * ops.minimum(
        1.0, _TASK_MODE_MAX_TRACE / ops.maximum(trace, 1e-12)
    )
    return covariance, precision


def flip_flop(w, precisions, epsilon, task_scale="mle", factored=False):
    """One round of MRN's flip-flop covariance updates (Long et al. 2017, Sec. 3.3).

    Σ1 is re-estimated with the current Ω2, Ω3; then Σ2 with the new Ω1 and
    Ω3; then Σ3 with the new Ω1, Ω2. Each is `W_(k) (⊗ other Ω) W_(k)ᵀ /
    (product of the other dims) + εI`. Σ1 and Σ2 are rescaled to trace =
    their dimension (the Kronecker product fixes only the product of the
    three scales); Σ3 keeps the maximum-likelihood scale (`task_scale="mle"`)
    or is rescaled too (`"trace"`).

    Args:
        w: float32 tensor `(D1, D2, T)`.
        precisions: `(Ω1, Ω2, Ω3)`, the current precisions (Ω1 is unused).
        epsilon: float. Ridge ε.
        task_scale: `"mle"` or `"trace"`.
        factored: bool. Return Ω1 as the factors of `feature_factors`
            (exact, cheaper when `D2·T` is well below D1) instead of
            `(Σ1, Ω1)`.

    Returns:
        `(Σ1, Ω1, Σ2, Ω2, Σ3, Ω3)`, or `(U, values, complement, Σ2, Ω2, Σ3,
        Ω3)` when `factored`.
    """
    d1, d2, t = w.shape
    _, p2, p3 = precisions
    if factored:
        feature = p1 = feature_factors(w, p2, p3, epsilon)
        matrix = ops.reshape(w, (d1, d2 * t))
        projected = ops.matmul(ops.transpose(p1[0]), matrix)
        residual = ops.reshape(matrix - ops.matmul(p1[0], projected), w.shape)
        projected = ops.reshape(projected, (-1, d2, t))
        gram2 = _factored_gram(residual, projected, 1, p1, p3)
    else:
        c1, p1 = normalized_covariance(_gram(w, 0, None, p2, p3), d2 * t, epsilon)
        feature = (c1, p1)
        gram2 = _gram(w, 1, p1, None, p3)
    c2, p2 = normalized_covariance(gram2, d1 * t, epsilon)
    if factored:
        gram3 = _factored_gram(residual, projected, 2, p1, p2)
    else:
        gram3 = _gram(w, 2, p1, p2, None)
    c3, p3 = normalized_covariance(
        gram3, d1 * d2, epsilon, rescale=task_scale == "trace"
    )
    return (*feature, c2, p2, c3, p3)


def _task_initializer(initializer, task):
    """A copy of `initializer` drawing different values for each task.

    A Keras initializer returns the same values at every call; random ones
    are re-created with seed `seed + task` (or a fresh seed when unseeded).
    """
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    if config["seed"] is not None:
        config["seed"] = int(config["seed"]) + task
    return initializer.__class__.from_config(config)


def deviation_correlation(kernel):
    """The correlation of the task slices' deviations from their mean (numpy).

    Args:
        kernel: array `(D1, D2, T)`.

    Returns:
        float32 `(T, T)`: entry `(s, t)` is the correlation of
        `vec(W_s − W̄)` and `vec(W_t − W̄)`, `W̄` the mean task slice.
    """
    w = np.asarray(kernel, dtype="float64")
    deviations = (w - w.mean(axis=-1, keepdims=True)).reshape(-1, w.shape[-1])
    gram = deviations.T @ deviations
    return correlation(gram)


def correlation(covariance):
    """The correlation matrix of a covariance matrix (numpy)."""
    covariance = np.asarray(covariance, dtype="float64")
    scale = np.sqrt(np.clip(np.diag(covariance), 1e-30, None))
    return (covariance / np.outer(scale, scale)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultilinearPriorLayer(keras.layers.Layer):
    """Task-specific dense layers whose stacked weights carry a tensor-normal prior.

    The layer holds one dense map per task, stacked as `W (D1, D2, T)` (input
    × output × task). The prior `vec(W) ~ N(0, Σ3 ⊗ Σ2 ⊗ Σ1)` (feature,
    class/output and task covariances) adds
    `½ · prior_weight · vec(W)ᵀ (Ω3 ⊗ Ω2 ⊗ Ω1) vec(W)` to the loss, computed
    with mode products (the Kronecker product is never formed). The
    covariances and their inverses Ω are non-trainable float32 weights,
    refreshed every `update_every` training steps by the flip-flop updates
    (each rescaled to trace = its dimension; inverses via `eigh`). When
    `2 · units · num_tasks < D1` the estimate of Σ1 from the one sample W has
    rank `r = units · num_tasks` well below D1, and Ω1 is kept exactly as
    `a I + U diag(values − a) Uᵀ` (`U` its `D1 × r` eigenvectors, Woodbury;
    see `feature_factors`): a refresh then costs no `D1 × D1` work and the
    prior `2 D1 r D2 T` multiply-adds instead of `D1² D2 T`. The prior's
    gradient is `prior_weight · W ×1 Ω1 ×2 Ω2 ×3 Ω3`, formed in the forward
    pass (`tensor_normal_prior`). The
    refresh runs inside `call(training=True)` with a step counter and
    `ops.cond`, so it works inside `model.fit` on every backend (JAX's
    stateless training included). Until the first refresh all Σ are `I`.

    Args:
        units: int. Output width of each task's map (D2).
        num_tasks: int. Number of tasks T.
        prior_weight: float. λ; 0 removes the prior term (the covariances are
            still refreshed). The released code's `trade_off` t adds
            `t · vec(W)ᵀ(…)vec(W)` without the ½, so `prior_weight = 2t`.
            Defaults to `1e-4`, chosen by experiment
            (`examples/mrn_prior_scale.py`): with `task_scale="mle"` it
            recovers planted task relations in 10 of 10 seeds, where `1e-3`
            recovers them in 6.
        update_every: int. Training steps between covariance refreshes.
            Defaults to `100`.
        covariances: `"all"` (feature, class and task covariances, the
            paper) or `"task"` (the released code: Σ1 = Σ2 = I fixed, only
            the task precision refreshed: inverse of `W_(3)W_(3)ᵀ + εI` with
            eigenvalues ≤ 0.1 dropped and its trace capped at 3000).
            Defaults to `"all"`.
        epsilon: float. ε of the `"all"` updates, added to each covariance
            before rescaling (the rescaled eigenvalues are also floored at ε,
            so no precision exceeds 1/ε). ε is absolute, so it acts relative
            to the scale of the weights: it must not be negligible next to
            the covariance's eigenvalues, or the flip-flop keeps returning
            the previous Σ3 whenever D1 ≥ D2·T (the estimate from the one
            sample W is then degenerate). `"task"` mode uses the released
            code's 1e-5. Defaults to `1e-3`.
        activation: Activation of the outputs. Defaults to `None`.
        use_bias: bool. Per-task biases (not under the prior). Defaults to
            `True`.
        kernel_initializer: Initializer applied to each task's `(D1, D2)`
            matrix. Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        shared_init: bool. Start every task's matrix from one shared draw of
            `kernel_initializer`, as in the paper (every task fine-tunes the
            same pretrained layer), so that the tasks' units correspond and
            the task covariance compares like with like. `False` draws each
            task's matrix independently. Defaults to `True`.
        task_scale: `"mle"` or `"trace"`. The flip-flop updates rescale Σ1
            and Σ2 to trace = their dimension; with `"mle"` Σ3 keeps the
            maximum-likelihood scale, as the paper's estimates do, so the
            prior term sits near `½ · prior_weight · D1 · D2 · T` at the
            estimate whatever the size of W: it adapts to the weights
            instead of acting as a weight decay of fixed strength (its
            gradient grows as the weights shrink). `"trace"` rescales Σ3 to
            trace = T too (the earlier behaviour). Defaults to `"mle"`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        inputs: one tensor `(B, D1)` shared by all tasks, or a list of
            `num_tasks` tensors `(B, D1)`, one per task.
        training: bool. Refreshes the counter and, when due, the covariances.

    Returns:
        tuple of `num_tasks` tensors `(B, units)`.

    Example:

    >>> layer = MultilinearPriorLayer(10, num_tasks=3, update_every=50)
    >>> outputs = layer(np.ones((4, 16), "float32"))
    >>> len(outputs), tuple(outputs[0].shape), layer.task_covariance().shape
    (3, (4, 10), (3, 3))

    Reference:
        Long, Cao, Wang, Yu. Learning Multiple Tasks with Multilinear
        Relationship Networks. NIPS 2017.
    """

    def __init__(
        self,
        units,
        num_tasks,
        prior_weight=1e-4,
        update_every=100,
        covariances="all",
        epsilon=1e-3,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        shared_init=True,
        task_scale="mle",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int(units, "units")
        self.num_tasks = check_int(num_tasks, "num_tasks")
        self.prior_weight = check_float(prior_weight, "prior_weight")
        self.update_every = check_int(update_every, "update_every")
        self.covariances = check_choice(covariances, "covariances", COVARIANCES)
        self.epsilon = check_float(epsilon, "epsilon")
        if self.epsilon <= 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.shared_init = check_bool(shared_init, "shared_init")
        self.task_scale = check_choice(task_scale, "task_scale", TASK_SCALES)

    def _input_width(self, input_shape):
        if (
            isinstance(input_shape, (list, tuple))
            and input_shape
            and isinstance(input_shape[0], (list, tuple))
        ):
            if len(input_shape) != self.num_tasks:
                raise ValueError(
                    f"MultilinearPriorLayer expects one tensor or a list of "
                    f"num_tasks={self.num_tasks} tensors. Received "
                    f"{len(input_shape)} inputs."
                )
            widths = {tuple(s)[-1] for s in input_shape}
            if len(widths) != 1 or any(len(s) != 2 for s in input_shape):
                raise ValueError(
                    "All MultilinearPriorLayer inputs must have shape (batch, D) "
                    f"with one D. Received: {list(input_shape)}"
                )
            return widths.pop()
        if len(input_shape) != 2:
            raise ValueError(
                "MultilinearPriorLayer expects inputs of shape (batch, D). "
                f"Received: input_shape={input_shape}"
            )
        return input_shape[-1]

    def build(self, input_shape):
        width = self._input_width(input_shape)
        if width is None:
            raise ValueError("The input width of MultilinearPriorLayer must be known.")
        self.input_width = int(width)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.input_width, self.units, self.num_tasks),
            initializer=self._stacked_kernel_init,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.num_tasks, self.units),
                initializer=self.bias_initializer,
            )
        d1, d2, tasks = self.input_width, self.units, self.num_tasks
        self.factored = self.covariances == "all" and uses_feature_factors(
            d1, d2, tasks
        )
        if self.covariances == "task":
            shapes = {}
        elif self.factored:
            # Ω1 = a I + U diag(values − a) Uᵀ; starts at I (values = a = 1).
            shapes = {
                "feature_eigenvectors": ((d1, d2 * tasks), "identity"),
                "feature_precision_eigenvalues": ((d2 * tasks,), "ones"),
                "feature_complement_precision": ((), "ones"),
            }
        else:
            shapes = {
                "feature_covariance": ((d1, d1), "identity"),
                "feature_precision": ((d1, d1), "identity"),
            }
        dims = {"class": d2, "task": tasks} if self.covariances == "all" else {}
        dims = dims or {"task": tasks}
        for kind, dim in dims.items():
            for role in ("covariance", "precision"):
                shapes[f"{kind}_{role}"] = ((dim, dim), "identity")
        self._statistics = [
            self._statistic(name, shape, initializer)
            for name, (shape, initializer) in shapes.items()
        ]
        self.steps_since_update = self._statistic("steps_since_update", (), "zeros")

    def _stacked_kernel_init(self, shape, dtype=None):
        d1, d2, tasks = shape
        if self.shared_init:
            matrix = self.kernel_initializer((d1, d2), dtype=dtype)
            # A product, not a broadcast view: torch variables need own memory.
            return ops.expand_dims(matrix, -1) * ops.ones((1, 1, tasks), dtype=dtype)
        matrices = [
            _task_initializer(self.kernel_initializer, t)((d1, d2), dtype=dtype)
            for t in range(tasks)
        ]
        return ops.stack(matrices, axis=-1)

    def _statistic(self, name, shape, initializer="identity"):
        variable = self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer,
            dtype="float32",
            trainable=False,
            autocast=False,
        )
        return variable

    def call(self, inputs, training=None):
        kernel = self.kernel
        if isinstance(inputs, (list, tuple)):
            x = ops.stack(list(inputs), axis=0)
            y = ops.einsum("tbi,ijt->tbj", x, ops.cast(kernel, x.dtype))
        else:
            y = ops.einsum("bi,ijt->tbj", inputs, ops.cast(kernel, inputs.dtype))
        if self.use_bias:
            y = y + ops.expand_dims(ops.cast(self.bias, y.dtype), 1)
        if self.activation is not None:
            y = self.activation(y)
        w = ops.cast(kernel, "float32")
        precisions = self._refreshed_precisions(w, training)
        if self.prior_weight:
            self.add_loss(tensor_normal_prior(w, *precisions, self.prior_weight))
        return tuple(ops.unstack(y, num=self.num_tasks, axis=0))

    def _refreshed_precisions(self, w, training):
        """Counts a training step, refreshes the statistics when due, and
        returns the precisions `(Ω1, Ω2, Ω3)` to use (Ω1 = Ω2 = None in task
        mode; Ω1 the factors `(U, values, complement)` when factored)."""
        values = tuple(v.value for v in self._statistics)
        if training:
            step = ops.mod(
                self.steps_since_update.value + 1.0, float(self.update_every)
            )
            self.steps_since_update.assign(step)
            values = ops.cond(
                ops.equal(step, 0.0),
                lambda: self._updated(ops.stop_gradient(w), values),
                lambda: tuple(ops.copy(v) for v in values),
            )
            for variable, value in zip(self._statistics, values):
                variable.assign(value)
        if self.covariances == "task":
            return None, None, values[1]
        feature = tuple(values[:3]) if self.factored else values[1]
        return feature, values[-3], values[-1]

    def _updated(self, w, values):
        if self.covariances == "task":
            return task_only_precision(w)
        return flip_flop(
            w,
            (None, values[-3], values[-1]),
            self.epsilon,
            self.task_scale,
            factored=self.factored,
        )

    def compute_output_shape(self, input_shape):
        batch = (
            input_shape[0][0]
            if isinstance(input_shape[0], (list, tuple))
            else (input_shape[0])
        )
        return ((batch, self.units),) * self.num_tasks

    def statistic(self, name):
        """A refreshed statistic as numpy, e.g. `"task_precision"`.

        Names: `{feature,class,task}_{covariance,precision}` (only `task_*` in
        `covariances="task"` mode). When Ω1 is factored (`2·units·num_tasks
        < D1`) the layer holds `feature_eigenvectors`,
        `feature_precision_eigenvalues` and `feature_complement_precision`,
        and the dense `feature_*` matrices are formed from them here.
        """
        for variable in self._statistics:
            if variable.name == name:
                return np.asarray(ops.convert_to_numpy(variable), dtype="float32")
        if self.factored and name in ("feature_covariance", "feature_precision"):
            return self._dense_feature_statistic(name == "feature_precision")
        raise ValueError(
            f"Unknown statistic {name!r}. Available: "
            f"{[v.name for v in self._statistics]}"
        )

    def _dense_feature_statistic(self, precision):
        basis, values, complement = (
            np.asarray(ops.convert_to_numpy(v), dtype="float64")
            for v in self._statistics[:3]
        )
        if not precision:
            values, complement = 1.0 / values, 1.0 / complement
        dense = complement * np.eye(basis.shape[0])
        dense += (basis * (values - complement)) @ basis.T
        return dense.astype("float32")

    def task_covariance(self):
        """The task covariance Σ3 as a numpy array `(T, T)`."""
        return self.statistic("task_covariance")

    def task_correlation(self):
        """The task correlation matrix (Σ3 scaled to a unit diagonal), `(T, T)`."""
        return correlation(self.task_covariance())

    def task_deviation_correlation(self):
        """The correlation of the task matrices' deviations from their mean.

        When the part of W that all tasks share dominates, every entry of
        `task_correlation()` is near 1; this readout removes the mean task
        matrix first, so related tasks (that deviate alike) stand out.

        Returns:
            numpy `(T, T)`.
        """
        return deviation_correlation(ops.convert_to_numpy(self.kernel))

    def feature_covariance(self):
        """Σ1 `(D1, D1)` (the identity in `covariances="task"` mode)."""
        if self.covariances == "task":
            return np.eye(self.input_width, dtype="float32")
        return self.statistic("feature_covariance")

    def class_covariance(self):
        """Σ2 `(units, units)` (the identity in `covariances="task"` mode)."""
        if self.covariances == "task":
            return np.eye(self.units, dtype="float32")
        return self.statistic("class_covariance")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_tasks": self.num_tasks,
                "prior_weight": self.prior_weight,
                "update_every": self.update_every,
                "covariances": self.covariances,
                "epsilon": self.epsilon,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "shared_init": self.shared_init,
                "task_scale": self.task_scale,
            }
        )
        return config
