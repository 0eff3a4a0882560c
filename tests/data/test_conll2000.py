import numpy as np
import pytest

from keras_mtl.data import BucketedSequences, conll2000, pad_sequences


@pytest.fixture(scope="module")
def data():
    return conll2000()


def test_shapes_vocabulary_and_tasks(data):
    assert data.x_train.shape == (8936, 78) and data.x_test.shape == (2012, 78)
    assert [t.name for t in data.tasks] == ["pos", "chunk"]
    assert all(t.sequence for t in data.tasks)
    assert data.tasks[0].num_classes == len(data.tag_names["pos"]) == 44
    assert data.tasks[1].num_classes == len(data.tag_names["chunk"])
    assert data.vocabulary[:2] == ["<pad>", "<unk>"]
    assert data.x_train.max() < data.vocab_size


def test_padding_and_labels_align(data):
    for split_x, split_y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        for labels in split_y.values():
            np.testing.assert_array_equal(labels < 0, split_x == 0)
    assert (data.x_train > 0).sum() == 211727  # tokens in the official train file
    first = data.decode_tags("chunk", data.y_train["chunk"][:1], data.x_train[:1])[0]
    assert first[:3] == ["B-NP", "B-PP", "B-NP"]  # "Confidence in the"


def test_vocabulary_threshold_and_subset():
    small = conll2000(max_train_sentences=100, min_count=1, max_length=20)
    assert small.x_train.shape == (100, 20)
    assert small.x_test.shape[1] == 20
    assert small.vocab_size < 2000


def test_bucketed_batches_cover_every_example_once(data):
    batches = BucketedSequences(
        data.x_test, data.y_test, batch_size=64, bucket_width=16, shuffle=False
    )
    order = batches.example_order()
    assert sorted(order) == list(range(len(data.x_test)))
    widths = set()
    for index in range(len(batches)):
        x, y = batches[index]
        widths.add(x.shape[1])
        assert x.shape[1] % 16 == 0 or x.shape[1] == 78
        assert y["pos"].shape == x.shape
        assert x.shape[1] - 16 < (x != 0).sum(1).max() <= x.shape[1]
    assert batches[0][0].shape[1] != batches[1][0].shape[1]
    assert len(widths) > 2


def test_shuffle_is_seeded():
    x = pad_sequences([[1] * n for n in range(1, 40)])
    one = BucketedSequences(x, None, batch_size=4, seed=3).example_order()
    two = BucketedSequences(x, None, batch_size=4, seed=3).example_order()
    np.testing.assert_array_equal(one, two)


def test_pad_sequences():
    out = pad_sequences([[1, 2, 3], [4]], length=2, value=-1)
    np.testing.assert_array_equal(out, [[1, 2], [4, -1]])


def test_bad_split(data):
    with pytest.raises(ValueError, match="split"):
        data.batches("dev")


def test_a_subset_keeps_every_tag_class():
    small = conll2000(max_train_sentences=300)
    assert [t.num_classes for t in small.tasks] == [44, 23]


def test_shuffled_batches_start_with_two_widths_for_every_seed():
    # Keras's TensorFlow adapter fixes the time axis from the first two
    # batches; before the fix 77 of 200 shuffle seeds gave them equal widths.
    small = conll2000(max_train_sentences=200)
    for seed in range(200):
        batches = small.batches("train", batch_size=32, seed=seed)
        for _ in range(2):  # the first epoch, then a reshuffled one
            assert batches[0][0].shape[1] != batches[1][0].shape[1], seed
            batches.on_epoch_end()


# The crash was in Keras's TensorFlow data adapter (the widths test above
# covers its cause on every backend; test_readme runs the Tour on all three).
@pytest.mark.backends("tensorflow")
def test_the_tour_trains_for_shuffle_seeds_0_to_9():
    import keras_mtl

    small = conll2000(max_train_sentences=200)
    model = keras_mtl.models.sluice(
        small.tasks, vocab_size=small.vocab_size, embedding_dim=8, units=8, seed=0
    )
    for seed in range(10):
        history = model.fit(small.batches("train", seed=seed), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1]), seed
