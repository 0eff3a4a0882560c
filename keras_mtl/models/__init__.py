"""Prebuilt multi-task model builders; each returns a compiled `MultiTaskModel`."""

from keras_mtl.models.baselines import hard_sharing, low_supervision, single_task
from keras_mtl.models.multitask_model import MultiTaskModel
from keras_mtl.models.sluice import cross_stitch, sluice

__all__ = [
    "MultiTaskModel",
    "cross_stitch",
    "hard_sharing",
    "low_supervision",
    "single_task",
    "sluice",
]
