"""keras_mtl: a Keras 3 model zoo for multi-task learning."""

from keras_mtl import data, layers, models, weighting
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
    "weighting",
]


def __getattr__(name):
    # `keras_mtl.tuning` needs keras-tuner (the `tuning` extra) and
    # `keras_mtl.plotting` imports matplotlib: both load on first use.
    if name in ("tuning", "plotting"):
        import importlib

        return importlib.import_module(f"keras_mtl.{name}")
    raise AttributeError(f"module 'keras_mtl' has no attribute {name!r}")
