"""Hard parameter sharing: one shared encoder, one output head per task."""

import keras

from keras_mtl.modeling.encoder_spec import COMMON_ARGS_DOC, EncoderSpec
from keras_mtl.modeling.network import MultiTaskNetwork, prepare, task_head


@keras.saving.register_keras_serializable(package="keras_mtl")
class HardSharingNetwork(MultiTaskNetwork):
    """Hard parameter sharing: one shared encoder, one output head per task.

    Args:
        tasks: list of `keras_mtl.Task`.{common}

    Example:

    >>> model = HardSharingNetwork([Task("a", 3), Task("b")], input_shape=(8,))
    >>> model.get_config()["units"]
    64
    """

    def __init__(
        self,
        tasks,
        *,
        learning_rate=1e-3,
        seed=None,
        name="hard_sharing",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        spec = EncoderSpec(type(self).__name__, encoder_arguments, seed=seed)
        inputs = spec.make_inputs()
        top = spec.stack(inputs.features, prefix="shared_")[-1]
        outputs = {t.name: task_head(t, top, spec.is_sequence) for t in tasks}
        super().__init__(
            inputs.tensor,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )


HardSharingNetwork.__doc__ = HardSharingNetwork.__doc__.format(common=COMMON_ARGS_DOC)


def hard_sharing(tasks, **kwargs):
    """Builds a compiled `HardSharingNetwork`: a shared encoder, a head per task.

    Args:
        tasks: list of `keras_mtl.Task`.
        **kwargs: The arguments of `HardSharingNetwork` (`input_shape` or
            `vocab_size`, `units`, `num_layers`, `dropout`, `encoder`,
            `learning_rate`, `seed`, `name`, ...).

    Returns:
        A compiled `HardSharingNetwork` whose outputs are a dict keyed by task.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    >>> y = {"a": np.arange(32) % 3, "b": x[:, 0]}
    >>> model = hard_sharing([Task("a", 3), Task("b")], input_shape=(8,))
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    """
    return HardSharingNetwork(tasks, **kwargs)
