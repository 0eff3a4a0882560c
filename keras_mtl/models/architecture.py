"""Builders whose models keep, and rebuild from, the arguments they were built with.

A builder decorated with `@architecture` records the arguments of each call
on the model it returns. `MultiTaskModel.get_config()` then holds them at the
top level (`config["num_subspaces"]`, `config["units"]`, ...) next to
`config["architecture"]`, and `MultiTaskModel.from_config` (used by `.keras`
loading) calls the builder again with them, so a loaded model is the same
architecture, built by the same code, not a replayed layer graph.
"""

import functools
import inspect
import json

import keras

from keras_mtl.task import Task

ARCHITECTURES = {}


class Architecture:
    """A registered builder's name and the arguments of one call (untracked)."""

    def __init__(self, name, arguments):
        self.name = name
        self.arguments = arguments


def architecture(name):
    """Registers a builder `fn(tasks, **kwargs)` under `name` (decorator)."""

    def register(builder):
        signature = inspect.signature(builder)

        @functools.wraps(builder)
        def build(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            model = builder(*args, **kwargs)
            arguments = {}
            for key, value in bound.arguments.items():
                kind = signature.parameters[key].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(value)  # e.g. cross_stitch's **kwargs
                elif key != "tasks":
                    arguments[key] = value
            model.architecture = Architecture(name, arguments)
            return model

        ARCHITECTURES[name] = build
        return build

    return register


def architecture_config(model):
    """The config of a model built by a registered builder (JSON-ready)."""
    config = {
        key: keras.saving.serialize_keras_object(value)
        for key, value in model.architecture.arguments.items()
    }
    config["architecture"] = model.architecture.name
    config["tasks"] = [task.get_config() for task in model.tasks]
    # As a `.keras` file stores it (tuples become lists): equal after loading.
    return json.loads(json.dumps(config))


def rebuild(config):
    """Calls the registered builder again with the arguments of `config`."""
    config = dict(config)
    name = config.pop("architecture")
    if name not in ARCHITECTURES:
        raise ValueError(
            f"Unknown keras_mtl architecture {name!r}; known: {sorted(ARCHITECTURES)}"
        )
    tasks = [Task.from_config(t) for t in config.pop("tasks")]
    arguments = {
        key: keras.saving.deserialize_keras_object(value)
        for key, value in config.items()
    }
    return ARCHITECTURES[name](tasks, **arguments)
