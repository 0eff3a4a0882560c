"""`MultiTaskNetwork`: the base of the prebuilt architectures."""

import contextlib
import functools
import inspect
import json

import keras
from keras.src.backend.common import global_state

from keras_mtl.arguments import check_int
from keras_mtl.layers.crf import LinearChainCRF
from keras_mtl.modeling.multitask_model import MultiTaskModel
from keras_mtl.task import Task, validate_tasks


class MultiTaskNetwork(MultiTaskModel):
    """A `MultiTaskModel` configured by its constructor (keras-hub's pattern).

    Each architecture (`SluiceNetwork`, `HardSharingNetwork`, ...) is a
    subclass whose constructor takes the tasks and the architecture's
    arguments, builds the functional graph and compiles the model with the
    tasks' masked losses and metrics. `get_config()` is the constructor's
    arguments, at the top level (`config["units"]`, `config["tasks"]`, ...),
    and `from_config` (used by `.keras` loading) calls the constructor with
    them: a loaded model is rebuilt by the same code, then gets its weights.

    Subclasses build their graph and end with
    `super().__init__(inputs, outputs, tasks=tasks, spec=spec, ...)`; the
    arguments of the outermost constructor call are recorded automatically.
    Every architecture also takes `weighting=` (a `keras_mtl.weighting`
    strategy or its name, default `"equal"`), which it is compiled with.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, weighting="equal", **kw):
            init(self, *args, **kw)
            if type(self) is cls:  # the outermost constructor records
                arguments = _bound_arguments(signature, self, args, kw)
                if not (isinstance(weighting, str) and weighting == "equal"):
                    self.compile(weighting=weighting)
                arguments["weighting"] = weighting
                object.__setattr__(self, "_arguments", arguments)

        cls.__init__ = recording_init

    def __init__(
        self,
        inputs,
        outputs,
        *,
        tasks,
        spec=None,
        learning_rate=1e-3,
        name=None,
        **kwargs,
    ):
        super().__init__(
            inputs,
            outputs,
            name=name,
            tasks=tasks,
            learning_rate=learning_rate,
            **kwargs,
        )
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_arguments", {})
        self.compile()

    def get_config(self):
        """The constructor's arguments (JSON-ready, tasks as configs)."""
        config = dict(self._spec.get_config()) if self._spec is not None else {}
        config.update(self._arguments)
        config = {
            key: keras.saving.serialize_keras_object(value)
            for key, value in config.items()
        }
        config["tasks"] = [task.get_config() for task in self.tasks]
        config["name"] = self.name
        # As a `.keras` file stores it (tuples become lists): equal after loading.
        return json.loads(json.dumps(config))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        tasks = [Task.from_config(task) for task in config.pop("tasks")]
        arguments = {
            key: keras.saving.deserialize_keras_object(
                value, custom_objects=custom_objects
            )
            for key, value in config.items()
        }
        with _outside_object_sharing():
            return cls(tasks, **arguments)


_SHARING_ATTRIBUTES = (
    "shared_objects/id_to_obj_map",
    "shared_objects/id_to_config_map",
)


@contextlib.contextmanager
def _outside_object_sharing():
    """Builds a model as a fresh constructor call would, also inside loading.

    `.keras` loading runs in Keras's object-sharing scope, which matches
    objects by `id()`; layers that clone others by serializing them (such as
    `Bidirectional`) could then be handed an unrelated object whose memory
    address was reused (a flaky "both directions go backwards" error).
    """
    saved = [global_state.get_global_attribute(name) for name in _SHARING_ATTRIBUTES]
    for name in _SHARING_ATTRIBUTES:
        global_state.set_global_attribute(name, None)
    try:
        yield
    finally:
        for name, value in zip(_SHARING_ATTRIBUTES, saved):
            global_state.set_global_attribute(name, value)


def _bound_arguments(signature, model, args, kwargs):
    """The call's arguments by name (defaults filled, `**kwargs` spread)."""
    bound = signature.bind(model, *args, **kwargs)
    bound.apply_defaults()
    arguments = {}
    for key, value in list(bound.arguments.items())[1:]:
        if signature.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif key != "tasks":
            arguments[key] = value
    return arguments


def prepare(tasks, seed):
    """Validates `tasks` and seeds Keras's global RNG when `seed` is given."""
    tasks = validate_tasks(tasks)
    if seed is not None:
        keras.utils.set_random_seed(check_int(seed, "seed", minimum=0))
    return tasks


def task_head(task, x, is_sequence):
    """The output layer of `task` (named after it), pooled if needed.

    A CRF task gets per-step tag scores (`<task>_emissions`) and a
    `LinearChainCRF` named after the task.
    """
    if task.sequence and not is_sequence:
        raise ValueError(
            f"Task {task.name!r} has sequence=True but the model input is not a "
            "sequence: pass `vocab_size` (tokens) or a rank-2 `input_shape`."
        )
    if is_sequence and not task.sequence:
        x = keras.layers.GlobalAveragePooling1D(name=f"{task.name}_pool")(x)
    if task.crf:
        return crf_head(task, x)
    return keras.layers.Dense(
        task.output_units,
        activation=task.output_activation(),
        dtype="float32",
        name=task.name,
    )(x)


def crf_head(task, x):
    """Tag scores of `task` on the sequence `x`, then its `LinearChainCRF`."""
    emissions = keras.layers.Dense(
        task.num_classes, dtype="float32", name=f"{task.name}_emissions"
    )(x)
    constraints = task.crf_constraints or {}
    return LinearChainCRF(dtype="float32", name=task.name, **constraints)(emissions)


def activation_heads(tasks, logits):
    """Each task's output activation on its logits (outputs named by task)."""
    for task in tasks:
        if task.crf:
            raise ValueError(
                f"Task {task.name!r} has crf=True, but this architecture has no "
                "CRF head; the builders on token sequences do (hard_sharing, "
                "single_task, sluice, cross_stitch, low_supervision, meta_lstm)."
            )
    return {
        task.name: keras.layers.Activation(
            task.output_activation() or "linear", dtype="float32", name=task.name
        )(z)
        for task, z in zip(tasks, logits)
    }
