"""Plots: no pyplot state, and cell labels readable on every colour."""

import numpy as np
from matplotlib.figure import Figure

from keras_mtl.plotting import _annotate, plot_task_correlation


def _label_colors(matrix, cmap, vmin, vmax):
    axis = Figure().subplots()
    image = axis.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax)
    _annotate(axis, image, matrix)
    return [text.get_color() for text in axis.texts]


def test_labels_are_dark_on_light_cells_and_light_on_dark_cells():
    # viridis: low values are dark purple, high ones light yellow.
    assert _label_colors([[0.0, 1.0]], "viridis", 0, 1) == ["white", "black"]
    # RdBu_r: 0 is near white, ±1 dark red / dark blue.
    colors = _label_colors([[-1.0, 0.0, 1.0]], "RdBu_r", -1, 1)
    assert colors == ["white", "black", "white"]


def test_plots_leave_pyplot_alone(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    plot_task_correlation(np.eye(3), tmp_path / "corr.png")
    assert matplotlib.get_backend() == backend
    assert (tmp_path / "corr.png").stat().st_size > 1000
