"""Tree-structured multi-task dense layer (TAT, Han & Zhang, KDD 2015)."""

import keras
import numpy as np
from keras import ops

from keras_mtl.arguments import check_float, check_int
from keras_mtl.layers.tree_prox import proximal_step


def default_fusion_weights(num_levels):
    """λ_h = 10^(h − H): 1 at the root, ten times smaller per level below."""
    return [10.0 ** (h - num_levels) for h in range(1, num_levels + 1)]


def check_fusion_weights(fusion_weights, num_levels):
    """Returns the H fusion weights as floats, or raises naming the argument."""
    if fusion_weights is None:
        return default_fusion_weights(num_levels)
    if isinstance(fusion_weights, (str, bytes)) or not hasattr(
        fusion_weights, "__len__"
    ):
        raise TypeError(
            "`fusion_weights` must be a list of num_levels non-negative numbers. "
            f"Received: fusion_weights={fusion_weights!r}"
        )
    if len(fusion_weights) != num_levels:
        raise ValueError(
            f"`fusion_weights` must have num_levels={num_levels} entries (leaf "
            f"level first). Received {len(fusion_weights)}: {list(fusion_weights)}"
        )
    return [check_float(w, "fusion_weights") for w in fusion_weights]


def partitions_from_components(components, tol):
    """Per-level groups of tasks whose parameters are within `tol` (float64).

    Args:
        components: array `(H, T, P)`, leaf level first.
        tol: float. Distance at or below which two tasks are joined.

    Returns:
        list of H partitions, root level first; a partition is a sorted list of
        groups, a group a sorted list of task indices (connected components).
    """
    from scipy.sparse.csgraph import connected_components

    components = np.asarray(components, dtype="float64")
    partitions = []
    for level in components[::-1]:
        diff = level[:, None, :] - level[None, :, :]
        close = np.sqrt(np.sum(diff**2, axis=-1)) <= tol
        _, labels = connected_components(close, directed=False)
        groups = {}
        for task, label in enumerate(labels):
            groups.setdefault(label, []).append(task)
        partitions.append(sorted(groups.values()))
    return partitions


@keras.saving.register_keras_serializable(package="keras_mtl")
class TreeGroupedDense(keras.layers.Layer):
    """Task-specific dense layers whose weights are fused along a learned tree.

    Task i's kernel (and bias) is the sum of `num_levels` components,
    `W_i = Σ_h W_i^(h)`. The fused group penalty
    `Σ_h λ_h Σ_{i<j} ‖w_i^(h) − w_j^(h)‖₂` (w = flattened kernel and bias) is
    applied by a proximal step with thresholds `step_size · λ_h`, so tasks
    fuse exactly; fused groups are nested from the leaf level (h = 1) to the
    root (h = H): once two tasks share a component they share it at every
    higher level, and `tree()` reads the tree off the weights.

    The step is the greedy level-by-level prox of `tree_prox`: it enforces
    nesting, not the paper's per-coordinate sequential constraint (the exact
    constrained prox is `keras_mtl.tree_solver.tree_prox`, used by
    `TreeMTL.solve` for the linear model). It is proximal gradient only when
    the optimizer's step on this layer is `−step_size · gradient`: compile
    with `TreeProximalAdam(tree_learning_rate=step_size)` (SGD on this
    layer, Adam elsewhere; `tree()` does) or `SGD(step_size)`.

    The proximal step runs inside `call(training=True)`, i.e. inside
    `model.fit` on every backend (also JAX's stateless training), in the
    BatchNormalization pattern: the trainable variable `kernel_updates` only
    collects the optimizer's steps; the non-trainable `components` hold the
    weights used in the forward pass. Each training call adds the step taken
    since the last call (`kernel_updates − updates_seen`) to `components`,
    applies the proximal step, and assigns the result; gradients reach
    `kernel_updates` through `components + (u − stop_gradient(u))`, whose
    value is exactly `components`. Fused rows are therefore bitwise equal.

    Args:
        units: int. Output width per task (≥ 1; 1 for the linear model).
        num_tasks: int. Number of tasks T.
        num_levels: int. Number of tree levels H (≥ 1). Defaults to `3`.
        fusion_weights: list of H non-negative floats λ_h, leaf level first
            (make them grow towards the root). Defaults to `10^(h − H)`.
        step_size: float. Step of the proximal step (τ_h = step_size · λ_h):
            the SGD learning rate of this layer's parameters. Defaults to
            `1e-3`.
        prox_iterations: int. MM iterations of the proximal step per level.
            Pairs that the exact prox would fuse contract slowly near the
            fusion threshold; the rounding that follows (the tolerance with
            the lowest prox objective) fuses them exactly after 10
            iterations in our tests. Defaults to `10`.
        prox_every: int. Apply the proximal step every this many training
            calls (the optimizer's steps are absorbed at every call).
            Defaults to `1`.
        component_l2: float. Ridge γ/2 ‖W^(h)‖² on every level below the
            root, folded into the proximal step. Not in the paper ("TAT +
            ridge"). Defaults to `0.0`.
        activation: Activation of the outputs. Defaults to `None`.
        use_bias: bool. Whether each task has a bias (fused with its kernel).
            Defaults to `True`.
        kernel_initializer: Initializer of the root component, shared by all
            tasks (lower levels start at zero, so all tasks start fused: the
            collapsed point, which training must leave for a tree to form).
            Defaults to `"glorot_uniform"`.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: one tensor `(B, D)` read by every task, or a list of
            `num_tasks` tensors `(B, D)`.
        training: bool. Applies the proximal step when `True`.

    Returns:
        tuple of `num_tasks` tensors `(B, units)`.

    Example:

    >>> layer = TreeGroupedDense(units=1, num_tasks=8, num_levels=3)
    >>> outputs = layer(np.ones((4, 5), "float32"))
    >>> len(outputs), layer.tree()[0]
    (8, [[0, 1, 2, 3, 4, 5, 6, 7]])

    Reference:
        Han, Zhang. Learning Tree Structure in Multi-Task Learning. KDD 2015.
    """

    def __init__(
        self,
        units,
        num_tasks,
        num_levels=3,
        fusion_weights=None,
        step_size=1e-3,
        prox_iterations=10,
        prox_every=1,
        component_l2=0.0,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int(units, "units")
        self.num_tasks = check_int(num_tasks, "num_tasks")
        self.num_levels = check_int(num_levels, "num_levels")
        self.fusion_weights = check_fusion_weights(fusion_weights, self.num_levels)
        self.step_size = check_float(step_size, "step_size")
        self.prox_iterations = check_int(prox_iterations, "prox_iterations", 0)
        self.prox_every = check_int(prox_every, "prox_every")
        self.component_l2 = check_float(component_l2, "component_l2")
        self.activation = keras.activations.get(activation)
        if not isinstance(use_bias, bool):
            raise TypeError(f"`use_bias` must be a bool. Received: {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def thresholds(self):
        return [self.step_size * w for w in self.fusion_weights]

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple)
        ):
            if len(input_shape) != self.num_tasks:
                raise ValueError(
                    f"TreeGroupedDense expects one input or num_tasks="
                    f"{self.num_tasks} inputs. Received {len(input_shape)}"
                )
            input_shape = input_shape[0]
        dim = input_shape[-1]
        if dim is None:
            raise ValueError("The last input dimension must be known.")
        self.input_dim = int(dim)
        rows = self.input_dim + int(self.use_bias)
        shape = (self.num_levels, self.num_tasks, rows, self.units)

        def root_init(shape, dtype=None):
            kernel = self.kernel_initializer((self.input_dim, self.units), dtype)
            if self.use_bias:
                kernel = ops.concatenate([kernel, ops.zeros((1, self.units))], 0)
            root = ops.broadcast_to(kernel, (1, self.num_tasks) + kernel.shape)
            below = ops.zeros((self.num_levels - 1,) + root.shape[1:])
            return ops.cast(ops.concatenate([below, root], axis=0), dtype)

        self.components = self.add_weight(
            name="components",
            shape=shape,
            initializer=root_init,
            trainable=False,
            autocast=False,
        )
        self.kernel_updates = self.add_weight(
            name="kernel_updates", shape=shape, initializer="zeros", autocast=False
        )
        self.updates_seen = self.add_weight(
            name="updates_seen",
            shape=shape,
            initializer="zeros",
            trainable=False,
            autocast=False,
        )
        self.prox_calls = self.add_weight(
            name="prox_calls",
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            autocast=False,
        )

    def call(self, inputs, training=None):
        if training:
            self._proximal_update()
        updates = ops.cast(self.kernel_updates, "float32")
        levels = ops.cast(self.components, "float32") + (
            updates - ops.stop_gradient(updates)
        )
        kernel = ops.cast(ops.sum(levels, axis=0), self.compute_dtype)
        if isinstance(inputs, (list, tuple)):
            x = ops.stack([ops.cast(t, self.compute_dtype) for t in inputs], 0)
            pattern = "tbd,tdu->tbu"
        else:
            x = ops.cast(inputs, self.compute_dtype)
            pattern = "bd,tdu->tbu"
        if self.use_bias:
            x = ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)
        outputs = ops.einsum(pattern, x, kernel)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return tuple(ops.unstack(outputs, num=self.num_tasks, axis=0))

    def _proximal_update(self):
        updates = ops.stop_gradient(ops.convert_to_tensor(self.kernel_updates))
        seen = ops.convert_to_tensor(self.updates_seen)
        stepped = ops.convert_to_tensor(self.components) + (updates - seen)
        shape = stepped.shape
        flat = ops.reshape(stepped, (shape[0], shape[1], -1))

        def prox():
            return proximal_step(
                flat,
                self.thresholds,
                self.prox_iterations,
                self.step_size * self.component_l2,
            )

        if self.prox_every == 1:
            flat = prox()
        else:
            due = ops.equal(ops.mod(self.prox_calls, self.prox_every), 0)
            flat = ops.cond(due, prox, lambda: flat)
        self.components.assign(ops.stop_gradient(ops.reshape(flat, shape)))
        self.updates_seen.assign(updates)
        self.prox_calls.assign(self.prox_calls + 1)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple)
        ):
            input_shape = input_shape[0]
        return (tuple(input_shape[:-1]) + (self.units,),) * self.num_tasks

    def level_components(self):
        """Numpy `(H, T, P)` of the flattened per-level task parameters, leaf first."""
        value = keras.ops.convert_to_numpy(self.components)
        return value.reshape(self.num_levels, self.num_tasks, -1)

    def task_kernels(self):
        """Numpy `(T, D, units)` of the effective kernels Σ_h W_i^(h) (no bias row)."""
        value = keras.ops.convert_to_numpy(self.components).sum(axis=0)
        return value[:, : self.input_dim, :]

    def tree(self, tol=1e-6):
        """The learned tree as nested partitions, root level first.

        Args:
            tol: float. Two tasks are in one group at a level when their
                component parameters are within `tol` (Euclidean); groups are
                connected components of that relation. Defaults to `1e-6`.

        Returns:
            list of `num_levels` partitions, coarsest (root side) first; a
            partition is a list of groups, a group a sorted list of task
            indices; each partition refines the one before it.
        """
        tol = check_float(tol, "tol")
        components = self.level_components()
        if not np.all(np.isfinite(components)):
            raise ValueError(
                f"The tree parameters of {self.name!r} are not finite: training "
                "diverged, so there is no tree to read. The tree parameters move "
                f"by SGD at step_size={self.step_size}; full-batch proximal "
                "gradient is stable only for step_size < 2 / (num_levels · L), "
                "L the largest curvature of a task's loss. Use a smaller "
                "step_size (the builders' `learning_rate`) or standardised "
                "features."
            )
        return partitions_from_components(components, tol)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_tasks": self.num_tasks,
                "num_levels": self.num_levels,
                "fusion_weights": list(self.fusion_weights),
                "step_size": self.step_size,
                "prox_iterations": self.prox_iterations,
                "prox_every": self.prox_every,
                "component_l2": self.component_l2,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
