"""Keras layers of keras_mtl."""

from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.sluice_unit import SluiceUnit
from keras_mtl.layers.subspace_concat import SubspaceConcat

__all__ = ["LayerMixture", "SluiceUnit", "SubspaceConcat"]
