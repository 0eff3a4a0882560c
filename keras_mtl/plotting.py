"""Plots of what the models learned: sluice α/β, MRN task correlation, trees.

Every plot draws on a `matplotlib.figure.Figure` and saves it: no pyplot
state, no `matplotlib.use`, so a notebook's backend is left as it is.
"""

import keras
import numpy as np
from matplotlib.figure import Figure

from keras_mtl.arguments import check_choice
from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.multilinear_prior import MultilinearPriorLayer
from keras_mtl.layers.sluice_unit import SluiceUnit
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense


def _alpha_labels(model, unit):
    names = [t.name for t in getattr(model, "tasks", [])] or [
        f"task{m}" for m in range(unit.num_tasks)
    ]
    return [f"{n}:{s}" for n in names for s in range(unit.num_subspaces)]


def plot_sluice_weights(model, path):
    """Saves heatmaps of every α matrix and the β weights of a model as a PNG.

    Args:
        model: A model containing `SluiceUnit` and/or `LayerMixture` layers
            (e.g. from `keras_mtl.models.sluice`).
        path: str or path-like. Where to write the PNG.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> model = keras_mtl.models.sluice([Task("a", 3), Task("b")], input_shape=(8,))
    >>> figure = plot_sluice_weights(model, "sluice_weights.png")
    >>> len(figure.axes)  # α of 2 layers and β, each with its colour bar
    6
    """
    units = [layer for layer in model.layers if isinstance(layer, SluiceUnit)]
    mixtures = [layer for layer in model.layers if isinstance(layer, LayerMixture)]
    if not units and not mixtures:
        raise ValueError("`model` has no SluiceUnit or LayerMixture layers to plot.")
    panels = len(units) + bool(mixtures)
    fig = Figure(figsize=(3.6 * panels, 3.4))
    axes = fig.subplots(1, panels, squeeze=False)
    for ax, unit in zip(axes[0], units):
        alpha = unit.alpha_matrix()
        labels = _alpha_labels(model, unit)
        image = ax.imshow(alpha, cmap="viridis")
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"α {unit.name}", fontsize=9)
        _annotate(ax, image, alpha)
        fig.colorbar(image, ax=ax, fraction=0.046)
    if mixtures:
        ax = axes[0][-1]
        betas = [m.beta_vector() for m in mixtures]
        image = ax.imshow(betas, cmap="viridis", aspect="auto")
        ax.set_yticks(range(len(mixtures)), [m.name for m in mixtures], fontsize=7)
        ax.set_xticks(
            range(len(betas[0])),
            [f"layer {k + 1}" for k in range(len(betas[0]))],
            fontsize=7,
        )
        ax.set_title("β (layer mixture)", fontsize=9)
        _annotate(ax, image, betas)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig


def _annotate(ax, image, matrix, fontsize=6):
    """Writes each cell's value in black or white, whichever reads on it."""
    for (i, j), value in np.ndenumerate(np.asarray(matrix, dtype="float64")):
        red, green, blue, _ = image.cmap(image.norm(value))
        luminance = 0.299 * red + 0.587 * green + 0.114 * blue
        ax.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=fontsize,
            color="black" if luminance > 0.5 else "white",
        )


def plot_task_correlation(
    source, path, task_names=None, title="Task correlation", readout="covariance"
):
    """Saves a heatmap of a task correlation matrix as a PNG.

    Args:
        source: A model with `MultilinearPriorLayer`s (its last one is read and
            its `tasks` name the axes), a `MultilinearPriorLayer`, or a
            `(T, T)` array.
        path: str. Where to write the PNG.
        task_names: list of str or None. Axis labels.
        title: str. Figure title.
        readout: `"covariance"` (the correlation of the learned Σ3) or
            `"deviation"` (of the task matrices after removing their mean,
            `MultilinearPriorLayer.task_deviation_correlation`). Ignored for
            an array. Defaults to `"covariance"`.

    Returns:
        The path written.
    """
    from keras_mtl.models.mrn import prior_layers

    check_choice(readout, "readout", ("covariance", "deviation"))
    if isinstance(source, keras.Model):
        layers = prior_layers(source)
        if not layers:
            raise ValueError(f"Model {source.name!r} has no MultilinearPriorLayer.")
        if task_names is None and hasattr(source, "tasks"):
            task_names = [t.name for t in source.tasks]
        source = layers[-1]
    if isinstance(source, MultilinearPriorLayer):
        if readout == "deviation":
            matrix = source.task_deviation_correlation()
        else:
            matrix = source.task_correlation()
    else:
        matrix = np.asarray(source, dtype="float32")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"Expected a square matrix. Received shape {matrix.shape}")
    names = task_names or [str(i) for i in range(matrix.shape[0])]
    figure = Figure(figsize=(1.2 * len(names) + 2, 1.2 * len(names) + 1))
    axis = figure.subplots()
    image = axis.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    _annotate(axis, image, matrix, fontsize=8)
    axis.set_title(title)
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def plot_tree_dendrogram(partitions, path, task_names=None, title=None):
    """Saves the learned tree as a dendrogram PNG.

    Args:
        partitions: the output of `TreeGroupedDense.tree()` (root first), or
            the layer itself.
        path: str. Where to write the PNG.
        task_names: list of str or None. Leaf labels.
        title: str or None. Figure title.

    Returns:
        `path`.
    """
    from scipy.cluster.hierarchy import dendrogram

    from keras_mtl.models.tree import linkage_from_partitions

    if isinstance(partitions, TreeGroupedDense):
        partitions = partitions.tree()
    linkage = linkage_from_partitions(partitions)
    num_tasks = linkage.shape[0] + 1
    figure = Figure(figsize=(max(6, num_tasks * 0.12), 4))
    axis = figure.subplots()
    dendrogram(
        linkage,
        labels=task_names,
        ax=axis,
        leaf_font_size=6,
        leaf_rotation=90,  # long task names do not overlap
        color_threshold=len(partitions) + 0.5,
    )
    axis.set_ylabel("tree level (1 = leaf)")
    axis.set_yticks(range(1, len(partitions) + 2))
    levels = [str(h) for h in range(1, len(partitions) + 1)]
    axis.set_yticklabels(levels + ["unfused"])
    if title:
        axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path
