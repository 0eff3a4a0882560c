"""Benchmark: the cost of the sharing machinery of sluice and cross-stitch.

Times `sluice` and `cross_stitch` against `single_task` of equal widths (the
same per-task stacks without α/β units or the orthogonality penalty), and
`hard_sharing` for users choosing between models. Each pair is measured in
the same process, alternating model and baseline over several rounds, so
the ratio is robust to a machine shared with other work.

    KERAS_BACKEND=jax python -m benchmarks.sharing [--quick] [--output sharing.json]
"""

import numpy as np

from benchmarks.timing import (
    compare,
    parse_module_args,
    peak_rss_mb,
    record,
    records_table,
    schedule,
    write_json,
)
from keras_mtl.models.baselines import hard_sharing, single_task
from keras_mtl.models.sluice import cross_stitch, sluice
from keras_mtl.task import Task

BASELINE = "single_task"
CANDIDATES = {
    "sluice": lambda tasks, **kw: sluice(tasks, **kw),
    "sluice(orthogonality_weight=0)": lambda tasks, **kw: sluice(
        tasks, orthogonality_weight=0.0, **kw
    ),
    "cross_stitch": lambda tasks, **kw: cross_stitch(tasks, **kw),
    "hard_sharing": lambda tasks, **kw: hard_sharing(tasks, **kw),
}


def setups(quick=False):
    """The shapes timed: name → (builder kwargs, task list, data maker)."""
    mlp_tasks = [Task(f"task{i}", num_classes=10) for i in range(4 if not quick else 2)]
    tag_tasks = [
        Task("pos", num_classes=45, sequence=True),
        Task("chunk", num_classes=23, sequence=True),
    ]
    width = 32 if quick else 256
    mlp = dict(input_shape=(64,), units=width, num_layers=3, seed=0)
    tagger = dict(
        vocab_size=2000,
        embedding_dim=16 if quick else 64,
        units=16 if quick else 64,
        num_layers=2 if quick else 3,
        seed=0,
    )
    length = 8 if quick else 30
    shapes = {
        f"mlp(T={len(mlp_tasks)},units={width},layers=3)": (
            mlp,
            mlp_tasks,
            lambda n: _features(mlp_tasks, n, 64),
        ),
        f"bilstm_tagger(T=2,units={tagger['units']},len={length})": (
            tagger,
            tag_tasks,
            lambda n: _tokens(tag_tasks, n, length, tagger["vocab_size"]),
        ),
    }
    # --quick: the feature-vector setup only (LSTM compiles take minutes here).
    return dict(list(shapes.items())[:1]) if quick else shapes


def _features(tasks, n, dim):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dim)).astype("float32")
    y = {t.name: rng.integers(0, t.num_classes, size=n).astype("int32") for t in tasks}
    return x, y


def _tokens(tasks, n, length, vocab):
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, size=(n, length)).astype("int32")
    y = {
        t.name: rng.integers(0, t.num_classes, size=(n, length)).astype("int32")
        for t in tasks
    }
    return x, y


def run(quick=False, batch_size=64, names=None):
    """Runs the benchmark; returns a list of records (benchmarks.timing.record)."""
    repeats, rounds = schedule(quick)
    records = []
    for setup, (kwargs, tasks, make_data) in setups(quick).items():
        x, y = make_data(batch_size)
        baseline = single_task(tasks, **kwargs)
        for name, build in CANDIDATES.items():
            if (names is not None and name not in names) or (quick and "(" in name):
                continue
            model = build(tasks, **kwargs)
            timed = compare(model, baseline, x, y, batch_size, repeats, rounds)
            (train, step, infer), (base, base_step, base_infer) = (
                timed["model"],
                timed["baseline"],
            )
            records.append(
                record(
                    name,
                    BASELINE,
                    batch_size,
                    train,
                    base,
                    setup=setup,
                    step_ms=step * 1e3,
                    baseline_step_ms=base_step * 1e3,
                    inference_examples_per_s=infer,
                    baseline_inference_examples_per_s=base_infer,
                    inference_ratio=infer / base_infer,
                    params=model.count_params(),
                    baseline_params=baseline.count_params(),
                    peak_rss_mb=peak_rss_mb(),
                )
            )
    return records


def main(argv=None):
    args = parse_module_args(__doc__, "sharing_benchmark.json", 64, argv)
    records = run(args.quick, args.batch_size)
    print(records_table(records))
    write_json(records, args.output)


if __name__ == "__main__":
    main()
