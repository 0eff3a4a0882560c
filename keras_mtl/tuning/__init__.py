"""KerasTuner search over what multi-task models share."""

from keras_mtl.tuning.compat import patch_tensorboard_import
from keras_mtl.tuning.hypermodels import (
    CrossStitchHyperModel,
    HardSharingHyperModel,
    LowSupervisionHyperModel,
    MetaLSTMHyperModel,
    MRNHyperModel,
    MultiTaskHyperModel,
    SluiceHyperModel,
    TreeHyperModel,
)
from keras_mtl.tuning.scoring import MeanTaskScore, objective

patch_tensorboard_import()

__all__ = [
    "CrossStitchHyperModel",
    "HardSharingHyperModel",
    "LowSupervisionHyperModel",
    "MRNHyperModel",
    "MetaLSTMHyperModel",
    "MeanTaskScore",
    "MultiTaskHyperModel",
    "SluiceHyperModel",
    "TreeHyperModel",
    "objective",
]
