"""Prebuilt multi-task model builders; each returns a compiled `MultiTaskModel`."""

from keras_mtl.models.baselines import hard_sharing, low_supervision, single_task
from keras_mtl.models.meta_lstm import MetaLSTMModel, meta_lstm, meta_lstm_transfer
from keras_mtl.models.mrn import mrn, task_correlation
from keras_mtl.models.multitask_model import MultiTaskModel
from keras_mtl.models.sluice import cross_stitch, sluice
from keras_mtl.models.tree import tree

__all__ = [
    "MetaLSTMModel",
    "meta_lstm",
    "meta_lstm_transfer",
    "mrn",
    "plot_task_correlation",
    "task_correlation",
    "plot_tree_dendrogram",
    "tree",
    "MultiTaskModel",
    "cross_stitch",
    "hard_sharing",
    "low_supervision",
    "single_task",
    "sluice",
]


def __getattr__(name):
    # The plots live in `keras_mtl.plotting` (matplotlib loads on first use);
    # these names stay reachable here, as before.
    if name in ("plot_task_correlation", "plot_tree_dendrogram"):
        from keras_mtl import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'keras_mtl.models' has no attribute {name!r}")
