"""Helpers shared by every benchmark: training and inference speeds, model vs
baseline alternating over rounds, records, their table, the command line of a
benchmark module, and running a module in a child process."""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import keras
import numpy as np
from tabulate import tabulate


def schedule(quick):
    """`(repeats, rounds)`: timed steps per measurement, alternating rounds."""
    return (20, 1) if quick else (30, 3)


def _median_seconds(step, warmup, repeats):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batches(data, batch_size, steps=1):
    """`steps` copies of the first `batch_size` rows, one after the other."""
    if isinstance(data, dict):
        return {k: _batches(v, batch_size, steps) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_batches(v, batch_size, steps) for v in data]
    return np.concatenate([np.asarray(data)[:batch_size]] * steps, axis=0)


def _fit_seconds(model, data, batch_size):
    start = time.perf_counter()
    model.fit(*data, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def training_examples_per_s(model, x, y, batch_size, warmup=3, repeats=10):
    """Training throughput of a compiled model, as `model.fit` trains it.

    One untimed `fit` of `warmup` steps compiles and warms up. Then fits of
    `warmup` steps and of `warmup + repeats` steps are timed, twice each;
    the difference of their fastest times over `repeats` is the time of one
    step inside an epoch, free of `fit`'s fixed cost per call (callbacks,
    data adapter, the end-of-epoch state sync: 2–50 ms depending on the
    backend). `train_on_batch` pays such costs every step, so it understates
    what `fit` achieves (about 2x on JAX at small steps).

    Returns:
        `(examples per second, seconds per step)`.
    """
    epochs = [
        (_batches(x, batch_size, steps), _batches(y, batch_size, steps))
        for steps in (warmup, warmup + repeats)
    ]
    _fit_seconds(model, epochs[0], batch_size)
    short, long = (
        min(_fit_seconds(model, data, batch_size) for _ in range(2)) for data in epochs
    )
    seconds = (long - short) / repeats
    if seconds <= 0:  # a burst of load during the short fits: bound it instead
        seconds = long / (warmup + repeats)
    return batch_size / seconds, seconds


def inference_examples_per_s(model, x, batch_size, warmup=3, repeats=10):
    """Inference throughput: examples/s of `predict_on_batch`."""
    xb = _batches(x, batch_size)
    seconds = _median_seconds(lambda: model.predict_on_batch(xb), warmup, repeats)
    return batch_size / seconds, seconds


def keras_speeds(model, x, y, batch_size, repeats):
    """`(training examples/s, seconds per training step, inference examples/s)`."""
    train, step = training_examples_per_s(model, x, y, batch_size, repeats=repeats)
    infer, _ = inference_examples_per_s(model, x, batch_size, repeats=repeats)
    return train, step, infer


def compare(model, baseline, x, y, batch_size, repeats=10, rounds=3):
    """Alternates timing of two models over `rounds`.

    Returns:
        `{"model": [...], "baseline": [...]}`, each the medians of
        `keras_speeds`: training examples/s, seconds per step, inference
        examples/s.
    """
    runs = {"model": [], "baseline": []}
    for _ in range(rounds):
        runs["model"].append(keras_speeds(model, x, y, batch_size, repeats))
        runs["baseline"].append(keras_speeds(baseline, x, y, batch_size, repeats))
    return {key: medians(values) for key, values in runs.items()}


def medians(runs):
    """Column-wise medians of equal-length tuples (one tuple per round)."""
    return [statistics.median(column) for column in zip(*runs)]


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
    """One JSON record in the documented benchmark format (benchmarks/README.md)."""
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


def parse_module_args(
    description, default_output, default_batch_size, argv=None, flags=()
):
    """The flags every benchmark module takes: `--quick`, `--batch-size`, `--output`,
    and the module's own on/off `flags`."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    for flag in ("--quick", *flags):
        parser.add_argument(flag, action="store_true")
    parser.add_argument("--batch-size", type=int, default=default_batch_size)
    parser.add_argument("--output", default=default_output)
    return parser.parse_args(argv)


def write_json(data, path):
    """Writes a benchmark's results and says where."""
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, default=float)
    print(f"wrote {path}")


SKIPPED = 77  # exit status of a benchmark module that cannot run here


def records_from_child(script, backend, quick, batch_size, flags=()):
    """Runs a benchmark module in a child process on `backend`; its JSON output.

    Raises:
        unittest.SkipTest: the module exited with `SKIPPED` (its last line of
            stderr says why).
        RuntimeError: it failed (with the tail of its stderr).
    """
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "records.json"
        command = [sys.executable, str(script), *flags, "--output", str(output)]
        command += ["--quick"] if quick else []
        command += ["--batch-size", str(batch_size)] if batch_size else []
        env = dict(os.environ, KERAS_BACKEND=backend)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode == SKIPPED:
            raise unittest.SkipTest(done.stderr.strip().splitlines()[-1])
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(script).name} on {backend} failed:\n{done.stderr[-2000:]}"
            )
        return json.loads(output.read_text())
