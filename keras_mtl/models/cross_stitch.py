"""Cross-stitch networks (Misra et al., CVPR 2016), a sluice special case."""

import keras
import numpy as np

from keras_mtl.arguments import check_int
from keras_mtl.models.sluice import SluiceNetwork

FIXED_BY_CROSS_STITCH = (
    "num_subspaces",
    "beta_init",
    "beta_trainable",
    "orthogonality_weight",
    "orthogonality",
)


@keras.saving.register_keras_serializable(package="keras_mtl")
class CrossStitchNetwork(SluiceNetwork):
    """A cross-stitch network (Misra et al., CVPR 2016) as a sluice special case.

    A `SluiceNetwork` with one subspace per task (S = 1, so α is `(M, M)`),
    trainable α units after every layer, each head reading the last layer
    only (β one-hot on the last layer, frozen) and no orthogonality penalty.

    Args:
        tasks: list of `keras_mtl.Task`.
        alpha_init: `"imbalanced"`, `"balanced"`, `"identity"` or an array
            `(M, M)`. Defaults to `"imbalanced"`.
        alpha_trainable: bool. Defaults to `True`.
        num_layers: int. Encoder depth. Defaults to `2`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds the weights and every dropout layer.
        name: str. Model name. Defaults to `"cross_stitch"`.
        **encoder_arguments: The common encoder arguments of `SluiceNetwork`
            (`input_shape` or `vocab_size`, `embedding_dim`, `units`,
            `dropout`, `encoder`).

    Example:

    >>> model = CrossStitchNetwork([Task("a", 3), Task("b", 2)], input_shape=(8,))
    >>> tuple(model.get_layer("sluice_unit_1").alpha.shape)
    (2, 2)
    """

    def __init__(
        self,
        tasks,
        *,
        alpha_init="imbalanced",
        alpha_trainable=True,
        num_layers=2,
        learning_rate=1e-3,
        seed=None,
        name="cross_stitch",
        **encoder_arguments,
    ):
        for fixed in FIXED_BY_CROSS_STITCH:
            if fixed in encoder_arguments:
                raise TypeError(
                    f"cross_stitch() fixes `{fixed}`; use sluice() to change it."
                )
        num_layers = check_int(num_layers, "num_layers")
        super().__init__(
            tasks,
            num_subspaces=1,
            alpha_init=alpha_init,
            alpha_trainable=alpha_trainable,
            beta_init=np.eye(num_layers, dtype="float32")[-1],
            beta_trainable=False,
            orthogonality_weight=0.0,
            num_layers=num_layers,
            learning_rate=learning_rate,
            seed=seed,
            name=name,
            **encoder_arguments,
        )


def cross_stitch(tasks, **kwargs):
    """Builds a compiled `CrossStitchNetwork` (Misra et al., CVPR 2016).

    Args:
        tasks: list of `keras_mtl.Task`.
        **kwargs: The arguments of `CrossStitchNetwork`.

    Returns:
        A compiled `CrossStitchNetwork` whose outputs are a dict keyed by task.

    Example:

    >>> model = cross_stitch([Task("a", 3), Task("b", 2)], input_shape=(8,))
    """
    return CrossStitchNetwork(tasks, **kwargs)
