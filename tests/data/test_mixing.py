import numpy as np
import pytest
import tensorflow as tf

import keras_mtl
from keras_mtl import Task
from keras_mtl.data import mix, stack_tasks
from keras_mtl.data.mixing import sampling_weights
from keras_mtl.input_paths import check_dataset

TASKS = [Task("a", num_classes=2), Task("b", num_classes=3), Task("c")]
SIZES = [100, 400, 1600]


def per_task(sizes=SIZES):
    out = {}
    for m, (task, n) in enumerate(zip(TASKS, sizes)):
        x = np.full((n, 2), m, "float32")
        y = np.arange(n) % 2 if task.num_classes else np.linspace(0, 1, n)
        out[task.name] = tf.data.Dataset.from_tensor_slices((x, {task.name: y}))
    return out


@pytest.mark.parametrize(
    "sampling, temperature, expected",
    [
        ("proportional", None, np.array(SIZES) / sum(SIZES)),
        ("uniform", None, np.full(3, 1 / 3)),
        ("temperature", 2.0, np.sqrt(SIZES) / np.sqrt(SIZES).sum()),
    ],
)
def test_task_shares_over_10000_examples(sampling, temperature, expected):
    stream = mix(
        per_task(), tasks=TASKS, sampling=sampling, temperature=temperature, seed=3
    )
    x, y = next(iter(stream.batch(10_000)))
    owner = x.numpy()[:, 0].astype(int)
    shares = np.bincount(owner, minlength=3) / len(owner)
    np.testing.assert_allclose(shares, expected, atol=0.02)
    # Each example: its own label, the missing value for the other tasks.
    np.testing.assert_array_equal(y["a"].numpy() >= 0, owner == 0)
    np.testing.assert_array_equal(y["b"].numpy() >= 0, owner == 1)
    np.testing.assert_array_equal(~np.isnan(y["c"].numpy()), owner == 2)


def test_stream_is_endless_and_seeded():
    first = mix(per_task([3, 2, 1]), tasks=TASKS, seed=7).take(50)
    again = mix(per_task([3, 2, 1]), tasks=TASKS, seed=7).take(50)
    a = [x.numpy()[0] for x, _ in first]
    assert len(a) == 50  # 6 examples, repeated
    assert a == [x.numpy()[0] for x, _ in again]


def test_weights_match_the_formulas():
    np.testing.assert_allclose(
        sampling_weights([1, 3], "temperature", temperature=1.0), [0.25, 0.75]
    )
    hot = sampling_weights([1, 100], "temperature", temperature=1e6)
    np.testing.assert_allclose(hot, [0.5, 0.5], atol=1e-4)


def test_task_id_and_sequence_labels_for_meta_lstm():
    tasks = [Task("tag", num_classes=3, sequence=True), Task("senti", num_classes=2)]
    tag = tf.data.Dataset.from_tensor_slices(([[3, 4, 0]], {"tag": [[1, 2, -1]]}))
    senti = tf.data.Dataset.from_tensor_slices(([[5, 6, 7]], {"senti": [1]}))
    stream = mix([tag, senti], tasks=tasks, sampling="uniform", seed=0, task_id=True)
    for x, y in stream.take(20).as_numpy_iterator():
        if x["task_id"] == 0:
            assert y["senti"] == -1 and list(y["tag"]) == [1, 2, -1]
        else:
            assert list(y["tag"]) == [-1, -1, -1] and y["senti"] == 1
    model = keras_mtl.models.meta_lstm(tasks, vocab_size=8, units=4, meta_units=2)
    check_dataset(model, stream.batch(4))  # what `fit` checks first


def test_bad_labels_in_a_mixed_stream_name_the_task():
    datasets = per_task([50, 50, 50])
    datasets["b"] = datasets["b"].map(lambda x, y: (x, {"b": y["b"] + 5}))
    stream = mix(datasets, tasks=TASKS, sampling="uniform", seed=0).batch(32)
    model = keras_mtl.models.hard_sharing(TASKS, input_shape=(2,), units=4)
    with pytest.raises(ValueError, match="'b'"):
        model.fit(stream, steps_per_epoch=1, epochs=1, verbose=0)


def test_stack_tasks_matches_mix_convention():
    x, y, ids = stack_tasks(
        [(np.zeros((2, 1)), np.array([1, 0])), (np.ones((1, 1)), np.array([0.5]))],
        [Task("a", num_classes=2), Task("c")],
    )
    assert y["a"].tolist() == [1, 0, -1] and y["a"].dtype == np.int32
    assert np.isnan(y["c"][:2]).all() and y["c"][2] == 0.5
    assert ids.tolist() == [0, 0, 1] and x.shape == (3, 1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sampling": "random"}, ValueError, "sampling"),
        ({"sampling": "temperature"}, ValueError, "temperature"),
        ({"sampling": "temperature", "temperature": -1.0}, ValueError, "temperature"),
        ({"temperature": 2.0}, ValueError, "temperature"),
        ({"sizes": [1, 2]}, ValueError, "sizes"),
        ({"tasks": "a"}, TypeError, "tasks"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        mix(per_task([2, 2, 2]), **{"tasks": TASKS, **kwargs})


def test_unknown_size_needs_sizes():
    datasets = {k: d.filter(lambda x, y: True) for k, d in per_task([2, 2, 2]).items()}
    with pytest.raises(ValueError, match="sizes"):
        mix(datasets, tasks=TASKS)
    mix(datasets, tasks=TASKS, sizes=[2, 2, 2])


def test_datasets_must_be_keyed_by_task():
    with pytest.raises(ValueError, match="datasets"):
        mix({"a": per_task()["a"]}, tasks=TASKS)
