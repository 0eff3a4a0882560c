"""Timing helpers shared by every benchmark: median step time after warm-up."""

import resource
import statistics
import time

import keras
import numpy as np


def _median_seconds(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _slice(data, batch_size):
    if isinstance(data, dict):
        return {k: _slice(v, batch_size) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_slice(v, batch_size) for v in data]
    return np.asarray(data)[:batch_size]


def training_examples_per_s(model, x, y, batch_size, warmup=3, repeats=10):
    """Training throughput of a compiled model: examples/s of `train_on_batch`."""
    xb, yb = _slice(x, batch_size), _slice(y, batch_size)
    seconds = _median_seconds(lambda: model.train_on_batch(xb, yb), warmup, repeats)
    return batch_size / seconds, seconds


def inference_examples_per_s(model, x, batch_size, warmup=3, repeats=10):
    """Inference throughput: examples/s of `predict_on_batch`."""
    xb = _slice(x, batch_size)
    seconds = _median_seconds(lambda: model.predict_on_batch(xb), warmup, repeats)
    return batch_size / seconds, seconds


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (host)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(
    model_name,
    baseline_name,
    batch_size,
    examples_per_s,
    baseline_examples_per_s,
    **extra,
):
    """One JSON record in the format of API.md (Benchmarks)."""
    return {
        "model": model_name,
        "baseline": baseline_name,
        "backend": keras.backend.backend(),
        "batch_size": batch_size,
        "examples_per_s": examples_per_s,
        "baseline_examples_per_s": baseline_examples_per_s,
        "ratio": examples_per_s / baseline_examples_per_s,
        **extra,
    }
