"""The subspace orthogonality penalty of sluice networks, on weights."""

import keras
from keras import ops

from keras_mtl.arguments import check_float, check_int


def subspace_blocks(kernel, num_subspaces, gates=1):
    """Splits a kernel's columns into the blocks that produce each subspace.

    A layer with `units` outputs per gate (Dense: 1 gate; LSTM: 4 gates laid
    out `[i | f | c | o]`) has `kernel` of shape `(rows, gates * units)`.
    Subspace `s` is the `s`-th contiguous block of `units / num_subspaces`
    units; the weights producing it are those columns in every gate.

    Returns:
        A tensor `(num_subspaces, rows, gates * units / num_subspaces)`:
        `G_s` for each subspace.
    """
    rows, columns = kernel.shape
    width = columns // (gates * num_subspaces)
    blocks = ops.reshape(kernel, (rows, gates, num_subspaces, width))
    blocks = ops.transpose(blocks, (2, 0, 1, 3))
    return ops.reshape(blocks, (num_subspaces, rows, gates * width))


@keras.saving.register_keras_serializable(package="keras_mtl")
class SubspaceOrthogonality(keras.regularizers.Regularizer):
    """Penalises overlap between the weight blocks of a layer's subspaces.

    `weight * sum_{s < s'} ||G_s^T G_{s'}||_F^2`, where `G_s` holds the
    kernel columns that produce subspace `s` (see `subspace_blocks`). This is
    the orthogonality constraint L_c of sluice networks for one layer of one
    task; attach it to every task-specific layer to get the sum over tasks and
    layers. For an LSTM it is attached to both the input and the recurrent
    kernel (`gates=4`), penalising each matrix's blocks.

    Args:
        num_subspaces: int. Number of subspaces S (>= 1; S = 1 gives 0).
        weight: float. λ_c, the penalty weight. Defaults to `0.1`.
        gates: int. Column groups sharing the unit layout (1 for Dense, 4 for
            LSTM). Defaults to `1`.

    Example:

    >>> layer = keras.layers.Dense(8, kernel_regularizer=SubspaceOrthogonality(2))

    Reference:
        Ruder et al., Latent Multi-task Architecture Learning, AAAI 2019;
        Bousmalis et al., Domain Separation Networks, NeurIPS 2016.
    """

    def __init__(self, num_subspaces, weight=0.1, gates=1):
        self.num_subspaces = check_int(num_subspaces, "num_subspaces")
        self.weight = check_float(weight, "weight")
        self.gates = check_int(gates, "gates")

    def __call__(self, kernel):
        if kernel.shape[-1] % (self.gates * self.num_subspaces):
            raise ValueError(
                f"`num_subspaces`={self.num_subspaces} must divide the layer's "
                f"units. Received a kernel of shape {tuple(kernel.shape)} with "
                f"gates={self.gates}"
            )
        blocks = ops.cast(
            subspace_blocks(kernel, self.num_subspaces, self.gates), "float32"
        )
        total = 0.0
        for s in range(self.num_subspaces):
            for t in range(s + 1, self.num_subspaces):
                cross = ops.matmul(ops.transpose(blocks[s]), blocks[t])
                total = total + ops.sum(ops.square(cross))
        return self.weight * total

    def get_config(self):
        return {
            "num_subspaces": self.num_subspaces,
            "weight": self.weight,
            "gates": self.gates,
        }
