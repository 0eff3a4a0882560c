"""Keras layers of keras_mtl."""

from keras_mtl.layers.crf import LinearChainCRF, bio_constraints
from keras_mtl.layers.last_step import LastStep
from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.meta_lstm import MetaLSTM
from keras_mtl.layers.meta_lstm_cell import MetaLSTMCell
from keras_mtl.layers.multilinear_prior import MultilinearPriorLayer
from keras_mtl.layers.sluice_unit import SluiceUnit
from keras_mtl.layers.subspace_concat import SubspaceConcat
from keras_mtl.layers.task_conditioning import TaskConditioning
from keras_mtl.layers.task_routing import TaskRouting
from keras_mtl.layers.task_split import TaskSplit
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense

__all__ = [
    "bio_constraints",
    "LastStep",
    "LinearChainCRF",
    "MetaLSTM",
    "MetaLSTMCell",
    "TaskConditioning",
    "TaskRouting",
    "TaskSplit",
    "MultilinearPriorLayer",
    "LayerMixture",
    "SluiceUnit",
    "SubspaceConcat",
    "TreeGroupedDense",
]
