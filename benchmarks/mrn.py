"""MRN benchmark: the cost of the tensor-normal prior and its covariance updates.

1. Training examples/s of `mrn` (prior + flip-flop updates every 100 steps),
   and of `mrn(covariances="task")` (the released code's scheme: only the
   task covariance), against the same network without them
   (`prior_weight=0`, no update), with a small conv backbone on 32×32 images
   and on 800-d feature vectors; alternating over rounds.
   The baseline of `covariances="task"` has its layout (no task-specific
   hidden layer).
2. How the cost grows with input width D1, output width D2 and task count T:
   a lone `MultilinearPriorLayer` trained with an update at every step, and
   the eager time of one flip-flop update.

    KERAS_BACKEND=jax python -m benchmarks.mrn [--quick] [--features-only]
        [--output mrn.json]

`--features-only` runs only the builder comparison on 800-d feature vectors
(the Office-Caltech setting), and splits the default's cost into the prior
term alone (no refresh) and the refreshes alone (`prior_weight=0`); every
record's `ratio` is the model's training examples/s over its baseline's,
both measured in this run.
"""

import statistics
import time

import keras
import numpy as np

from benchmarks.timing import (
    compare,
    parse_module_args,
    peak_rss_mb,
    record,
    records_table,
    schedule,
    training_examples_per_s,
    write_json,
)
from keras_mtl.layers.multilinear_prior import (
    MultilinearPriorLayer,
    flip_flop,
    uses_feature_factors,
)
from keras_mtl.models.mrn import mrn
from keras_mtl.task import Task

NEVER = 10**9  # update_every that never fires within a benchmark


def _conv_backbone():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name="conv_backbone")


def _labels(tasks, n, rng):
    owner = np.arange(n) % len(tasks)
    labels = rng.integers(0, 10, size=n)
    return {
        t.name: np.where(owner == i, labels, -1).astype("int32")
        for i, t in enumerate(tasks)
    }


PRIORS = {
    "mrn": dict(update_every=100),
    "mrn(covariances=task)": dict(update_every=100, covariances="task"),
}
NO_PRIOR = dict(prior_weight=0.0, update_every=NEVER)
# With `--features-only`: the default's cost split into its two parts.
SPLIT = {
    "mrn prior term only (no refresh)": dict(update_every=NEVER),
    "mrn refreshes only (prior_weight=0)": dict(prior_weight=0.0, update_every=100),
}


def _builder_records(batch_size, repeats, rounds, features_only=False):
    rng = np.random.default_rng(0)
    tasks = [Task(f"task{i}", num_classes=10) for i in range(4)]
    settings = {
        "conv backbone 32x32": dict(
            x=rng.normal(size=(batch_size, 32, 32, 3)),
            kwargs=dict(backbone=_conv_backbone),
        ),
        "features 800-d": dict(
            x=rng.normal(size=(batch_size, 800)),
            kwargs=dict(input_shape=(800,), num_layers=0),
        ),
    }
    if features_only:
        settings = {"features 800-d": settings["features 800-d"]}
    records = []
    for setting, spec in settings.items():
        x = spec["x"].astype("float32")
        y = _labels(tasks, batch_size, rng)

        def build(prior):
            kwargs = dict(spec["kwargs"])
            if "backbone" in kwargs:
                kwargs["backbone"] = kwargs["backbone"]()
            return mrn(tasks, units=64, seed=0, **kwargs, **prior)

        # The baseline has the same layers: covariances="task" has no
        # task-specific hidden layer.
        baselines = {
            mode: build(dict(NO_PRIOR, covariances=mode)) for mode in ("all", "task")
        }
        priors = {**PRIORS, **SPLIT} if features_only else PRIORS
        for label, prior in priors.items():
            baseline = baselines[prior.get("covariances", "all")]
            timed = compare(build(prior), baseline, x, y, batch_size, repeats, rounds)
            (speed, step, _), (base, base_step, _) = timed["model"], timed["baseline"]
            records.append(
                record(
                    f"{label} ({setting})",
                    f"no prior/updates ({setting})",
                    batch_size,
                    speed,
                    base,
                    setting=setting,
                    update_every=100,
                    step_ms=step * 1e3,
                    baseline_step_ms=base_step * 1e3,
                    peak_rss_mb=peak_rss_mb(),
                )
            )
        keras.backend.clear_session()
    return records


def _lone_layer_model(d1, d2, tasks, **layer_kwargs):
    inputs = keras.Input((d1,))
    outputs = MultilinearPriorLayer(d2, tasks, name="prior", **layer_kwargs)(inputs)
    model = keras.Model(inputs, {f"t{i}": o for i, o in enumerate(outputs)})
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def _update_ms(layer, repeats=5):
    """Eager time of one flip-flop update as the layer runs it (factored Ω1
    when `2 · D2 · T < D1`)."""
    w = keras.ops.convert_to_tensor(layer.kernel)
    precisions = [keras.ops.eye(n) for n in w.shape]
    factored = uses_feature_factors(*w.shape)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        update = flip_flop(w, precisions, 1e-3, factored=factored)
        keras.ops.convert_to_numpy(update[-1])
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[1:])


def _growth_records(batch_size, quick, repeats):
    shapes = [
        (64, 64, 4),
        (256, 64, 4),
        (1024, 64, 4),
        (256, 16, 4),
        (256, 256, 4),
        (256, 64, 2),
        (256, 64, 8),
        (256, 64, 16),
    ]
    if quick:
        shapes = [(64, 16, 4), (256, 16, 4), (64, 64, 4), (64, 16, 8)]
    rng = np.random.default_rng(1)
    records = []
    for d1, d2, tasks in shapes:
        x = rng.normal(size=(batch_size, d1)).astype("float32")
        y = {
            f"t{i}": rng.normal(size=(batch_size, d2)).astype("float32")
            for i in range(tasks)
        }
        speeds = {}
        for label, kwargs in (
            ("every_step", dict(update_every=1)),
            ("prior_only", dict(update_every=NEVER)),
            ("plain", dict(prior_weight=0.0, update_every=NEVER)),
        ):
            model = _lone_layer_model(d1, d2, tasks, **kwargs)
            speeds[label], _ = training_examples_per_s(
                model, x, y, batch_size, repeats=repeats
            )
            if label == "every_step":
                update_ms = _update_ms(model.get_layer("prior"))
            keras.backend.clear_session()
        step_ms = {k: 1000 * batch_size / v for k, v in speeds.items()}
        records.append(
            record(
                f"MultilinearPriorLayer D1={d1} D2={d2} T={tasks} (update every step)",
                "same layer without prior/updates",
                batch_size,
                speeds["every_step"],
                speeds["plain"],
                d1=d1,
                d2=d2,
                tasks=tasks,
                prior_only_ratio=speeds["prior_only"] / speeds["plain"],
                step_ms=step_ms["every_step"],
                prior_only_step_ms=step_ms["prior_only"],
                plain_step_ms=step_ms["plain"],
                eager_update_ms=update_ms,
            )
        )
    return records


def run(quick=False, batch_size=64, features_only=False):
    """Runs the benchmark; returns a list of `benchmarks.timing.record` dicts.

    `features_only` runs only the builder comparison on 800-d features (at
    full length even with `quick`).
    """
    repeats, rounds = schedule(quick)
    if features_only:
        return _builder_records(batch_size, *schedule(False), features_only=True)
    records = []
    if not quick:
        records += _builder_records(batch_size, repeats, rounds)
    records += _growth_records(batch_size, quick, repeats)
    return records


EXTRA_COLUMNS = (
    ("prior-only ratio", "prior_only_ratio", "{:.2f}"),
    ("one update (ms, eager)", "eager_update_ms", "{:.1f}"),
)


def main(argv=None):
    args = parse_module_args(
        __doc__, "mrn_benchmark.json", 64, argv, flags=("--features-only",)
    )
    records = run(
        quick=args.quick, batch_size=args.batch_size, features_only=args.features_only
    )
    print(records_table(records, EXTRA_COLUMNS))
    write_json(records, args.output)


if __name__ == "__main__":
    main()
