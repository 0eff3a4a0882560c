"""Sluice networks (Ruder et al., AAAI 2019)."""

import importlib

import keras

from keras_mtl.arguments import check_choice, check_float, check_int
from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.sluice_unit import SluiceUnit
from keras_mtl.modeling.encoder_spec import COMMON_ARGS_DOC, EncoderSpec
from keras_mtl.modeling.network import MultiTaskNetwork, prepare, task_head

ORTHOGONALITY = ("weights", "activations")


@keras.saving.register_keras_serializable(package="keras_mtl")
class SluiceNetwork(MultiTaskNetwork):
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

    Example:

    >>> model = SluiceNetwork([Task("pos", 45, sequence=True),
    ...                        Task("chunk", 23, sequence=True)],
    ...                       vocab_size=500, units=16, num_layers=3)
    >>> model.get_config()["num_subspaces"]
    2

    Reference:
        Ruder, Bingel, Augenstein, Søgaard. Latent Multi-task Architecture
        Learning. AAAI 2019.
    """

    def __init__(
        self,
        tasks,
        *,
        num_subspaces=2,
        alpha_init="imbalanced",
        beta_init="last",
        orthogonality_weight=0.1,
        orthogonality="weights",
        alpha_trainable=True,
        beta_trainable=True,
        learning_rate=1e-3,
        seed=None,
        name="sluice",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        spec = EncoderSpec(
            type(self).__name__,
            encoder_arguments,
            num_subspaces=check_int(num_subspaces, "num_subspaces"),
            seed=seed,
        )
        weight = check_float(orthogonality_weight, "orthogonality_weight")
        check_choice(orthogonality, "orthogonality", ORTHOGONALITY)
        beta_inits = _beta_inits(beta_init, tasks)
        inputs = spec.make_inputs()
        weight_penalty = weight if orthogonality == "weights" else 0.0
        states = [inputs.features] * len(tasks)
        mixed = []
        for k in range(1, spec.num_layers + 1):
            hidden = [
                spec.apply_dropout(
                    spec.layer(f"{task.name}_layer_{k}", weight_penalty)(x),
                    f"{task.name}_dropout_{k}",
                )
                for task, x in zip(tasks, states)
            ]
            states = SluiceUnit(
                len(tasks),
                num_subspaces,
                alpha_init,
                activation_orthogonality=weight
                if orthogonality == "activations"
                else 0,
                trainable=alpha_trainable,
                name=f"sluice_unit_{k}",
            )(hidden)
            mixed.append(states)
        outputs = {}
        for m, task in enumerate(tasks):
            mixture = LayerMixture(
                spec.num_layers,
                beta_inits[task.name],
                trainable=beta_trainable,
                name=f"{task.name}_beta",
            )
            top = mixture([layer_states[m] for layer_states in mixed])
            outputs[task.name] = task_head(task, top, spec.is_sequence)
        super().__init__(
            inputs.tensor,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


SluiceNetwork.__doc__ = SluiceNetwork.__doc__.format(common=COMMON_ARGS_DOC)


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


def sluice(tasks, **kwargs):
    """Builds a compiled `SluiceNetwork` (Ruder et al., AAAI 2019).

    Args:
        tasks: list of `keras_mtl.Task`.
        **kwargs: The arguments of `SluiceNetwork` (`num_subspaces`,
            `alpha_init`, `beta_init`, `orthogonality_weight`, ..., and the
            common `input_shape` or `vocab_size`, `units`, `num_layers`, ...).

    Returns:
        A compiled `SluiceNetwork` whose outputs are a dict keyed by task.

    Example:

    >>> model = sluice([Task("pos", 45, sequence=True),
    ...                 Task("chunk", 23, sequence=True)],
    ...                vocab_size=500, units=16, num_layers=3)
    """
    return SluiceNetwork(tasks, **kwargs)


def __getattr__(name):
    # `from keras_mtl.models.sluice import cross_stitch` keeps working.
    if name in ("cross_stitch", "CrossStitchNetwork"):
        module = importlib.import_module("keras_mtl.models.cross_stitch")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
