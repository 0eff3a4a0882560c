"""Prebuilt multi-task model builders; each returns a compiled `MultiTaskModel`."""

from keras_mtl.models.baselines import hard_sharing, low_supervision, single_task
from keras_mtl.models.meta_lstm import MetaLSTMModel, meta_lstm, meta_lstm_transfer
from keras_mtl.models.mrn import mrn, plot_task_correlation, task_correlation
from keras_mtl.models.multitask_model import MultiTaskModel
from keras_mtl.models.sluice import cross_stitch, sluice
from keras_mtl.models.tree import plot_tree_dendrogram, tree

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
