"""Helpers shared by every benchmark: median step time after warm-up, records,
their table, and the command line of a benchmark module."""

import argparse
import json
import resource
import statistics
import time

import keras
import numpy as np
from tabulate import tabulate


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


RECORD_COLUMNS = (
    ("model", "model", "{}"),
    ("baseline", "baseline", "{}"),
    ("setup", "setup", "{}"),
    ("backend", "backend", "{}"),
    ("batch", "batch_size", "{}"),
    ("train ex/s", "examples_per_s", "{:.0f}"),
    ("baseline ex/s", "baseline_examples_per_s", "{:.0f}"),
    ("ratio", "ratio", "{:.2f}"),
    ("infer ratio", "inference_ratio", "{:.2f}"),
    ("step ms", "step_ms", "{:.1f}"),
    ("peak RSS MiB", "peak_rss_mb", "{:.0f}"),
)


def records_table(records, extra_columns=()):
    """A GitHub-markdown table of records (any benchmark's).

    Args:
        records: list of dicts from `record`.
        extra_columns: `(header, key, format)` triples appended to
            `RECORD_COLUMNS`. A record without a key leaves its cell blank.
    """
    columns = RECORD_COLUMNS + tuple(extra_columns)
    rows = [[_cell(r.get(k), pattern) for _, k, pattern in columns] for r in records]
    return tabulate(rows, [header for header, _, _ in columns], tablefmt="github")


def _cell(value, pattern):
    return "" if value is None else pattern.format(value)


def parse_module_args(description, default_output, default_batch_size, argv=None):
    """The flags every benchmark module takes: `--quick`, `--batch-size`, `--output`."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-size", type=int, default=default_batch_size)
    parser.add_argument("--output", default=default_output)
    return parser.parse_args(argv)


def write_json(data, path):
    """Writes a benchmark's results and says where."""
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, default=float)
    print(f"wrote {path}")
