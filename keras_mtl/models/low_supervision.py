"""Low supervision (Søgaard & Goldberg, 2016): tasks read different layers."""

import keras

from keras_mtl.modeling.encoder_spec import COMMON_ARGS_DOC, EncoderSpec
from keras_mtl.modeling.network import MultiTaskNetwork, prepare, task_head


@keras.saving.register_keras_serializable(package="keras_mtl")
class LowSupervisionNetwork(MultiTaskNetwork):
    """Low supervision (Søgaard & Goldberg, 2016): tasks read different layers.

    A shared encoder stack as in `HardSharingNetwork`, but the head of each
    task in `supervise_at` reads the output of the given (1-based) layer, so
    an auxiliary task can be supervised at a lower layer than the main task.
    Tasks not named read the last layer.

    Args:
        tasks: list of `keras_mtl.Task`.
        supervise_at: dict mapping task name to a layer index in
            `1..num_layers`. Defaults to every task on the last layer.{common}

    Example:

    >>> model = LowSupervisionNetwork(
    ...     [Task("pos", 45, sequence=True), Task("chunk", 23, sequence=True)],
    ...     supervise_at={{"pos": 1}}, vocab_size=500, units=16)
    >>> model.get_config()["supervise_at"]
    {{'pos': 1}}
    """

    def __init__(
        self,
        tasks,
        supervise_at=None,
        *,
        learning_rate=1e-3,
        seed=None,
        name="low_supervision",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        spec = EncoderSpec(type(self).__name__, encoder_arguments, seed=seed)
        supervise_at = _check_supervise_at(supervise_at, tasks, spec.num_layers)
        inputs = spec.make_inputs()
        layers = spec.stack(inputs.features, prefix="shared_")
        outputs = {
            t.name: task_head(
                t,
                layers[supervise_at.get(t.name, spec.num_layers) - 1],
                spec.is_sequence,
            )
            for t in tasks
        }
        super().__init__(
            inputs.tensor,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


LowSupervisionNetwork.__doc__ = LowSupervisionNetwork.__doc__.format(
    common=COMMON_ARGS_DOC
)


def _check_supervise_at(supervise_at, tasks, num_layers):
    if supervise_at is None:
        return {}
    if not isinstance(supervise_at, dict):
        raise TypeError(
            "`supervise_at` must be a dict mapping task name to a layer index. "
            f"Received: supervise_at={supervise_at!r}"
        )
    names = [t.name for t in tasks]
    for task_name, layer in supervise_at.items():
        if task_name not in names:
            raise ValueError(
                f"`supervise_at` names unknown task {task_name!r}. Expected one "
                f"of {names}."
            )
        if (
            isinstance(layer, bool)
            or not isinstance(layer, int)
            or not (1 <= layer <= num_layers)
        ):
            raise ValueError(
                f"`supervise_at[{task_name!r}]` must be a layer index in "
                f"1..{num_layers} (num_layers). Received: {layer!r}"
            )
    return supervise_at


def low_supervision(tasks, supervise_at=None, **kwargs):
    """Builds a compiled `LowSupervisionNetwork`: tasks read different layers.

    Args:
        tasks: list of `keras_mtl.Task`.
        supervise_at: dict task name → 1-based layer its head reads.
        **kwargs: The other arguments of `LowSupervisionNetwork`.

    Returns:
        A compiled `LowSupervisionNetwork` (outputs a dict keyed by task).

    Example:

    >>> model = low_supervision([Task("pos", 45, sequence=True),
    ...                          Task("chunk", 23, sequence=True)],
    ...                         supervise_at={"pos": 1}, vocab_size=500)
    """
    return LowSupervisionNetwork(tasks, supervise_at, **kwargs)
