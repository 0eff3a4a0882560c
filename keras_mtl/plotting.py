"""Plots of what a sluice network learned to share."""

from matplotlib.figure import Figure  # no pyplot: the user's backend is untouched

from keras_mtl.layers.layer_mixture import LayerMixture
from keras_mtl.layers.sluice_unit import SluiceUnit


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

    >>> plot_sluice_weights(model, "sluice_weights.png")
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
        _annotate(ax, alpha)
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
        _annotate(ax, betas)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig


def _annotate(ax, matrix):
    top = max(max(row) for row in matrix)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            color = "white" if value < top / 2 else "black"
            ax.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=color
            )
