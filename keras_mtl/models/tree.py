"""Tree-structured MTL (TAT, Han & Zhang, KDD 2015) and its tree's linkage."""

import keras
import numpy as np

from keras_mtl.arguments import check_float
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense
from keras_mtl.models.encoder_spec import FEATURE_ARGUMENTS, EncoderSpec
from keras_mtl.models.network import MultiTaskNetwork, activation_heads, prepare


@keras.saving.register_keras_serializable(package="keras_mtl")
class TreeMTL(MultiTaskNetwork):
    """Tree-structured multi-task model (Han & Zhang, KDD 2015).

    A shared MLP trunk of `num_layers` Dense + ReLU layers (`num_layers=0`:
    none, the paper's linear model) feeds one `TreeGroupedDense` head whose
    task weights are fused along a learned tree. Every example belongs to any
    subset of tasks: give `NaN` (regression) or `-1` (classification) labels
    for the tasks it does not belong to, and the masked losses skip them
    (task-indexed data, one output per task, no task-id input).

    Args:
        tasks: list of `keras_mtl.Task`, all with the same output width (all
            regression, or all with the same `num_classes`), not `sequence`.
        input_shape: tuple `(F,)`. Shape of one feature vector.
        num_levels: int. Tree levels H. Defaults to `3`.
        fusion_weights: list of H floats λ_h, leaf level first. Defaults to
            `10^(h − H)` (1 at the root).
        component_l2: float. Ridge γ on the components below the root (folded
            into the proximal step). Without it the objective's minimum puts
            every task difference on the leaf level (triangle inequality);
            γ > 0 spreads large differences over several levels, which gives
            a deeper tree. Defaults to `0.0`.
        prox_iterations: int. MM iterations of the proximal step. Defaults to
            `10`.
        prox_every: int. Proximal step every this many steps. Defaults to `1`.
        units: int. Width of the trunk layers. Defaults to `64`.
        num_layers: int. Trunk depth (0 = linear model). Defaults to `2`.
        dropout: float. Dropout after each trunk layer. Defaults to `0.0`.
        learning_rate: float. Adam learning rate, also the proximal step size.
            Defaults to `1e-3`.
        seed: int or None. Seeds Keras's global RNG before weights are made.
        name: str. Model name.

    The learned tree is read by `model.get_layer("tree_head").tree()`.

    Example:

    >>> tasks = [Task(f"school_{i}") for i in range(4)]
    >>> model = TreeMTL(tasks, input_shape=(28,), num_layers=0)
    >>> len(model.get_layer("tree_head").tree())
    3

    Reference:
        Han, Zhang. Learning Tree Structure in Multi-Task Learning. KDD 2015.
    """

    def __init__(
        self,
        tasks,
        *,
        num_levels=3,
        fusion_weights=None,
        component_l2=0.0,
        prox_iterations=10,
        prox_every=1,
        learning_rate=1e-3,
        seed=None,
        name="tree",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        widths = {t.output_units for t in tasks}
        if len(widths) > 1 or any(t.sequence for t in tasks):
            raise ValueError(
                "tree() fuses task weights, so every task needs the same output "
                "width and no sequence tasks. Received: "
                f"{[(t.name, t.output_units, t.sequence) for t in tasks]}"
            )
        check_float(learning_rate, "learning_rate")
        spec = EncoderSpec(
            "TreeMTL",
            encoder_arguments,
            accepts=FEATURE_ARGUMENTS,
            defaults={"encoder": "mlp"},
            min_layers=0,
            seed=seed,
        )
        if spec.is_sequence:
            raise ValueError(
                "tree() takes feature vectors: `input_shape` must be (F,). "
                f"Received: input_shape={spec.input_shape!r}"
            )
        inputs = spec.make_inputs()
        layers = spec.stack(inputs.features, prefix="shared_")
        head = TreeGroupedDense(
            widths.pop(),
            len(tasks),
            num_levels=num_levels,
            fusion_weights=fusion_weights,
            step_size=learning_rate,
            prox_iterations=prox_iterations,
            prox_every=prox_every,
            component_l2=component_l2,
            name="tree_head",
        )(layers[-1] if layers else inputs.features)
        super().__init__(
            inputs.tensor,
            activation_heads(tasks, head),
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


def tree(tasks, **kwargs):
    """Builds a compiled `TreeMTL` (Han & Zhang, KDD 2015).

    Args:
        tasks: list of `keras_mtl.Task` with the same output width.
        **kwargs: The arguments of `TreeMTL` (`input_shape`, `num_levels`,
            `fusion_weights`, `num_layers`, ...).

    Returns:
        A compiled `TreeMTL` whose outputs are a dict keyed by task.

    Example:

    >>> tasks = [Task(f"school_{i}") for i in range(4)]
    >>> model = tree(tasks, input_shape=(28,), num_layers=0)
    """
    return TreeMTL(tasks, **kwargs)


def linkage_from_partitions(partitions):
    """A scipy linkage matrix for nested partitions (root level first).

    Groups merged at tree level h (leaf = 1) join at height h; groups still
    apart at the root join at height H + 1.
    """
    num_tasks = sum(len(g) for g in partitions[0])
    cluster_of = {t: t for t in range(num_tasks)}
    sizes = {t: 1 for t in range(num_tasks)}
    rows, next_id = [], num_tasks
    levels = list(reversed(partitions)) + [[list(range(num_tasks))]]
    for height, partition in enumerate(levels, start=1):
        for group in partition:
            current = sorted({cluster_of[t] for t in group})
            while len(current) > 1:
                a, b = current.pop(0), current.pop(0)
                sizes[next_id] = sizes[a] + sizes[b]
                rows.append([a, b, float(height), sizes[next_id]])
                for t in group:
                    if cluster_of[t] in (a, b):
                        cluster_of[t] = next_id
                current.append(next_id)
                next_id += 1
    return np.asarray(rows, dtype="float64")
