import numpy as np
import pytest

from keras_mtl.data.school import load_school_arrays, school, school_tasks


def test_school_shapes_and_split():
    (x, y, ids), (xt, yt, idst) = school(seed=3, return_task_ids=True)
    assert len(y) == 139 and x.shape[1] == 28
    assert len(x) + len(xt) == 15362
    assert sorted(y) == [t.name for t in school_tasks()]
    labelled = np.stack([~np.isnan(v) for v in y.values()], 1)
    assert np.all(labelled.sum(1) == 1)
    assert np.array_equal(labelled.argmax(1), ids)
    sizes = [len(a[1]) for a in load_school_arrays()]
    for t in (0, 57, 138):
        assert np.sum(ids == t) == round(0.75 * sizes[t])
        assert np.sum(idst == t) == sizes[t] - round(0.75 * sizes[t])
    assert np.allclose(x[:, -1], 1.0)
    assert np.allclose(x[:, :-1].mean(0), 0, atol=1e-4)


def test_school_split_is_seeded():
    (a, _), _ = school(seed=1, standardize_features=False)
    (b, _), _ = school(seed=1, standardize_features=False)
    (c, _), _ = school(seed=2, standardize_features=False)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_school_bad_arguments():
    with pytest.raises(ValueError, match="train_fraction"):
        school(train_fraction=1.5)
    with pytest.raises(ValueError, match="seed"):
        school(seed=-1)
