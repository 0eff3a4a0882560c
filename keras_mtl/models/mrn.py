"""Multilinear Relationship Networks (Long et al., NIPS 2017) and their readout."""

import keras

from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.layers.multilinear_prior import COVARIANCES, MultilinearPriorLayer
from keras_mtl.modeling.backbone import backbone_features, feature_spec
from keras_mtl.modeling.network import (
    MultiTaskNetwork,
    activation_heads,
    prepare,
    task_head,
)


@keras.saving.register_keras_serializable(package="keras_mtl")
class MRN(MultiTaskNetwork):
    """A multilinear relationship network (Long et al., NIPS 2017).

    A shared backbone (any Keras model, or an MLP of `num_layers` shared
    Dense + ReLU layers on feature vectors) feeds task-specific layers whose
    stacked weights carry a tensor-normal prior (`MultilinearPriorLayer`):
    the last hidden layer (`units` wide, ReLU, named `"mrn_hidden"`) and the
    output layer (`"mrn_output"`). With `covariances="task"` (the released
    code's layout) only the output layer is task-specific and carries the
    prior, on the shared features.

    Reading the relations: `task_correlation(model)` is the correlation of
    the learned Σ3; `task_deviation_correlation(model)` correlates the
    tasks' output matrices after removing their mean, which shows related
    tasks also while the part all tasks share dominates Σ3 (with the
    default `shared_init=True` it does early in training).

    The prior ties tasks through learned feature, class and task
    covariances refreshed every `update_every` training steps inside `fit`.
    The output layer carries the prior when all tasks have the same output
    width and kind (e.g. the same classes, as in the paper); otherwise each
    task gets a plain output layer and only the hidden layer carries the
    prior.

    Args:
        tasks: list of `keras_mtl.Task` (not sequence tasks).
        backbone: `keras.Model` or None. Shared feature extractor, e.g. a
            `keras.applications` model with `include_top=False,
            pooling="avg"`; outputs of rank > 2 are flattened. Defaults to
            an MLP of `num_layers` layers on `input_shape` features.
        freeze_backbone: bool. Sets `backbone.trainable = False` (the
            released code freezes the CNN for the small splits). Defaults to
            `False`.
        prior_weight: float. λ of the prior term of each prior layer
            (`2 × trade_off` of the released code). Defaults to `1e-4`
            (see `MultilinearPriorLayer`).
        update_every: int. Training steps between covariance refreshes.
            Defaults to `100`.
        covariances: `"all"` (the paper) or `"task"` (the released code's
            task-only scheme). Defaults to `"all"`.
        epsilon: float. ε of the covariance updates. Defaults to `1e-3`.
        shared_init: bool. Every task's slice of a prior layer starts from
            one shared draw (the paper fine-tunes every task from the same
            pretrained layers), so the tasks' units correspond and the task
            covariance compares like with like. `False` starts each task
            from its own draw. Defaults to `True`.
        task_scale: `"mle"` (Σ3 keeps its maximum-likelihood scale, as in
            the paper, so the prior adapts to the size of the weights) or
            `"trace"` (Σ3 rescaled to trace = T). See
            `MultilinearPriorLayer`. Defaults to `"mle"`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds the weights and every dropout layer.
        name: str. Model name. Defaults to `"mrn"`.
        input_shape: tuple. Shape of one example, e.g. `(F,)`. Optional
            with a `backbone` (its input shape is used).
        units: int. Width of the shared MLP layers and of the task-specific
            hidden layer. Defaults to `64`.
        num_layers: int >= 0. Depth of the shared MLP (without a backbone);
            0 feeds the features straight to the task-specific layers.
            Defaults to `2`.
        dropout: float. Dropout after each shared and task hidden layer.
            Defaults to `0.0`.

    Example:

    >>> tasks = [Task(d, num_classes=10) for d in ("amazon", "dslr", "webcam")]
    >>> model = MRN(tasks, input_shape=(800,), num_layers=1, update_every=50)
    >>> model.get_layer("mrn_hidden").num_tasks
    3

    Reference:
        Long, Cao, Wang, Yu. Learning Multiple Tasks with Multilinear
        Relationship Networks. NIPS 2017.
    """

    def __init__(
        self,
        tasks,
        *,
        backbone=None,
        freeze_backbone=False,
        prior_weight=1e-4,
        update_every=100,
        covariances="all",
        epsilon=1e-3,
        shared_init=True,
        task_scale="mle",
        learning_rate=1e-3,
        seed=None,
        name="mrn",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        for task in tasks:
            if task.sequence:
                raise ValueError(
                    f"mrn() predicts one output per example; task {task.name!r} "
                    "has sequence=True."
                )
        prior = {
            "prior_weight": check_float(prior_weight, "prior_weight"),
            "update_every": check_int(update_every, "update_every"),
            "covariances": check_choice(covariances, "covariances", COVARIANCES),
            "epsilon": check_float(epsilon, "epsilon"),
            "shared_init": shared_init,
            "task_scale": task_scale,
        }
        spec = feature_spec("MRN", backbone, encoder_arguments, seed)
        inputs = spec.make_inputs()
        features = backbone_features(backbone, freeze_backbone, spec, inputs)
        if covariances == "task":
            outputs = _task_mode_outputs(tasks, features, prior)
        else:
            hidden = MultilinearPriorLayer(
                spec.units, len(tasks), activation="relu", name="mrn_hidden", **prior
            )(features)
            hidden = [
                spec.apply_dropout(h, f"{t.name}_dropout")
                for t, h in zip(tasks, hidden)
            ]
            outputs = _outputs(tasks, hidden, prior)
        super().__init__(
            inputs.tensor,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


def mrn(tasks, **kwargs):
    """Builds a compiled `MRN` (Long et al., NIPS 2017).

    Args:
        tasks: list of `keras_mtl.Task` (not sequence tasks).
        **kwargs: The arguments of `MRN` (`backbone`, `prior_weight`,
            `update_every`, `covariances`, `input_shape`, `units`, ...).

    Returns:
        A compiled `MRN` whose outputs are a dict keyed by task.

    Example:

    >>> tasks = [Task(d, num_classes=10) for d in ("amazon", "dslr", "webcam")]
    >>> model = mrn(tasks, input_shape=(800,), num_layers=1, update_every=50)
    >>> task_correlation(model).shape
    (3, 3)
    """
    return MRN(tasks, **kwargs)


def _task_mode_outputs(tasks, features, prior):
    """The released code's layout: one prior output layer on shared features."""
    if not _same_outputs(tasks):
        raise ValueError(
            'covariances="task" puts the prior on one output layer shared by '
            "all tasks' slices, so every task needs the same output width and "
            "kind. Received: "
            f"{[(t.name, t.output_units, t.is_classification) for t in tasks]}"
        )
    return _prior_outputs(tasks, features, prior)


def _outputs(tasks, hidden, prior):
    if not _same_outputs(tasks):
        return {t.name: task_head(t, h, False) for t, h in zip(tasks, hidden)}
    return _prior_outputs(tasks, hidden, prior)


def _same_outputs(tasks):
    return len({(t.output_units, t.is_classification) for t in tasks}) == 1


def _prior_outputs(tasks, inputs, prior):
    """The `"mrn_output"` prior layer on `inputs` and each task's activation."""
    logits = MultilinearPriorLayer(
        tasks[0].output_units, len(tasks), name="mrn_output", **prior
    )(inputs)
    return activation_heads(tasks, logits)


def prior_layers(model):
    """The `MultilinearPriorLayer`s of a model, input side first."""
    return [layer for layer in model.layers if isinstance(layer, MultilinearPriorLayer)]


def _last_prior_layer(model):
    layers = prior_layers(model)
    if not layers:
        raise ValueError(f"Model {model.name!r} has no MultilinearPriorLayer.")
    return layers[-1]


def task_correlation(model):
    """The learned task correlation of the model's last prior layer, numpy `(T, T)`."""
    return _last_prior_layer(model).task_correlation()


def task_deviation_correlation(model):
    """The correlation of the last prior layer's task deviations, numpy `(T, T)`.

    Entry `(s, t)` correlates `vec(W_s − W̄)` and `vec(W_t − W̄)`, where `W_t`
    is task t's slice of the layer's weights and `W̄` their mean (see
    `MultilinearPriorLayer.task_deviation_correlation`).
    """
    return _last_prior_layer(model).task_deviation_correlation()
