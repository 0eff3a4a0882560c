"""Tree-structured MTL (TAT): the `tree` builder and a dendrogram of its tree."""

import keras
import numpy as np

from keras_mtl.arguments import check_float, check_int
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense
from keras_mtl.models.architecture import architecture
from keras_mtl.models.components import (
    ModelInputs,
    check_stack_arguments,
    compile_model,
    encoder_stack,
    prepare,
)


@architecture("tree")
def tree(
    tasks,
    *,
    input_shape=None,
    num_levels=3,
    fusion_weights=None,
    component_l2=0.0,
    prox_iterations=10,
    prox_every=1,
    units=64,
    num_layers=2,
    dropout=0.0,
    learning_rate=1e-3,
    seed=None,
    name="tree",
):
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

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task;
        `model.get_layer("tree_head").tree()` reads the learned tree.

    Example:

    >>> tasks = [Task(f"school_{i}") for i in range(139)]
    >>> model = tree(tasks, input_shape=(28,), num_layers=0)
    >>> model.fit(x, y, batch_size=len(x), epochs=100)

    Reference:
        Han, Zhang. Learning Tree Structure in Multi-Task Learning. KDD 2015.
    """
    tasks = prepare(tasks, seed)
    widths = {t.output_units for t in tasks}
    if len(widths) > 1 or any(t.sequence for t in tasks):
        raise ValueError(
            "tree() fuses task weights, so every task needs the same output "
            "width and no sequence tasks. Received: "
            f"{[(t.name, t.output_units, t.sequence) for t in tasks]}"
        )
    num_layers = check_int(num_layers, "num_layers", minimum=0)
    check_float(learning_rate, "learning_rate")
    inputs = ModelInputs(input_shape=input_shape)
    if inputs.is_sequence:
        raise ValueError(
            "tree() takes feature vectors: `input_shape` must be (F,). "
            f"Received: input_shape={input_shape!r}"
        )
    features = inputs.features
    if num_layers:
        check_stack_arguments(units, num_layers, dropout, "mlp")
        features = encoder_stack(
            features, "mlp", units, num_layers, dropout, "shared_", seed
        )[-1]
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
    )(features)
    outputs = {
        t.name: keras.layers.Activation(
            t.output_activation() or "linear", dtype="float32", name=t.name
        )(h)
        for t, h in zip(tasks, head)
    }
    return compile_model(inputs, outputs, tasks, name, learning_rate)


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
