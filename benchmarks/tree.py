"""Benchmark: TreeGroupedDense training throughput and the proximal step's cost.

Compares a `TreeGroupedDense` head with independent per-task Dense heads of
the same size on the same input (both linear heads on features), and times
the proximal step alone as the number of tasks grows.

    python -m benchmarks.tree [--quick] [--output tree.json]
"""

import contextlib
import math
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
from keras_mtl.layers import tree_prox
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


def compiled(function):
    """`function` compiled as a training step runs it: `jax.jit` on JAX,
    `tf.function` on TensorFlow, eager on torch."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(function)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    return function


def labels_by_squaring(adjacency):
    """Components by ⌈log₂ T⌉ boolean matrix squarings (the step until
    2026-12-02), labelled by their smallest member like `component_labels`."""
    reach = adjacency
    for _ in range(max(1, math.ceil(math.log2(max(adjacency.shape[-1], 2))))):
        reach = keras.ops.cast(keras.ops.matmul(reach, reach) > 0, reach.dtype)
    return keras.ops.argmax(reach, axis=-1)


@contextlib.contextmanager
def previous_prox():
    """Swaps in the three pieces the proximal step had until 2026-12-02 (a
    pivoted LU solve, components by matrix squarings, no row-space
    reduction): the same-run baseline of the prox timing. The output is the
    same up to float rounding."""
    pieces = ("spd_solve", "component_labels", "row_space")
    saved = {name: getattr(tree_prox, name) for name in pieces}
    tree_prox.spd_solve = keras.ops.linalg.solve
    tree_prox.component_labels = labels_by_squaring
    tree_prox.row_space = lambda v: (v, None)
    try:
        yield
    finally:
        for name, piece in saved.items():
            setattr(tree_prox, name, piece)


def prox_seconds(num_tasks, params, repeats=10):
    """Median seconds of one compiled proximal step (H = 3, K = 10)."""
    values = keras.ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(3, num_tasks, params)).astype("float32")
    )
    step = compiled(lambda v: proximal_step(v, [1e-4, 1e-3, 1e-2]))
    keras.ops.convert_to_numpy(step(values))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(step(values))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


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
                    previous_prox_step_ms=previous_prox_seconds(
                        num_tasks, (dim + 1) * units
                    )
                    * 1e3,
                )
            )
    return records


def previous_prox_seconds(num_tasks, params):
    """`prox_seconds` with the pieces of `previous_prox`."""
    with previous_prox():
        return prox_seconds(num_tasks, params)


def prox_scaling(quick=False, params=29):
    """`(tasks, seconds, seconds before 2026-12-02)` of one proximal step as
    the number of tasks grows, both measured in this run."""
    rows = []
    for num_tasks in (8, 139) if quick else (8, 32, 139, 278):
        before = previous_prox_seconds(num_tasks, params)
        rows.append((num_tasks, prox_seconds(num_tasks, params), before))
    return rows


def main(argv=None):
    args = parse_module_args(__doc__, "tree_benchmark.json", 256, argv)
    records = run(args.quick, args.batch_size)
    prox = prox_scaling(args.quick)
    prox_columns = (
        ("prox ms", "prox_step_ms", "{:.2f}"),
        ("previous prox ms", "previous_prox_step_ms", "{:.2f}"),
    )
    print(records_table(records, prox_columns))
    print(
        tabulate(
            [
                (t, f"{now * 1e3:.2f}", f"{before * 1e3:.2f}", f"{before / now:.1f}")
                for t, now, before in prox
            ],
            headers=["tasks (P=29, H=3, K=10)", "prox step ms", "previous ms", "x"],
        )
    )
    prox_ms = {
        str(t): {"now": now * 1e3, "previous": before * 1e3} for t, now, before in prox
    }
    write_json({"records": records, "prox_ms": prox_ms}, args.output)


if __name__ == "__main__":
    main()
