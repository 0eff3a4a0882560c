"""The β unit of sluice networks: a learned mixture of a task's layers."""

import keras
import numpy as np
from keras import ops

from keras_mtl.arguments import check_int

BETA_INITS = ("last", "balanced")


def beta_initial_vector(beta_init, num_layers):
    """The `(num_layers,)` starting value of β for a named or explicit init.

    Args:
        beta_init: `"last"` (0.9 on the last layer, 0.1 / (K - 1) on each
            other; 1.0 when K = 1), `"balanced"` (1/K each) or an array `(K,)`.
        num_layers: int. K.

    Returns:
        A float32 numpy array `(num_layers,)`.
    """
    if isinstance(beta_init, str):
        if beta_init == "last":
            if num_layers == 1:
                return np.ones((1,), "float32")
            vector = np.full((num_layers,), 0.1 / (num_layers - 1), "float32")
            vector[-1] = 0.9
            return vector
        if beta_init == "balanced":
            return np.full((num_layers,), 1.0 / num_layers, "float32")
        raise ValueError(
            f"`beta_init` must be one of {BETA_INITS} or an array of shape "
            f"({num_layers},). Received: beta_init={beta_init!r}"
        )
    vector = np.asarray(beta_init, dtype="float32")
    if vector.shape != (num_layers,):
        raise ValueError(
            f"`beta_init` must have shape ({num_layers},) = (num_layers,). "
            f"Received an array of shape {vector.shape}"
        )
    if not np.all(np.isfinite(vector)):
        raise ValueError("`beta_init` must contain only finite values.")
    return vector


@keras.saving.register_keras_serializable(package="keras_mtl")
class LayerMixture(keras.layers.Layer):
    """The β unit: a learned weighted sum of the outputs of a task's layers.

    Returns `sum_k beta[k] * inputs[k]`. β is unconstrained. With a one-hot β
    and `trainable=False` the task reads exactly one layer (low supervision,
    or the last layer as in cross-stitch networks).

    Args:
        num_layers: int. Number of inputs K. At least 1.
        beta_init: `"last"` (0.9 on the last layer, the rest spread evenly),
            `"balanced"` (1/K each) or an array `(K,)`. Defaults to `"last"`.
        **kwargs: Base layer arguments (`name`, `trainable=False` freezes β).

    Call arguments:
        inputs: list of `num_layers` tensors of equal shape.

    Returns:
        One tensor of the inputs' shape.

    Example:

    >>> mix = LayerMixture(num_layers=3, beta_init="balanced")
    >>> tuple(mix([np.ones((2, 4))] * 3).shape)
    (2, 4)

    Reference:
        Ruder, Bingel, Augenstein, Søgaard. Latent Multi-task Architecture
        Learning. AAAI 2019.
    """

    def __init__(self, num_layers, beta_init="last", **kwargs):
        super().__init__(**kwargs)
        self.num_layers = check_int(num_layers, "num_layers")
        self._beta_value = beta_initial_vector(beta_init, self.num_layers)
        self.beta_init = beta_init
        self.supports_masking = True

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != (self.num_layers)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"LayerMixture expects a list of num_layers={self.num_layers} "
                f"inputs. Received input_shape={input_shape}"
            )
        shapes = [tuple(s) for s in input_shape]
        if any(s[1:] != shapes[0][1:] for s in shapes):
            raise ValueError(
                f"All LayerMixture inputs must have the same shape. Received: {shapes}"
            )
        self.beta = self.add_weight(
            name="beta",
            shape=(self.num_layers,),
            initializer=keras.initializers.Constant(self._beta_value),
        )

    def call(self, inputs):
        stacked = ops.stack(inputs, axis=0)
        beta = ops.cast(self.beta, stacked.dtype)
        return ops.tensordot(beta, stacked, axes=1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[-1]

    def beta_vector(self):
        """The current β as a numpy array `(num_layers,)`."""
        return keras.ops.convert_to_numpy(self.beta).astype("float32")

    def get_config(self):
        config = super().get_config()
        beta_init = self.beta_init
        if not isinstance(beta_init, str):
            beta_init = np.asarray(beta_init, dtype="float32").tolist()
        config.update({"num_layers": self.num_layers, "beta_init": beta_init})
        return config
