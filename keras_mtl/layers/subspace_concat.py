"""Concatenation that keeps subspaces contiguous (for bidirectional encoders)."""

import keras
from keras import ops

from keras_mtl.arguments import check_int


@keras.saving.register_keras_serializable(package="keras_mtl")
class SubspaceConcat(keras.layers.Layer):
    """Concatenates tensors block by block so each subspace stays contiguous.

    Each input `(..., D_i)` is split into `num_subspaces` blocks; the output
    is `[x_1 block 0, x_2 block 0, ..., x_1 block 1, x_2 block 1, ...]`. For a
    bidirectional LSTM this makes subspace `s` of the output the `s`-th block
    of the forward states followed by the `s`-th block of the backward states,
    so the weights producing subspace `s` are block `s` of each direction.
    With `num_subspaces=1` it is a plain concatenation.

    Args:
        num_subspaces: int. Number of subspaces; must divide every input width.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: list of tensors with equal leading dimensions.

    Returns:
        One tensor `(..., sum_i D_i)`.

    Example:

    >>> merged = SubspaceConcat(2)([np.ones((1, 4)), np.zeros((1, 4))])
    >>> keras.ops.convert_to_numpy(merged)
    array([[1., 1., 0., 0., 1., 1., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_subspaces, **kwargs):
        super().__init__(**kwargs)
        self.num_subspaces = check_int(num_subspaces, "num_subspaces")
        self.supports_masking = True

    def build(self, input_shape):
        for shape in input_shape:
            if shape[-1] is None or shape[-1] % self.num_subspaces:
                raise ValueError(
                    f"`num_subspaces`={self.num_subspaces} must divide every "
                    f"input width. Received input_shape={input_shape}"
                )

    def call(self, inputs):
        splits = [ops.split(x, self.num_subspaces, axis=-1) for x in inputs]
        ordered = [split[s] for s in range(self.num_subspaces) for split in splits]
        return ops.concatenate(ordered, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (sum(s[-1] for s in input_shape),)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def get_config(self):
        config = super().get_config()
        config["num_subspaces"] = self.num_subspaces
        return config
