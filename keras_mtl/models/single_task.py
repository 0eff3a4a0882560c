"""Independent single-task models, one encoder stack and head per task."""

import keras

from keras_mtl.modeling.encoder_spec import COMMON_ARGS_DOC, EncoderSpec
from keras_mtl.modeling.network import MultiTaskNetwork, prepare, task_head


@keras.saving.register_keras_serializable(package="keras_mtl")
class SingleTaskNetwork(MultiTaskNetwork):
    """Independent models, one encoder stack and head per task, in one model.

    The tasks share nothing but the input (and the token embedding table,
    which every architecture treats as the input representation). This is
    the baseline whose sharing units sluice and cross-stitch networks add.

    Args:
        tasks: list of `keras_mtl.Task`.{common}

    Example:

    >>> model = SingleTaskNetwork([Task("a", 3), Task("b")], input_shape=(8,))
    >>> len(model.get_layer("a_layer_1").get_weights())
    2
    """

    def __init__(
        self,
        tasks,
        *,
        learning_rate=1e-3,
        seed=None,
        name="single_task",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        spec = EncoderSpec(type(self).__name__, encoder_arguments, seed=seed)
        inputs = spec.make_inputs()
        outputs = {}
        for task in tasks:
            top = spec.stack(inputs.features, prefix=f"{task.name}_")[-1]
            outputs[task.name] = task_head(task, top, spec.is_sequence)
        super().__init__(
            inputs.tensor,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


SingleTaskNetwork.__doc__ = SingleTaskNetwork.__doc__.format(common=COMMON_ARGS_DOC)


def single_task(tasks, **kwargs):
    """Builds a compiled `SingleTaskNetwork`: one independent model per task.

    Args:
        tasks: list of `keras_mtl.Task`.
        **kwargs: The arguments of `SingleTaskNetwork`.

    Returns:
        A compiled `SingleTaskNetwork` whose outputs are a dict keyed by task.

    Example:

    >>> model = single_task([Task("a", 3), Task("b")], input_shape=(8,))
    """
    return SingleTaskNetwork(tasks, **kwargs)
