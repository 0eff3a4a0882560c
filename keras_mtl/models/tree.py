"""Tree-structured MTL (TAT, Han & Zhang, KDD 2015) and its tree's linkage."""

import keras
import numpy as np

from keras_mtl import tree_solver
from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense
from keras_mtl.layers.tree_optimizer import TreeProximalAdam
from keras_mtl.modeling.backbone import backbone_features, feature_spec
from keras_mtl.modeling.network import MultiTaskNetwork, activation_heads, prepare

OBJECTIVES = ("paper", "ridge")


def check_tree_tasks(tasks):
    """Refuses CRF and sequence tasks (no per-task weight vector to fuse)."""
    for task in tasks:
        if task.crf:
            raise ValueError(
                f"Task {task.name!r} has crf=True, but tree() has no CRF head; "
                "the builders on token sequences do."
            )
    sequence = [t.name for t in tasks if t.sequence]
    if sequence:
        raise ValueError(
            "tree() fuses per-task weights of feature-vector tasks: `tasks` must "
            f"not have sequence=True. Received sequence tasks: {sequence}"
        )


def check_objective(objective, component_l2):
    """`"paper"` has no ridge; `"ridge"` (TAT + ridge, not in the paper) needs one.

    Returns `(objective, component_l2)`; `objective=None` is read off the ridge.
    """
    component_l2 = check_float(component_l2, "component_l2")
    if objective is None:
        objective = "ridge" if component_l2 > 0 else "paper"
    check_choice(objective, "objective", OBJECTIVES)
    if objective == "paper" and component_l2 > 0:
        raise ValueError(
            "`component_l2` is a ridge the paper does not have: pass "
            "objective='ridge' to use it (results are then 'TAT + ridge'). "
            f"Received: objective='paper', component_l2={component_l2}"
        )
    if objective == "ridge" and component_l2 <= 0:
        raise ValueError(
            "objective='ridge' needs `component_l2` > 0. "
            f"Received: component_l2={component_l2}"
        )
    return objective, component_l2


@keras.saving.register_keras_serializable(package="keras_mtl")
class TreeMTL(MultiTaskNetwork):
    """Tree-structured multi-task model (Han & Zhang, KDD 2015).

    A shared trunk feeds one `TreeGroupedDense` head whose
    task weights are fused along a learned tree. When the tasks have
    different output widths (e.g. a regression, a 3-class and a binary
    task), or `tree_units` is given, the tree is learned over a task-specific
    hidden layer of equal width (`TreeGroupedDense(tree_units)`, ReLU) and
    each task gets an ordinary Dense output layer on top. Every example
    belongs to any subset of tasks: give `NaN` (regression) or `-1`
    (classification) labels for the tasks it does not belong to.

    Training: `model.fit` takes optimizer steps and a proximal step with
    threshold `learning_rate · λ_h`; the default optimizer
    (`TreeProximalAdam`) steps the tree parameters by plain SGD at
    `learning_rate`, so this is proximal stochastic gradient on them (with
    another optimizer the threshold no longer matches the step). For the
    linear model of regression tasks `model.solve(x, y)` runs the paper's
    solver instead: GIST with the constrained prox (`keras_mtl.tree_solver`).
    The global optimum of the objective fuses every level above the leaf
    (moving a difference to the leaf keeps the loss and lowers the penalty),
    so a tree can only come from the solver's path and start point; by
    default `solve` uses data-relative weights that are not in the paper
    (`recipe="adaptive"`), under which planted trees are recovered; see
    `solve`.

    Args:
        tasks: list of `keras_mtl.Task`, not `sequence`.
        backbone: `keras.Model` or None. Shared feature extractor (e.g. a
            token encoder ending in pooling); outputs of rank > 2 are
            flattened. Defaults to an MLP of `num_layers` Dense + ReLU layers
            on `input_shape` features (`num_layers=0`: none, the paper's
            linear model).
        freeze_backbone: bool. Sets `backbone.trainable = False`. Defaults
            to `False`.
        input_shape: tuple `(F,)`. Shape of one feature vector (read from
            `backbone` when one is given).
        num_levels: int or None. Tree levels H, at most the number of tasks.
            Defaults to `None`: 3, or the number of tasks if fewer.
        fusion_weights: list of H floats λ_h, leaf level first, increasing.
            Defaults to `10^(h − H)` (1 at the root).
        objective: `"paper"` (the paper's objective) or `"ridge"` (adds
            `component_l2`, a ridge on the components below the root that
            is not in the paper: "TAT + ridge"). Defaults to `None`: `"ridge"`
            when `component_l2` > 0, else `"paper"`.
        component_l2: float. Ridge γ of `objective="ridge"`. Defaults to `0.0`.
        tree_units: int or None. Width of the tree layer under per-task
            output layers; `None`: the tree is the output layer when all tasks
            have one width, else `units`. Defaults to `None`.
        prox_iterations: int. MM iterations of the proximal step. Defaults to
            `10`.
        prox_every: int. Proximal step every this many steps. Defaults to `1`.
        units: int. Width of the trunk layers. Defaults to `64`.
        num_layers: int. Trunk depth (0 = linear model). Defaults to `2`.
        dropout: float. Dropout after each trunk layer. Defaults to `0.0`.
        learning_rate: float. Adam learning rate of the other weights, SGD
            step of the tree parameters and proximal step size. Defaults to
            `1e-3`.
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
        backbone=None,
        freeze_backbone=False,
        num_levels=None,
        fusion_weights=None,
        objective=None,
        component_l2=0.0,
        tree_units=None,
        prox_iterations=10,
        prox_every=1,
        learning_rate=1e-3,
        seed=None,
        name="tree",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        check_tree_tasks(tasks)
        objective, component_l2 = check_objective(objective, component_l2)
        if num_levels is None:
            num_levels = min(3, len(tasks))
        if check_int(num_levels, "num_levels") > len(tasks):
            raise ValueError(
                f"`num_levels` must be at most the number of tasks ({len(tasks)}): "
                f"a tree of T tasks has at most T distinct levels. Received: "
                f"num_levels={num_levels}"
            )
        check_float(learning_rate, "learning_rate")
        spec = feature_spec("TreeMTL", backbone, encoder_arguments, seed)
        widths = {t.output_units for t in tasks}
        hidden = tree_units is not None or len(widths) > 1
        if tree_units is not None:
            check_int(tree_units, "tree_units")
        inputs = spec.make_inputs()
        features = backbone_features(backbone, freeze_backbone, spec, inputs)
        head = TreeGroupedDense(
            (tree_units or spec.units) if hidden else widths.pop(),
            len(tasks),
            num_levels=num_levels,
            fusion_weights=fusion_weights,
            step_size=learning_rate,
            prox_iterations=prox_iterations,
            prox_every=prox_every,
            component_l2=component_l2,
            activation="relu" if hidden else None,
            name="tree_head",
        )(features)
        if hidden:
            head = [
                keras.layers.Dense(task.output_units, name=f"{task.name}_logits")(h)
                for task, h in zip(tasks, head)
            ]
        super().__init__(
            inputs.tensor,
            activation_heads(tasks, head),
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )

    def compile(self, optimizer="auto", **kwargs):
        """As `MultiTaskModel.compile`; `"auto"` is `TreeProximalAdam`: Adam
        for the trunk and heads, SGD at `learning_rate` (the proximal step
        size) for the tree parameters, so the proximal step is matched."""
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = TreeProximalAdam(
                self.learning_rate, tree_learning_rate=self.learning_rate
            )
        super().compile(optimizer=optimizer, **kwargs)

    def solve(
        self,
        x,
        y,
        *,
        recipe=None,
        init="split",
        max_iterations=500,
        tol=1e-7,
        pair_weights=None,
        centered_ridge=False,
        prox_tol=1e-10,
        callback=None,
    ):
        """Fits the linear model of regression tasks by GIST (the paper's solver).

        Minimises `Σ_i (1/n_i) Σ_j (y_ij − x_ijᵀ w_i)² + penalty` under the
        per-coordinate sequential constraint by GIST (Barzilai–Borwein step,
        non-monotone line search) with the ADMM prox of
        `keras_mtl.tree_solver`, and writes the result into the `tree_head`
        layer.

        Args:
            x: array `(N, F)`.
            y: dict task name → array `(N,)`, `NaN` where the example does not
                belong to the task.
            recipe: `"adaptive"`, `"model"` or `None`. `"adaptive"` ("TAT + centered
                ridge + adaptive weights", not in the paper) replaces the model's
                `fusion_weights` and `component_l2` by `tree_solver.adaptive_objective`
                of the data: a centered ridge, λ_h set from the distances between the
                tasks' ridge solutions and per-pair adaptive weights (at the middle
                level from the cophenetic distances of their average-linkage tree); it
                recovers planted trees that the paper's objective collapses (standardise
                `x` and `y` first). `"model"`: the model's own objective (the paper's
                with `objective="paper"`). Defaults to `None`: `"model"` when the model
                was built with `fusion_weights`, `objective` or `component_l2`, else
                `"adaptive"`.
            init: `"split"` (single-task ridge solutions, an equal share per
                level), `"root"` (the pooled ridge solution at the root, the
                collapsed point) or an array `(H, T, F + 1)`. Defaults to
                `"split"`.
            max_iterations: int. GIST iterations. Defaults to `500`.
            tol: float. Relative step at which GIST stops. Defaults to `1e-7`.
            pair_weights: `None` (the paper: one λ_h for every pair) or
                `"adaptive"` (not in the paper: pair (i, j) gets
                `λ_h · median_d / d_ij`, d_ij the distance between the tasks'
                ridge solutions, an adaptive fused lasso). Only with
                `recipe="model"`. Defaults to `None`.
            centered_ridge: bool. Not in the paper: with
                `objective="ridge"`, the ridge penalises each level's
                deviations from its mean over tasks instead of the level
                itself, so it no longer shrinks what the tasks share. Only
                with `recipe="model"`. Defaults to `False`.
            prox_tol: float. ADMM tolerance of each prox
                (`tree_solver.tree_prox`). Defaults to `1e-10`.
            callback: callable or None. `callback(iteration, components,
                value)` after every GIST iteration; a true return value
                stops (e.g. a time budget). Defaults to `None`.

        Returns:
            dict with `components`, `objective` (history), `iterations`,
            `kkt_residual` (norm of the proximal-gradient mapping) and
            `recipe`.
        """
        head = self.get_layer("tree_head")
        recipe = self._solve_recipe(recipe, pair_weights, centered_ridge)
        if pair_weights is not None:
            check_choice(pair_weights, "pair_weights", ("adaptive",))
        if centered_ridge and not head.component_l2 > 0:
            raise ValueError(
                "`centered_ridge=True` centres the ridge of objective='ridge': "
                f"it needs component_l2 > 0. Received: {head.component_l2}"
            )
        loss = self._linear_loss(head, x, y)
        if recipe == "adaptive":
            objective = tree_solver.adaptive_objective(loss, head.num_levels)
        else:
            objective = self._model_objective(head, loss, pair_weights, centered_ridge)
        start = tree_solver.initial_components(objective.loss, head.num_levels, init)
        result = tree_solver.gist(
            objective,
            start,
            max_iterations=max_iterations,
            tol=tol,
            prox_tol=prox_tol,
            callback=callback,
        )
        c = result["components"]
        result["kkt_residual"] = tree_solver.kkt_residual(objective, c)
        result["recipe"] = recipe
        head.components.assign(c.reshape(head.components.shape).astype("float32"))
        return result

    def _solve_recipe(self, recipe, pair_weights, centered_ridge):
        """`solve`'s recipe; `None` is `"model"` when the model's objective was
        set explicitly (or `pair_weights` / `centered_ridge` given)."""
        if recipe is None:
            arguments = self._arguments
            explicit = (
                arguments.get("fusion_weights") is not None
                or arguments.get("objective") is not None
                or arguments.get("component_l2", 0.0) != 0.0
                or pair_weights is not None
                or centered_ridge
            )
            return "model" if explicit else "adaptive"
        check_choice(recipe, "recipe", ("adaptive", "model"))
        if recipe == "adaptive" and (pair_weights is not None or centered_ridge):
            raise ValueError(
                "`pair_weights` and `centered_ridge` change the model's own "
                "objective: pass recipe='model' with them. Received: "
                f"recipe='adaptive', pair_weights={pair_weights!r}, "
                f"centered_ridge={centered_ridge}"
            )
        return recipe

    def _linear_loss(self, head, x, y):
        if len(self.layers) != 2 + len(self.tasks) or not head.use_bias:
            raise ValueError(
                "solve() fits the paper's linear model: build the model with "
                "num_layers=0 and tasks of one output width (no `tree_units`)."
            )
        if any(t.is_classification for t in self.tasks):
            raise ValueError(
                "solve() uses the squared loss: every task must be a regression "
                f"task. Received: {[t.name for t in self.tasks]}"
            )
        x = np.asarray(x, "float64")
        xs, ys = [], []
        for task in self.tasks:
            labels = np.asarray(y[task.name], "float64").reshape(len(x))
            rows = np.isfinite(labels)
            xs.append(np.c_[x[rows], np.ones(rows.sum())])
            ys.append(labels[rows])
        return tree_solver.LinearTasks(xs, ys)

    def _model_objective(self, head, loss, pair_weights, centered):
        weights = np.asarray(head.fusion_weights)
        if np.any(np.diff(weights) <= 0):
            raise ValueError(
                "GIST on the tree objective needs `fusion_weights` increasing "
                "from the leaf to the root (λ_1 < ... < λ_H). Received: "
                f"fusion_weights={head.fusion_weights}"
            )
        if pair_weights == "adaptive":
            weights = weights[:, None] * tree_solver.adaptive_pair_weights(loss)
        return tree_solver.TreeObjective(
            loss, weights, head.component_l2, centered=centered
        )


def tree(tasks, **kwargs):
    """Builds a compiled `TreeMTL` (Han & Zhang, KDD 2015).

    Args:
        tasks: list of `keras_mtl.Task` (any kinds and widths, not sequence).
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
