import numpy as np
import pytest
import scipy.io

from keras_mtl.data.office_caltech import (
    load_domain,
    office_caltech,
    office_caltech_tasks,
)

SIZES = {"amazon": 958, "caltech": 1123, "dslr": 157, "webcam": 295}


def test_raw_domains_have_the_documented_sizes_and_classes():
    for domain, size in SIZES.items():
        x, y = load_domain(domain)
        assert x.shape == (size, 800) and y.shape == (size,)
        assert set(np.unique(y)) == set(range(10))
    x, _ = load_domain("dslr", features="googlenet")
    assert x.shape == (157, 1024)


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2])
def test_split_follows_the_protocol(fraction):
    (x, y), (x_test, y_test) = office_caltech(labelled_fraction=fraction, seed=3)
    assert sorted(y) == sorted(SIZES) and x.dtype == np.float32
    assert x.shape[1] == 800 and len(x) + len(x_test) == sum(SIZES.values())
    for domain, size in SIZES.items():
        labelled = int(np.sum(y[domain] >= 0))
        assert labelled == round(fraction * size)
        assert labelled + int(np.sum(y_test[domain] >= 0)) == size
    # every example belongs to exactly one task
    owners = np.stack([y[d] >= 0 for d in SIZES], axis=1)
    assert (owners.sum(axis=1) == 1).all()
    assert np.abs(x.mean(axis=0)).max() < 1e-4  # z-scored with training stats


def test_split_is_seeded_and_disjoint():
    first = office_caltech(labelled_fraction=0.1, seed=5, standardize=False)
    again = office_caltech(labelled_fraction=0.1, seed=5, standardize=False)
    other = office_caltech(labelled_fraction=0.1, seed=6, standardize=False)
    np.testing.assert_array_equal(first[0][0], again[0][0])
    assert not np.array_equal(first[0][0], other[0][0])
    (x, _), (x_test, _) = first
    np.testing.assert_allclose(x.sum(axis=1), 1.0, rtol=1e-5)  # L1-normalised SURF
    # train and test partition the examples (a multiset equality)
    raw = np.concatenate([load_domain(d)[0] for d in SIZES])
    raw = raw / raw.sum(axis=1, keepdims=True)
    rows = sorted(r.tobytes() for r in np.concatenate([x, x_test]))
    assert rows == sorted(r.tobytes() for r in raw)


def test_googlenet_features_cover_three_domains():
    (x, y), _ = office_caltech(0.2, features="googlenet")
    assert sorted(y) == ["amazon", "dslr", "webcam"] and x.shape[1] == 1024
    tasks = office_caltech_tasks(features="googlenet")
    assert [t.name for t in tasks] == ["amazon", "dslr", "webcam"]
    assert all(t.num_classes == 10 for t in tasks)


def test_domain_subset_and_custom_data_dir(tmp_path):
    (x, y), _ = office_caltech(0.1, domains=["dslr", "webcam"])
    assert sorted(y) == ["dslr", "webcam"] and len(x) == 16 + 30
    (tmp_path / "surf").mkdir()
    x, y = load_domain("dslr")
    scipy.io.savemat(
        tmp_path / "surf" / "dslr_SURF_L10.mat",
        {"fts": x[:20], "labels": y[:20, None] + 1},
    )
    (x, y), (x_test, _) = office_caltech(0.5, domains="dslr", data_dir=str(tmp_path))
    assert len(x) == 10 and len(x_test) == 10


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"labelled_fraction": 0.0}, ValueError, "labelled_fraction"),
        ({"labelled_fraction": 1.0}, ValueError, "labelled_fraction"),
        ({"features": "vgg"}, ValueError, "features"),
        ({"features": "googlenet", "domains": ["caltech"]}, ValueError, "domains"),
        ({"domains": ["dslr", "dslr"]}, ValueError, "domains"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        office_caltech(**kwargs)
