import keras
import numpy as np
import pytest
from testing import assert_allclose, assert_layer_config_roundtrip, to_numpy

from keras_mtl.layers.task_conditioning import TaskConditioning


def test_appends_one_hot_code_to_every_step():
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    out = to_numpy(TaskConditioning(3)([x, np.array([2, 0], "int32")]))
    assert out.shape == (2, 3, 5)
    assert_allclose(out[..., :2], x, atol=0)
    assert_allclose(out[0, :, 2:], np.tile([0, 0, 1], (3, 1)), atol=0)
    assert_allclose(out[1, :, 2:], np.tile([1, 0, 0], (3, 1)), atol=0)
    out_of_range = to_numpy(TaskConditioning(3)([x, np.array([[3], [-1]], "int32")]))
    assert_allclose(out_of_range[..., 2:], np.zeros((2, 3, 3)), atol=0)


def test_passes_the_sequence_mask_and_roundtrips():
    tokens = keras.Input((None,), dtype="int32")
    task_id = keras.Input((), dtype="int32")
    x = keras.layers.Embedding(5, 2, mask_zero=True)(tokens)
    layer = TaskConditioning(2)
    out = layer([x, task_id])
    assert out.shape == (None, None, 4)
    mask = layer.compute_mask([x, task_id], [np.array([[True, False]]), None])
    assert_allclose(mask, np.array([[True, False]]), atol=0)
    assert assert_layer_config_roundtrip(layer).num_tasks == 2


@pytest.mark.parametrize("shapes", [[(2, 3), (2,)], [(2, 3, 4), (2, 2)], [(2, 3, 4)]])
def test_bad_shapes(shapes):
    with pytest.raises(ValueError, match="TaskConditioning"):
        TaskConditioning(2).build(shapes)


def test_bad_num_tasks():
    with pytest.raises(ValueError, match="num_tasks"):
        TaskConditioning(0)
