"""The keras_mtl benchmark suite: every builder against its plain baseline.

Runs each benchmark module (sharing, mrn, tree, meta_lstm, libmtl_peer) in
this process, prints one table and writes JSON records (see benchmarks/README.md):
a list of records, each with `model`, `baseline`, `backend`, `batch_size`,
`examples_per_s`, `baseline_examples_per_s` and `ratio`, both speeds
measured in the same run. A module that fails (or is unavailable) does not
stop the others: it gets a record with `error` (or `skipped`) and `ratio`
None.

    python benchmarks/run.py [--quick] [--output FILE.json] [--backend jax]
        [--batch-size 64] [--precision mixed_bfloat16] [--only sharing,tree]
"""

import argparse
import importlib
import json
import os
import platform
import sys
import traceback
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("sharing", "mrn", "tree", "meta_lstm", "libmtl_peer")
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# (model prefix, baseline prefix, target ratio): the suite's CPU targets.
TARGETS = (
    ("sluice", "single_task", 0.85),
    ("cross_stitch", "single_task", 0.85),
    ("mrn", "no prior", 0.85),
    ("tree_head", "dense_heads", 0.8),
    ("meta_lstm", "lstm", 0.5),
    ("keras_mtl", "libmtl", 1.0),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="minute-scale run")
    parser.add_argument("--output", default="benchmark_results.json")
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: each module's own"
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument(
        "--only", default=",".join(SUITES), help=f"comma list among {SUITES}"
    )
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.only) - set(SUITES))
    if unknown:
        parser.error(f"--only: unknown suite(s) {unknown}; expected among {SUITES}")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be a positive int")
    return args


def select_backend(backend):
    """Sets KERAS_BACKEND; it must happen before keras is first imported."""
    if backend is None:
        return
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise RuntimeError(
            f"keras is already imported with another backend; cannot use {backend!r}"
        )
    os.environ["KERAS_BACKEND"] = backend


def device_summary():
    """The accelerator (or CPU) the backend computes on, in words."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return str(jax.devices()[0].device_kind)
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return tf.config.experimental.get_device_details(gpus[0]).get(
                    "device_name", "GPU"
                )
    except Exception:  # a description only; never fail the run for it
        pass
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def device_peak_mb():
    """Peak device memory in MiB on a GPU, or None on CPU."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return None if peak is None else peak / 2**20
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    except Exception:
        pass
    return None


def target_of(rec):
    """The issue's target ratio for a record, or None."""
    model, baseline = str(rec.get("model")), str(rec.get("baseline"))
    for model_prefix, baseline_prefix, target in TARGETS:
        if model.startswith(model_prefix) and baseline.startswith(baseline_prefix):
            return target
    return None


def _failure(suite, batch_size, **why):
    import keras

    return {
        "model": suite,
        "baseline": None,
        "backend": keras.backend.backend(),
        "batch_size": batch_size,
        "examples_per_s": None,
        "baseline_examples_per_s": None,
        "ratio": None,
        **why,
    }


def run_suite(suite, quick, batch_size):
    """The records of one benchmark module (a failure becomes one record)."""
    import keras

    kwargs = {"quick": quick}
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    try:
        if suite == "libmtl_peer" and keras.backend.backend() != "torch":
            # libmtl_peer needs the torch backend: run it in a child process.
            from benchmarks.timing import records_from_child

            script = ROOT / "benchmarks" / "libmtl_peer.py"
            return records_from_child(script, "torch", quick, batch_size)
        module = importlib.import_module(f"benchmarks.{suite}")
        return module.run(**kwargs)
    except unittest.SkipTest as skip:
        print(f"[{suite}] skipped: {skip}", file=sys.stderr)
        return [_failure(suite, batch_size, skipped=str(skip))]
    except Exception as error:  # keep going: record it, run the next module
        traceback.print_exc()
        return [_failure(suite, batch_size, error=f"{type(error).__name__}: {error}")]
    finally:
        keras.backend.clear_session()


def table(records):
    from tabulate import tabulate

    def number(value, pattern):
        return "" if value is None else pattern.format(value)

    rows = []
    for r in records:
        target = target_of(r)
        met = "" if target is None or r["ratio"] is None else r["ratio"] >= target
        rows.append(
            (
                r["suite"],
                r["model"],
                r["baseline"] or r.get("error") or r.get("skipped", ""),
                r.get("setup", ""),
                r["backend"],
                r["batch_size"],
                number(r["examples_per_s"], "{:.0f}"),
                number(r["baseline_examples_per_s"], "{:.0f}"),
                number(r["ratio"], "{:.2f}"),
                number(target, "≥ {:.2f}"),
                met,
                number(r.get("inference_ratio"), "{:.2f}"),
                number(r.get("peak_rss_mb"), "{:.0f}"),
            )
        )
    headers = ["suite", "model", "baseline", "setup", "backend", "batch", "ex/s"]
    headers += ["baseline ex/s", "ratio", "target", "met", "infer ratio"]
    headers += ["peak RSS MiB"]
    return tabulate(rows, headers, tablefmt="github")


def main(argv=None):
    args = parse_args(argv)
    select_backend(args.backend)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import keras

    keras.mixed_precision.set_global_policy(args.precision)
    device = device_summary()
    records = []
    for suite in args.only:
        for rec in run_suite(suite, args.quick, args.batch_size):
            rec.setdefault("suite", suite)
            rec.update(precision=args.precision, device=device, quick=args.quick)
            rec["target"] = target_of(rec)
            rec["device_peak_mb"] = device_peak_mb()
            records.append(rec)
    print(f"backend={keras.backend.backend()} precision={args.precision} {device}")
    print(table(records))
    with open(args.output, "w") as handle:
        json.dump(records, handle, indent=2, default=float)
    print(f"wrote {args.output}")
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
