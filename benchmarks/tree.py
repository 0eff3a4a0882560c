"""Benchmark: TreeGroupedDense training throughput and the proximal step's cost.

Compares a `TreeGroupedDense` head with independent per-task Dense heads of
the same size on the same input (both linear heads on features), and times
the proximal step alone as the number of tasks grows.

    python -m benchmarks.tree [--quick] [--output tree.json]
"""

import time

import keras
import numpy as np
from tabulate import tabulate

from benchmarks.timing import (
    compare,
    parse_module_args,
    peak_rss_mb,
    record,
    records_table,
    schedule,
    write_json,
)
from keras_mtl.layers.tree_grouped_dense import TreeGroupedDense
from keras_mtl.layers.tree_prox import proximal_step
from keras_mtl.losses import MaskedLoss


def _data(num_tasks, batch_size, dim, units):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    task = rng.integers(num_tasks, size=batch_size)
    values = rng.normal(size=(batch_size, units)).astype("float32")
    y = {
        f"t{t}": np.where((task == t)[:, None], values, np.nan).astype("float32")
        for t in range(num_tasks)
    }
    return x, y


def _compile(inputs, outputs, names):
    model = keras.Model(inputs, dict(zip(names, outputs)))
    model.compile("adam", loss={n: MaskedLoss("mse", False) for n in names})
    return model


def tree_model(num_tasks, dim, units, **kwargs):
    inputs = keras.Input((dim,))
    outputs = TreeGroupedDense(units, num_tasks, **kwargs)(inputs)
    return _compile(inputs, outputs, [f"t{t}" for t in range(num_tasks)])


def dense_heads(num_tasks, dim, units):
    inputs = keras.Input((dim,))
    outputs = [keras.layers.Dense(units)(inputs) for _ in range(num_tasks)]
    return _compile(inputs, outputs, [f"t{t}" for t in range(num_tasks)])


def prox_seconds(num_tasks, params, repeats=5):
    values = keras.ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(3, num_tasks, params)).astype("float32")
    )
    proximal_step(values, [1e-4, 1e-3, 1e-2])
    start = time.perf_counter()
    for _ in range(repeats):
        keras.ops.convert_to_numpy(proximal_step(values, [1e-4, 1e-3, 1e-2]))
    return (time.perf_counter() - start) / repeats


def run(quick=False, batch_size=256):
    """Runs the benchmark; returns a list of records (benchmarks.timing.record)."""
    dim, units = 28, 8
    repeats, rounds = schedule(quick)
    records = []
    for num_tasks in (8,) if quick else (8, 32):
        x, y = _data(num_tasks, batch_size, dim, units)
        baseline = dense_heads(num_tasks, dim, units)
        for every in (1, 10):
            model = tree_model(num_tasks, dim, units, prox_every=every)
            timed = compare(model, baseline, x, y, batch_size, repeats, rounds)
            (speed, step, _), (base, base_step, _) = timed["model"], timed["baseline"]
            records.append(
                record(
                    f"tree_head(T={num_tasks},prox_every={every})",
                    f"dense_heads(T={num_tasks})",
                    batch_size,
                    speed,
                    base,
                    num_tasks=num_tasks,
                    step_ms=step * 1e3,
                    baseline_step_ms=base_step * 1e3,
                    peak_rss_mb=peak_rss_mb(),
                    prox_step_ms=prox_seconds(num_tasks, (dim + 1) * units) * 1e3,
                )
            )
    return records


def prox_scaling(quick=False, params=29):
    """Seconds of one proximal step (H=3, K=10) as the number of tasks grows."""
    tasks = (8, 139) if quick else (8, 32, 139, 278)
    return [(t, prox_seconds(t, params)) for t in tasks]


def main(argv=None):
    args = parse_module_args(__doc__, "tree_benchmark.json", 256, argv)
    records = run(args.quick, args.batch_size)
    prox = prox_scaling(args.quick)
    print(records_table(records))
    print(
        tabulate(
            [(t, f"{s * 1e3:.2f}") for t, s in prox],
            headers=["tasks (P=29, H=3, K=10)", "prox step ms"],
        )
    )
    prox_ms = {str(t): s * 1e3 for t, s in prox}
    write_json({"records": records, "prox_ms": prox_ms}, args.output)


if __name__ == "__main__":
    main()
