"""Sluice networks and their cross-stitch special case."""

import numpy as np

from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.sluice_unit import SluiceUnit
from keras_mtl.models.architecture import architecture
from keras_mtl.models.baselines import _COMMON_ARGS
from keras_mtl.models.components import (
    compile_model,
    encoder_inputs,
    encoder_layer,
    maybe_dropout,
    prepare,
    task_head,
)

ORTHOGONALITY = ("weights", "activations")


@architecture("sluice")
def sluice(
    tasks,
    *,
    num_subspaces=2,
    alpha_init="imbalanced",
    beta_init="last",
    orthogonality_weight=0.1,
    orthogonality="weights",
    alpha_trainable=True,
    beta_trainable=True,
    input_shape=None,
    vocab_size=None,
    embedding_dim=64,
    units=64,
    num_layers=2,
    dropout=0.0,
    encoder=None,
    learning_rate=1e-3,
    seed=None,
    name="sluice",
):
    """A sluice network (Ruder et al., AAAI 2019).

    Every task has its own encoder stack. After each layer k a `SluiceUnit`
    mixes the tasks' subspaces with a learned α^(k); the mixed states feed
    layer k + 1. Each task's head reads a `LayerMixture` (β) of its mixed
    layer outputs. The subspace orthogonality penalty is added to the loss.

    Args:
        tasks: list of `keras_mtl.Task`.
        num_subspaces: int. Subspaces per layer S; must divide `units`.
            Defaults to `2`.
        alpha_init: `"imbalanced"`, `"balanced"`, `"identity"` or an array
            `(M*S, M*S)`, for every α unit. Defaults to `"imbalanced"`.
        beta_init: `"last"`, `"balanced"`, an array `(num_layers,)`, or a dict
            task name → one of those. Defaults to `"last"`.
        orthogonality_weight: float. λ_c of the orthogonality penalty.
            Defaults to `0.1`.
        orthogonality: `"weights"` (‖G_1ᵀG_2‖², on each task layer's kernels)
            or `"activations"` (on the subspace activations, Bousmalis et al.).
            Defaults to `"weights"`.
        alpha_trainable: bool. `False` freezes every α. Defaults to `True`.
        beta_trainable: bool. `False` freezes every β. Defaults to `True`.{common}

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task.

    Example:

    >>> model = sluice([Task("pos", 45, sequence=True),
    ...                 Task("chunk", 23, sequence=True)],
    ...                vocab_size=5000, units=64, num_layers=3)

    Reference:
        Ruder, Bingel, Augenstein, Søgaard. Latent Multi-task Architecture
        Learning. AAAI 2019.
    """
    tasks = prepare(tasks, seed)
    num_subspaces = check_int(num_subspaces, "num_subspaces")
    num_layers = check_int(num_layers, "num_layers")
    weight = check_float(orthogonality_weight, "orthogonality_weight")
    check_choice(orthogonality, "orthogonality", ORTHOGONALITY)
    beta_inits = _beta_inits(beta_init, tasks)
    inputs, encoder = encoder_inputs(
        input_shape,
        vocab_size,
        embedding_dim,
        encoder,
        units,
        num_layers,
        dropout,
        num_subspaces,
    )
    weight_penalty = weight if orthogonality == "weights" else 0.0
    states = [inputs.features] * len(tasks)
    mixed = []
    for k in range(1, num_layers + 1):
        hidden = []
        for task, x in zip(tasks, states):
            layer = encoder_layer(
                encoder, units, f"{task.name}_layer_{k}", num_subspaces, weight_penalty
            )
            hidden.append(
                maybe_dropout(layer(x), dropout, f"{task.name}_dropout_{k}", seed)
            )
        states = SluiceUnit(
            len(tasks),
            num_subspaces,
            alpha_init,
            activation_orthogonality=weight if orthogonality == "activations" else 0,
            trainable=alpha_trainable,
            name=f"sluice_unit_{k}",
        )(hidden)
        mixed.append(states)
    outputs = {}
    for m, task in enumerate(tasks):
        mixture = LayerMixture(
            num_layers,
            beta_inits[task.name],
            trainable=beta_trainable,
            name=f"{task.name}_beta",
        )
        top = mixture([layer_states[m] for layer_states in mixed])
        outputs[task.name] = task_head(task, top, inputs.is_sequence)
    return compile_model(inputs, outputs, tasks, name, learning_rate)


def _beta_inits(beta_init, tasks):
    names = [t.name for t in tasks]
    if not isinstance(beta_init, dict):
        return {name: beta_init for name in names}
    unknown = sorted(set(beta_init) - set(names))
    if unknown:
        raise ValueError(
            f"`beta_init` names unknown task(s) {unknown}. Expected keys among {names}."
        )
    return {name: beta_init.get(name, "last") for name in names}


@architecture("cross_stitch")
def cross_stitch(
    tasks, *, alpha_init="imbalanced", alpha_trainable=True, num_layers=2, **kwargs
):
    """A cross-stitch network (Misra et al., CVPR 2016) as a sluice special case.

    `sluice` with one subspace per task (S = 1, so α is `(M, M)`), trainable
    α units after every layer, each head reading the last layer only (β
    one-hot on the last layer, frozen) and no orthogonality penalty.

    Args:
        tasks: list of `keras_mtl.Task`.
        alpha_init: `"imbalanced"`, `"balanced"`, `"identity"` or an array
            `(M, M)`. Defaults to `"imbalanced"`.
        alpha_trainable: bool. Defaults to `True`.
        num_layers: int. Encoder depth. Defaults to `2`.
        **kwargs: The common builder arguments of `sluice` (`input_shape` or
            `vocab_size`, `embedding_dim`, `units`, `dropout`, `encoder`,
            `learning_rate`, `seed`, `name`).

    Returns:
        A compiled `MultiTaskModel` whose outputs are a dict keyed by task.

    Example:

    >>> model = cross_stitch([Task("a", 3), Task("b", 2)], input_shape=(8,))
    """
    num_layers = check_int(num_layers, "num_layers")
    for fixed in (
        "num_subspaces",
        "beta_init",
        "beta_trainable",
        "orthogonality_weight",
        "orthogonality",
    ):
        if fixed in kwargs:
            raise TypeError(
                f"cross_stitch() fixes `{fixed}`; use sluice() to change it."
            )
    kwargs.setdefault("name", "cross_stitch")
    return sluice(
        tasks,
        num_subspaces=1,
        alpha_init=alpha_init,
        alpha_trainable=alpha_trainable,
        beta_init=np.eye(num_layers, dtype="float32")[-1],
        beta_trainable=False,
        orthogonality_weight=0.0,
        num_layers=num_layers,
        **kwargs,
    )


sluice.__doc__ = sluice.__doc__.format(common=_COMMON_ARGS)
