"""Benchmark: the per-step cost of every task-weighting strategy.

Times one `model.fit` step of a hard-sharing MLP with 4 tasks trained with
each strategy of `keras_mtl.weighting` against the same model trained with
`"equal"`, alternating the two over rounds in the same process (ratios
robust to a shared machine). `ratio` is examples/s against `equal` (below
1: slower); `step_ratio` = 1 / ratio, the cost of a step in `equal` steps.
Targets (issue): loss-based strategies within 10 % of `equal`
(`step_ratio <= 1.1`), gradient-based ones at most (M + 1)× (`<= 5` here).
Every gradient-based strategy is timed twice: with per-task gradients of
the shared parameters (the default) and with `rep_grad=True` (per-task
gradients of the shared representation, one backward pass through the
shared layers); the records carry `rep_grad`, and the summary line states
the `rep_grad` figure (its mean `step_ratio` against the default's).

    KERAS_BACKEND=jax python -m benchmarks.weighting [--quick] [--output weighting.json]
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
from keras_mtl.models.hard_sharing import HardSharingNetwork
from keras_mtl.task import Task
from keras_mtl.weighting import STRATEGIES, get

NUM_TASKS = 4


WeightedHardSharing = HardSharingNetwork  # every model takes `weighting=`


def _data(tasks, n, features, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = {t.name: rng.integers(0, t.num_classes, size=n) for t in tasks}
    for labels in y.values():  # a quarter of the labels missing per task
        labels[rng.random(n) < 0.25] = -1
    return x, y


def _model(tasks, weighting, width, features):
    model = WeightedHardSharing(
        tasks, input_shape=(features,), units=width, num_layers=3, seed=0
    )
    model.compile(weighting=weighting)
    return model


def _variants(strategies):
    """(label, strategy) pairs: each strategy, then each gradient-based one
    again with `rep_grad=True`."""
    names = strategies or [s for s in STRATEGIES if s != "equal"]
    pairs = [(f"weighting={name}", get(name)) for name in names]
    for name in names:
        strategy = get(name)
        if strategy.needs_gradients:
            config = {**strategy.get_config(), "rep_grad": True}
            pairs.append((f"weighting={name}(rep_grad)", type(strategy)(**config)))
    return pairs


def run(quick=False, batch_size=64, strategies=None):
    """Records of every strategy (or those named) against `equal`."""
    repeats, rounds = schedule(quick)
    width, features = (32, 16) if quick else (256, 64)
    tasks = [Task(f"task{i}", num_classes=10) for i in range(NUM_TASKS)]
    x, y = _data(tasks, batch_size, features)
    setup = f"mlp(T={NUM_TASKS},units={width},layers=3)"
    records = []
    for label, strategy in _variants(strategies):
        model = _model(tasks, strategy, width, features)
        baseline = _model(tasks, "equal", width, features)
        speeds = compare(model, baseline, x, y, batch_size, repeats, rounds)
        train, step, _ = speeds["model"]
        base_train, base_step, _ = speeds["baseline"]
        gradient_based = model.weighting.needs_gradients
        records.append(
            record(
                label,
                "weighting=equal",
                batch_size,
                train,
                base_train,
                setup=setup,
                step_ms=1000 * step,
                baseline_step_ms=1000 * base_step,
                step_ratio=base_train / train,
                kind="gradient" if gradient_based else "loss",
                rep_grad=bool(getattr(strategy, "rep_grad", False)),
                target_step_ratio=NUM_TASKS + 1.0 if gradient_based else 1.1,
                peak_rss_mb=peak_rss_mb(),
            )
        )
    plain = {r["model"]: r["step_ratio"] for r in records if not r["rep_grad"]}
    for r in records:
        if r["rep_grad"]:
            default = plain.get(r["model"].replace("(rep_grad)", ""))
            if default:  # the rep_grad step in steps of the default's
                r["step_ratio_vs_parameter_gradients"] = r["step_ratio"] / default
    return records


def main(argv=None):
    args = parse_module_args(__doc__, "weighting.json", 64, argv)
    records = run(quick=args.quick, batch_size=args.batch_size)
    print(
        records_table(
            records,
            [
                ("step ratio", "step_ratio", "{:.2f}"),
                ("target ≤", "target_step_ratio", "{:.1f}"),
            ],
        )
    )
    print(rep_grad_summary(records))
    write_json(records, args.output)


def rep_grad_summary(records):
    """The `rep_grad` figure: mean step ratios of the gradient strategies."""
    gradient = [r for r in records if r["kind"] == "gradient"]
    by_mode = {
        mode: [r["step_ratio"] for r in gradient if r["rep_grad"] is mode]
        for mode in (False, True)
    }
    if not by_mode[True] or not by_mode[False]:
        return "No gradient-based strategy timed with and without rep_grad."
    plain, rep = (float(np.mean(by_mode[mode])) for mode in (False, True))
    return (
        f"Gradient-based strategies, mean step ratio vs equal: {plain:.2f}x with "
        f"shared-parameter gradients, {rep:.2f}x with rep_grad=True "
        f"(max {max(by_mode[True]):.2f}x)."
    )


if __name__ == "__main__":
    main()
