"""Data-parallel training on two virtual CPU devices equals one-device training.

The two devices must be configured before the backend starts (JAX reads
`XLA_FLAGS` at import; TensorFlow fixes its logical devices at first use), so
the comparison runs in a child process of the current backend.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_mtl.distribution import data_parallel, list_devices

BACKEND = keras.backend.backend()
ROOT = Path(__file__).resolve().parent.parent
BUILDERS = (
    "hard_sharing",
    "single_task",
    "low_supervision",
    "sluice",
    "cross_stitch",
    "mrn",
    "tree",
    "meta_lstm",
    "meta_lstm_task_ids",
)
needs_distribution = pytest.mark.skipif(
    BACKEND not in ("jax", "tensorflow"),
    reason="data_parallel() covers the jax and tensorflow backends",
)

CHILD = r"""
import json, os, sys
import numpy as np
if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_mtl.distribution import data_parallel, list_devices
from keras_mtl.models import baselines
from keras_mtl.models.sluice import cross_stitch, sluice
from keras_mtl.models.meta_lstm import meta_lstm
from keras_mtl.models.mrn import mrn
from keras_mtl.models.tree import tree
from keras_mtl.task import Task

rng = np.random.default_rng(0)
tasks = [Task("a", 3), Task("b")]
x = rng.normal(size=(8, 6)).astype("float32")
y = {"a": rng.integers(0, 3, 8).astype("int32"),
     "b": rng.normal(size=8).astype("float32"),
     "c": rng.normal(size=8).astype("float32")}
tokens = rng.integers(1, 20, size=(8, 5)).astype("int32")
small = dict(input_shape=(6,), units=4, num_layers=2, seed=0)
BUILD = {
    "hard_sharing": lambda: baselines.hard_sharing(tasks, **small),
    "single_task": lambda: baselines.single_task(tasks, **small),
    "low_supervision": lambda: baselines.low_supervision(
        tasks, supervise_at={"a": 1}, **small),
    "sluice": lambda: sluice(tasks, **small),
    "cross_stitch": lambda: cross_stitch(tasks, **small),
    "mrn": lambda: mrn(tasks, update_every=1, **small),
    "tree": lambda: tree([Task("b"), Task("c")], **small),
    "meta_lstm": lambda: meta_lstm([Task("a", 3)], vocab_size=20, units=4,
                                   meta_units=2, embedding_dim=4, seed=0),
    # Batches of one task: the step branches on JAX, not in a TF strategy.
    "meta_lstm_task_ids": lambda: meta_lstm(tasks, vocab_size=20, units=4,
                                            meta_units=2, embedding_dim=4, seed=0),
}

def train(build, inputs, labels, weights=None):
    model = build()
    if weights is not None:
        model.set_weights(weights)
    start = model.get_weights()
    model.fit(inputs, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return start, model.get_weights()

out = {"devices": len(list_devices("cpu"))}
for name in sys.argv[1:]:
    inputs, labels = x, {"a": y["a"], "b": y["b"]}
    if name == "meta_lstm":
        inputs, labels = tokens, {"a": y["a"]}
    if name == "meta_lstm_task_ids":
        inputs = {"tokens": tokens, "task_id": np.zeros(8, "int32")}
        labels = {"a": y["a"], "b": np.full(8, np.nan, "float32")}
    if name == "tree":
        labels = {"b": y["b"], "c": y["c"]}
    start, single = train(BUILD[name], inputs, labels)
    with data_parallel(num_devices=2):
        _, parallel = train(BUILD[name], inputs, labels, start)
    out[name] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                    for a, b in zip(single, parallel))
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def parallel_differences():
    env = dict(os.environ, KERAS_BACKEND=BACKEND, PYTHONPATH=str(ROOT))
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *BUILDERS],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = [s for s in done.stdout.splitlines() if s.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


@needs_distribution
def test_two_virtual_devices_are_visible(parallel_differences):
    assert parallel_differences["devices"] == 2


@needs_distribution
@pytest.mark.parametrize("builder", BUILDERS)
def test_data_parallel_training_equals_single_device(parallel_differences, builder):
    # Two epochs of one global batch of 8, split 4 + 4 over the two devices.
    assert parallel_differences[builder] < 1e-4


@needs_distribution
def test_data_parallel_yields_the_backend_mechanism():
    with data_parallel() as distribution:
        if BACKEND == "jax":
            assert isinstance(distribution, keras.distribution.DataParallel)
            assert keras.distribution.distribution() is distribution
        else:
            import tensorflow as tf

            assert isinstance(distribution, tf.distribute.MirroredStrategy)
            assert tf.distribute.get_strategy() is distribution
    if BACKEND == "jax":
        assert keras.distribution.distribution() is None


@needs_distribution
def test_too_many_devices_names_the_argument():
    with pytest.raises(ValueError, match="num_devices"):
        with data_parallel(num_devices=len(list_devices()) + 1):
            pass


@needs_distribution
def test_no_devices_is_rejected():
    with pytest.raises(ValueError, match="devices"):
        with data_parallel(devices=[]):
            pass


@pytest.mark.skipif(BACKEND != "torch", reason="torch only")
def test_torch_backend_says_what_to_use_instead():
    with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
        with data_parallel():
            pass
    with pytest.raises(NotImplementedError):
        list_devices()


def test_single_device_result_is_deterministic():
    # The reference of the comparison above: seeded builders repeat exactly.
    from keras_mtl.models.baselines import hard_sharing
    from keras_mtl.task import Task

    tasks = [Task("a", 3), Task("b")]
    weights = [
        hard_sharing(tasks, input_shape=(6,), units=4, seed=0).get_weights()
        for _ in range(2)
    ]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
