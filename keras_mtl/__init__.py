"""keras_mtl: a Keras 3 model zoo for multi-task learning."""

from keras_mtl import data, layers, models
from keras_mtl.losses import MaskedLoss
from keras_mtl.metrics import MaskedMetric
from keras_mtl.regularizers import SubspaceOrthogonality
from keras_mtl.task import Task

__version__ = "0.1.0"

__all__ = [
    "MaskedLoss",
    "MaskedMetric",
    "SubspaceOrthogonality",
    "Task",
    "data",
    "layers",
    "models",
]


def __getattr__(name):
    # `keras_mtl.tuning` needs keras-tuner (the `tuning` extra): import on first use.
    if name == "tuning":
        import importlib

        return importlib.import_module("keras_mtl.tuning")
    raise AttributeError(f"module 'keras_mtl' has no attribute {name!r}")
