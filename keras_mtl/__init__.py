"""keras_mtl: a Keras 3 model zoo for multi-task learning."""

from keras_mtl import layers, models
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
    "layers",
    "models",
]
