import keras
import numpy as np
import pytest
from testing import to_numpy

from keras_mtl import SubspaceOrthogonality
from keras_mtl.regularizers import subspace_blocks


def _reference(kernel, num_subspaces, gates):
    rows, columns = kernel.shape
    units = columns // gates
    width = units // num_subspaces
    blocks = []
    for s in range(num_subspaces):
        cols = [g * units + s * width + j for g in range(gates) for j in range(width)]
        blocks.append(kernel[:, cols])
    total = 0.0
    for s in range(num_subspaces):
        for t in range(s + 1, num_subspaces):
            total += np.sum((blocks[s].T @ blocks[t]) ** 2)
    return total


@pytest.mark.parametrize("num_subspaces, gates", [(2, 1), (3, 1), (2, 4), (1, 1)])
def test_penalty_matches_numpy(num_subspaces, gates):
    kernel = np.random.default_rng(0).normal(size=(5, gates * 6)).astype("float32")
    penalty = SubspaceOrthogonality(num_subspaces, weight=0.5, gates=gates)(
        keras.ops.convert_to_tensor(kernel)
    )
    expected = 0.5 * _reference(kernel, num_subspaces, gates)
    np.testing.assert_allclose(to_numpy(penalty), expected, rtol=1e-4)


def test_blocks_follow_gate_layout():
    kernel = np.arange(2 * 8, dtype="float32").reshape(2, 8)  # 2 gates x 4 units
    blocks = to_numpy(subspace_blocks(keras.ops.convert_to_tensor(kernel), 2, 2))
    np.testing.assert_array_equal(blocks[0], kernel[:, [0, 1, 4, 5]])
    np.testing.assert_array_equal(blocks[1], kernel[:, [2, 3, 6, 7]])


def test_orthogonal_blocks_have_zero_penalty_and_config_round_trips():
    kernel = np.zeros((4, 4), "float32")
    kernel[0, 0] = kernel[1, 1] = kernel[2, 2] = kernel[3, 3] = 1.0
    reg = SubspaceOrthogonality(2, weight=1.0)
    assert float(to_numpy(reg(keras.ops.convert_to_tensor(kernel)))) == 0.0
    revived = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert revived.get_config() == reg.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_subspaces"):
        SubspaceOrthogonality(0)
    with pytest.raises(ValueError, match="weight"):
        SubspaceOrthogonality(2, weight=-1.0)
    with pytest.raises(ValueError, match="num_subspaces"):
        SubspaceOrthogonality(3)(keras.ops.ones((2, 4)))
