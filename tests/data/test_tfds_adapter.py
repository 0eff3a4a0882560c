import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_mtl
from keras_mtl.data import from_tfds

CONLL = {"pos": "pos", "chunk": "chunks", "ner": "ner"}


@pytest.fixture
def mock():
    with tfds.testing.mock_data(
        num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        yield


@pytest.mark.backends("tensorflow")
def test_conll2003_tasks_padding_and_fit(mock):
    data = from_tfds("conll2003", inputs="tokens", labels=CONLL, batch_size=8, seed=0)
    one_batch = from_tfds(
        "conll2003", inputs="tokens", labels=CONLL, batch_size=32, bucket_width=128
    )
    assert [(t.name, t.num_classes, t.sequence) for t in data.tasks] == [
        ("pos", 47, True),
        ("chunk", 23, True),
        ("ner", 9, True),
    ]
    assert data.vocabulary[:2] == ["<pad>", "<oov>"] and data.vocab_size > 10
    count = 0
    for x, y in data.dataset:
        x = x.numpy()
        assert x.shape[1] % 16 == 0  # one length bucket per batch
        lengths = (x != 0).sum(axis=1)
        for name in CONLL:
            labels = y[name].numpy()
            assert labels.shape == x.shape  # every feature padded to one length
            assert np.all(labels[x == 0] == -1)  # padding, and cut labels
            assert labels.max() < dict(pos=47, chunk=23, ner=9)[name]
        count += len(lengths)
    assert count == 24
    model = keras_mtl.models.hard_sharing(
        data.tasks, vocab_size=data.vocab_size, units=4, embedding_dim=4, num_layers=1
    )
    model.fit(one_batch.dataset, epochs=1, verbose=0)  # one shape: one trace


def test_test_split_uses_the_training_vocabulary(mock):
    train = from_tfds("conll2003", inputs="tokens", labels={"ner": "ner"})
    test = from_tfds("conll2003", inputs="tokens", labels={"ner": "ner"}, split="test")
    assert test.vocabulary == train.vocabulary
    assert not test.dataset.element_spec[0].shape.is_fully_defined()


def test_stream_threads(mock):
    one = from_tfds("iris", inputs="features", labels={"species": "label"})
    default = from_tfds(
        "iris", inputs="features", labels={"species": "label"}, threads=None
    )
    threading = one.dataset.options().threading
    assert threading.private_threadpool_size == 1
    assert one.dataset.options().autotune.enabled is False
    assert default.dataset.options().threading.private_threadpool_size is None
    assert len(list(one.dataset)) == len(list(default.dataset))


def test_feature_classification_dataset_trains(mock):
    data = from_tfds("iris", inputs="features", labels={"species": "label"})
    assert data.vocab_size is None
    assert [(t.name, t.num_classes) for t in data.tasks] == [("species", 3)]
    x, y = next(iter(data.dataset))
    assert x.shape == (24, 4) and x.dtype == "float32"
    assert set(np.unique(y["species"])) <= {0, 1, 2}
    model = keras_mtl.models.hard_sharing(data.tasks, input_shape=(4,), units=4)
    model.fit(data.dataset, epochs=1, verbose=0)


def test_given_vocabulary_maps_unknown_tokens_to_1(mock):
    data = from_tfds(
        "conll2003",
        inputs="tokens",
        labels={"ner": "ner"},
        vocabulary=["<pad>", "<oov>"],
    )
    x, _ = next(iter(data.dataset))
    assert set(np.unique(x.numpy())) == {0, 1}


def test_bad_labels_in_a_tfds_stream_name_the_task(mock):
    data = from_tfds("iris", inputs="features", labels={"species": "label"})
    bad = data.dataset.map(lambda x, y: (x, {"species": y["species"] + 7}))
    model = keras_mtl.models.hard_sharing(data.tasks, input_shape=(4,), units=4)
    with pytest.raises(ValueError, match="species"):
        model.fit(bad, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"inputs": "nope", "labels": {"ner": "ner"}}, ValueError, "inputs"),
        ({"inputs": "tokens", "labels": {"ner": "x"}}, ValueError, "labels"),
        ({"inputs": "tokens", "labels": ["ner"]}, TypeError, "labels"),
        ({"inputs": "tokens", "labels": {"t": "tokens"}}, TypeError, "labels"),
        (
            {"inputs": "tokens", "labels": {"ner": "ner"}, "threads": 0},
            ValueError,
            "threads",
        ),
    ],
)
def test_bad_arguments(mock, kwargs, error, match):
    with pytest.raises(error, match=match):
        from_tfds("conll2003", **kwargs)


def test_a_loaded_dataset_needs_its_info(mock):
    dataset = tfds.load("iris", split="train")
    with pytest.raises(TypeError, match="info"):
        from_tfds(dataset, inputs="features", labels={"s": "label"})
