import gzip

import numpy as np
import pytest

from keras_mtl.data.fdu_mtl import DOMAINS, fdu_mtl, read_split
from keras_mtl.data.paths import dataset_dir


def write(directory, domain, split, lines, encoding="utf-8"):
    with gzip.open(directory / f"{domain}.task.{split}.gz", "wb") as handle:
        handle.write("\n".join(lines).encode(encoding) + b"\n")


@pytest.fixture
def tiny(tmp_path):
    write(
        tmp_path,
        "MR",
        "train",
        ["1\tun film cliché .", "0\tbad bad film"],
        encoding="latin-1",
    )
    write(tmp_path, "MR", "test", ["0\tbad film"])
    write(tmp_path, "books", "train", ["1\tgood book", "0\tbad", "1\t ", "1\tgood"])
    write(tmp_path, "books", "test", ["1\tgood book indeed", "0\tunknownword"])
    return tmp_path


def test_stream_labels_and_task_ids(tiny):
    data = fdu_mtl(["books", "MR"], data_dir=tiny, max_length=3, shuffle_seed=None)
    assert [t.name for t in data["tasks"]] == ["books", "MR"]
    assert all(t.num_classes == 2 for t in data["tasks"])
    x, y = data["train"]
    assert x["tokens"].shape == (5, 3) and x["tokens"].dtype == np.int32
    np.testing.assert_array_equal(x["task_id"], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(y["books"], [1, 0, 1, -1, -1])
    np.testing.assert_array_equal(y["MR"], [-1, -1, -1, 1, 0])
    vocabulary = data["vocabulary"]
    assert vocabulary[:3] == ["<pad>", "<oov>", "bad"]
    assert "cliché" in vocabulary  # the Latin-1 byte decoded, not mangled
    words = [vocabulary[i] for i in x["tokens"][3]]
    assert words == ["un", "film", "cliché"]  # truncated to max_length
    assert list(x["tokens"][1]) == [vocabulary.index("bad"), 0, 0]  # padded


def test_per_task_test_sets(tiny):
    data = fdu_mtl(["books", "MR"], data_dir=tiny, vocab_size=4)
    assert data["vocabulary"] == ["<pad>", "<oov>", "bad", "film"]
    x, y = data["test"]["books"]
    np.testing.assert_array_equal(x["task_id"], [0, 0])
    np.testing.assert_array_equal(y["books"], [1, 0])
    np.testing.assert_array_equal(y["MR"], [-1, -1])
    assert x["tokens"][1, 0] == 1  # out of vocabulary
    assert sorted(data["test"]) == ["MR", "books"]


def test_shuffle_is_seeded_and_keeps_pairs(tiny):
    a = fdu_mtl(["books", "MR"], data_dir=tiny, shuffle_seed=3)
    b = fdu_mtl(["books", "MR"], data_dir=tiny, shuffle_seed=3)
    np.testing.assert_array_equal(a["train"][0]["tokens"], b["train"][0]["tokens"])
    x, y = a["train"]
    for m, name in enumerate(["books", "MR"]):
        assert np.all((y[name] >= 0) == (x["task_id"] == m))


def test_real_files_latin1_and_sizes():
    directory = dataset_dir("fdu_mtl")
    labels, texts = read_split(directory, "MR", "test")
    assert len(labels) == len(texts) == 400 and set(labels) == {0, 1}
    labels, texts = read_split(directory, "dvd", "train")
    assert len(labels) == 1600
    labels, texts = read_split(directory, "sports_outdoors", "train")
    assert len(labels) == 1599 and all(texts)  # one empty review skipped
    assert len(DOMAINS) == 16


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"domains": ["nope"]}, ValueError, "domains"),
        ({"domains": "books"}, TypeError, "domains"),
        ({"domains": ["books", "books"]}, ValueError, "domains"),
        ({"max_length": 0}, ValueError, "max_length"),
        ({"vocab_size": 1}, ValueError, "vocab_size"),
    ],
)
def test_bad_arguments(tiny, kwargs, error, name):
    with pytest.raises(error, match=name):
        fdu_mtl(data_dir=tiny, **{"domains": ["books"], **kwargs})


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        fdu_mtl(["books"], data_dir=tmp_path)  # a folder without the files
