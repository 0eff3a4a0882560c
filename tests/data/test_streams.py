import numpy as np
import pytest
import tensorflow as tf

from keras_mtl import Task
from keras_mtl.data.streams import batch_stream

TASKS = [Task("tag", num_classes=5, sequence=True), Task("kind", num_classes=2)]


def examples(lengths):
    """Token examples `1..length` with per-token and per-example labels."""

    def gen():
        for i, n in enumerate(lengths):
            yield (
                np.arange(1, n + 1, dtype="int32"),
                {
                    "tag": np.full(n, i % 5, "int32"),
                    "kind": np.int32(i % 2),
                },
            )

    spec = (
        tf.TensorSpec([None], tf.int32),
        {"tag": tf.TensorSpec([None], tf.int32), "kind": tf.TensorSpec([], tf.int32)},
    )
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def passes(stream, count):
    return [[(x.numpy(), y) for x, y in stream] for _ in range(count)]


@pytest.mark.backends("jax")
@pytest.mark.parametrize("cache", [False, True])
def test_sorted_windows_give_few_shapes_and_one_small_batch(cache):
    lengths = np.random.default_rng(0).integers(1, 40, size=203)

    def seeded_stream():
        return batch_stream(
            examples(lengths),
            TASKS,
            batch_size=8,
            tokens=True,
            shuffle=True,
            seed=3,
            cache=cache,
        )

    first, second = passes(seeded_stream(), 2)
    for batches in (first, second):
        sizes = [len(x) for x, _ in batches]
        assert sorted(sizes)[1:] == [8] * 25 and sorted(sizes)[0] == 203 - 200
        assert {x.shape[1] for x, _ in batches} <= {16, 32, 48}
        seen = sorted(int((x[i] != 0).sum()) for x, _ in batches for i in range(len(x)))
        assert seen == sorted(lengths.tolist())  # every example once
        for x, y in batches:
            assert x.shape[1] - 16 < (x != 0).sum(axis=1).max() <= x.shape[1]
            tags = y["tag"].numpy()
            assert tags.shape == x.shape and np.all((tags == -1) == (x == 0))
    # Batches differ between passes, and a second stream with the seed repeats.
    assert [x.tolist() for x, _ in first] != [x.tolist() for x, _ in second]
    assert [x.tolist() for x, _ in passes(seeded_stream(), 1)[0]] == [
        x.tolist() for x, _ in first
    ]


@pytest.mark.backends("jax")
def test_unshuffled_windows_are_sorted_and_can_drop_the_remainder():
    lengths = [5, 3, 30, 1, 17, 2, 9]
    stream = batch_stream(
        examples(lengths),
        TASKS,
        batch_size=3,
        tokens=True,
        sort_window=4,
        drop_remainder=True,
    )
    got = [(x != 0).sum(axis=1).tolist() for x, _ in passes(stream, 1)[0]]
    # Windows of 6 (4 rounded up to 2 batches): [5,3,30,1,17,2] and [9].
    assert got == [[1, 2, 3], [5, 17, 30]]
