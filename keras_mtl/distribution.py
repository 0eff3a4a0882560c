"""Data-parallel training of any builder, one context for JAX and TensorFlow.

Keras 3 offers data parallelism through two different APIs depending on the
backend: `keras.distribution.DataParallel` on JAX and
`tf.distribute.MirroredStrategy` on TensorFlow. `data_parallel()` picks the
right one, so the same code builds and trains a replicated model on either:

>>> from keras_mtl.distribution import data_parallel
>>> x = np.random.default_rng(0).normal(size=(64, 16)).astype("float32")
>>> y = {"a": np.arange(64) % 3, "b": x[:, 0]}
>>> with data_parallel():  # every local device (here maybe just one)
...     model = keras_mtl.models.sluice([Task("a", 3), Task("b")], input_shape=(16,))
...     history = model.fit(x, y, batch_size=64, verbose=0)  # the global batch

Build (and compile) the model inside the context: every builder compiles, and
on TensorFlow the variables and the optimizer must be made under the
strategy. On JAX the distribution must also be active while `fit` runs.
On TensorFlow with CPU devices only, gradients are reduced on one device
(`tf.distribute.ReductionToOneDevice`): the default collective all-reduce
failed with mismatched shapes on logical CPU devices.
"""

import contextlib

import keras

from keras_mtl.arguments import check_int


def list_devices(device_type=None):
    """The devices data-parallel training can use on the current backend.

    Args:
        device_type: `"cpu"`, `"gpu"`, `"tpu"` or None (the backend's default
            accelerator kind, else CPU).

    Returns:
        list of device names as the backend spells them (`"cpu:0"` on JAX,
        `"/device:CPU:0"` on TensorFlow).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return keras.distribution.list_devices(device_type)
    if backend == "tensorflow":
        import tensorflow as tf

        kinds = [device_type.upper()] if device_type else ["GPU", "TPU", "CPU"]
        for kind in kinds:
            devices = tf.config.list_logical_devices(kind)
            if devices:
                return [d.name for d in devices]
        return []
    raise _unsupported(backend)


def _unsupported(backend):
    return NotImplementedError(
        f"data_parallel() supports the 'jax' and 'tensorflow' backends; the "
        f"current backend is {backend!r}. On torch, wrap the training loop in "
        "torch.nn.parallel.DistributedDataParallel yourself."
    )


@contextlib.contextmanager
def data_parallel(devices=None, num_devices=None):
    """A context in which models are built and trained data-parallel.

    Every variable is replicated on each device; each training step splits
    the global batch over the devices and averages the gradients, so one step
    equals a single-device step on the whole batch (up to float rounding).

    Args:
        devices: list of device names (see `list_devices`), or None for all.
        num_devices: int or None. Use the first `num_devices` of `devices`.

    Yields:
        The backend's distribution object: a `keras.distribution.DataParallel`
        on JAX, a `tf.distribute.MirroredStrategy` on TensorFlow.

    Raises:
        NotImplementedError: on the torch backend.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    >>> y = {"a": np.arange(64) % 3, "b": x[:, 0]}
    >>> with data_parallel(num_devices=1) as distribution:
    ...     model = keras_mtl.models.hard_sharing(
    ...         [Task("a", 3), Task("b")], input_shape=(8,))
    ...     history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    """
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        raise _unsupported(backend)
    devices = list(devices) if devices is not None else list_devices()
    if num_devices is not None:
        check_int(num_devices, "num_devices")
        if num_devices > len(devices):
            raise ValueError(
                f"`num_devices`={num_devices} exceeds the {len(devices)} devices "
                f"available: {devices}"
            )
        devices = devices[:num_devices]
    if not devices:
        raise ValueError("`devices` must name at least one device.")
    if backend == "jax":
        distribution = keras.distribution.DataParallel(devices=devices)
        with distribution.scope():
            yield distribution
        return
    import tensorflow as tf

    # NCCL/collective all-reduce needs GPUs; CPU replicas reduce on one device.
    on_cpu = all("CPU" in str(d).upper() for d in devices)
    reduce = tf.distribute.ReductionToOneDevice() if on_cpu else None
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=reduce)
    with strategy.scope():
        yield strategy
