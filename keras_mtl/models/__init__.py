"""The prebuilt architectures: one model class each, and their builders.

Each class (`SluiceNetwork`, `HardSharingNetwork`, `MRN`, ...) is a
`MultiTaskModel` configured by its constructor; each lowercase builder
(`sluice`, `hard_sharing`, `mrn`, ...) returns a compiled instance.
"""

from keras_mtl.modeling.backbone import token_encoder
from keras_mtl.modeling.encoder_spec import EncoderSpec
from keras_mtl.modeling.multitask_model import MultiTaskModel
from keras_mtl.modeling.network import MultiTaskNetwork
from keras_mtl.models.cross_stitch import CrossStitchNetwork, cross_stitch
from keras_mtl.models.hard_sharing import HardSharingNetwork, hard_sharing
from keras_mtl.models.low_supervision import LowSupervisionNetwork, low_supervision
from keras_mtl.models.meta_lstm import (
    MetaLSTMModel,
    MetaLSTMNetwork,
    meta_lstm,
    meta_lstm_transfer,
)
from keras_mtl.models.mrn import (
    MRN,
    mrn,
    task_correlation,
    task_deviation_correlation,
)
from keras_mtl.models.single_task import SingleTaskNetwork, single_task
from keras_mtl.models.sluice import SluiceNetwork, sluice
from keras_mtl.models.tree import TreeMTL, tree

__all__ = [
    "CrossStitchNetwork",
    "EncoderSpec",
    "HardSharingNetwork",
    "LowSupervisionNetwork",
    "MRN",
    "MetaLSTMModel",
    "MetaLSTMNetwork",
    "MultiTaskModel",
    "MultiTaskNetwork",
    "SingleTaskNetwork",
    "SluiceNetwork",
    "TreeMTL",
    "cross_stitch",
    "hard_sharing",
    "low_supervision",
    "meta_lstm",
    "meta_lstm_transfer",
    "mrn",
    "plot_task_correlation",
    "plot_tree_dendrogram",
    "single_task",
    "sluice",
    "task_correlation",
    "task_deviation_correlation",
    "token_encoder",
    "tree",
]


def __getattr__(name):
    # The plots live in `keras_mtl.plotting` (matplotlib loads on first use);
    # these names stay reachable here, as before.
    if name in ("plot_task_correlation", "plot_tree_dendrogram"):
        from keras_mtl import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'keras_mtl.models' has no attribute {name!r}")
