"""The classic baselines, importable from one module as before."""

from keras_mtl.models.hard_sharing import HardSharingNetwork, hard_sharing
from keras_mtl.models.low_supervision import LowSupervisionNetwork, low_supervision
from keras_mtl.models.single_task import SingleTaskNetwork, single_task

__all__ = [
    "HardSharingNetwork",
    "LowSupervisionNetwork",
    "SingleTaskNetwork",
    "hard_sharing",
    "low_supervision",
    "single_task",
]
