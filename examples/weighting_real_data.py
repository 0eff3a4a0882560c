"""Every task-weighting strategy on real data, reported as LibMTL does (Δm).

Two hard-sharing setups, each against real single-task runs of the same
network (`single_task`: one independent encoder per task, trained on its own
task's loss only), with the same data, seed and number of steps:

- ``office_caltech``: Office-Caltech-10 (SURF features), the four domains
  (amazon, caltech, dslr, webcam) as four 10-class tasks; a
  `--fraction` of each domain is labelled for training, the rest is the test
  set (the split is drawn with the seed). Metric: test accuracy per domain.
  Model: a hard-sharing MLP (one shared hidden layer, a softmax head per
  domain).
- ``conll2000``: CoNLL-2000 POS tagging + chunking, a hard-sharing BiLSTM
  tagger (two shared layers, a softmax head per task). Metrics: POS token
  accuracy and chunk F1 (conlleval) on the test set (2,012 sentences). By
  default it trains on the first `--max-train-sentences` (2,048) training
  sentences for `--epochs` (1) epochs, every sentence padded/truncated to
  `--max-length` (60) tokens, also in the test set (a budget for a 2-core
  CPU; far from converged).

Δm of a multi-task run (LibMTL; Maninis et al., CVPR 2019), in percent:

    Δm = 100 / M · Σ_m (−1)^{l_m} (S_m − S_m^STL) / S_m^STL

with S_m the run's score on task m, S_m^STL the mean score of the single-task
runs (over the same seeds), and l_m = 0 for a higher-is-better metric (every
metric here), 1 otherwise: **positive Δm = better than single-task**.
Tables give mean ± sample standard deviation over the seeds.

Run (JAX is the fast backend on CPU):

    KERAS_BACKEND=jax python examples/weighting_real_data.py \\
        --dataset office_caltech --seeds 0 1 2 --json office.json
    KERAS_BACKEND=jax python examples/weighting_real_data.py \\
        --dataset conll2000 --seeds 0 1 2 --json conll.json
"""

import argparse
import json
import math
import statistics
import time

import numpy as np

from keras_mtl.weighting import STRATEGIES

try:
    from tabulate import tabulate
except ImportError:  # plain text instead
    tabulate = None

BASELINE = "single_task"


def delta_m(scores, reference, higher_is_better):
    """Δm in percent: the mean relative gain over the reference, per task.

    Args:
        scores: dict task → score of the multi-task run.
        reference: dict task → single-task score.
        higher_is_better: dict task → bool.
    """
    terms = []
    for name, value in scores.items():
        sign = 1.0 if higher_is_better[name] else -1.0
        terms.append(sign * (value - reference[name]) / reference[name])
    return 100.0 * float(np.mean(terms))


# -- Office-Caltech --------------------------------------------------------


def office_caltech_run(method, seed, args):
    """Per-domain test accuracy of one run (`method`: a strategy or BASELINE)."""
    from keras_mtl.data.office_caltech import office_caltech
    from keras_mtl.models import hard_sharing, single_task

    data = office_caltech(args.fraction, seed=seed)
    (x, y), (x_test, y_test) = data.arrays("train"), data.arrays("test")
    common = dict(
        input_shape=x.shape[1:],
        num_layers=1,
        units=args.units,
        dropout=args.dropout,
        learning_rate=args.learning_rate,
        seed=seed,
    )
    if method == BASELINE:
        model = single_task(data.tasks, **common)
    else:
        model = hard_sharing(data.tasks, weighting=method, **common)
    epochs = math.ceil(args.steps / math.ceil(len(x) / args.batch_size))
    model.fit(x, y, batch_size=args.batch_size, epochs=epochs, verbose=0)
    predictions = model.predict(x_test, batch_size=512, verbose=0)
    scores = {}
    for task in data.tasks:
        mine = y_test[task.name] >= 0
        predicted = predictions[task.name][mine].argmax(-1)
        scores[f"{task.name} acc"] = float(
            np.mean(predicted == y_test[task.name][mine])
        )
    return scores


# -- CoNLL-2000 ------------------------------------------------------------


_CONLL = {}


def conll2000_run(method, seed, args):
    """POS accuracy and chunk F1 of one run (`method`: a strategy or BASELINE).

    The BiLSTM recipe of `keras_mtl.experiment.train_conll2000` (embeddings
    32, 2 layers, Adam 1e-2, batch 32), on arrays padded to one length (one
    compiled step per backend instead of one per length bucket).
    """
    from keras_mtl.data import conll2000
    from keras_mtl.evaluation import chunk_f1, token_accuracy
    from keras_mtl.models import hard_sharing, single_task

    if "data" not in _CONLL:
        _CONLL["data"] = conll2000(
            max_length=args.max_length, max_train_sentences=args.max_train_sentences
        )
    data = _CONLL["data"]
    common = dict(
        vocab_size=data.vocab_size,
        embedding_dim=32,
        units=args.units,
        num_layers=2,
        learning_rate=1e-2,
        seed=seed,
    )
    if method == BASELINE:
        model = single_task(data.tasks, **common)
    else:
        model = hard_sharing(data.tasks, weighting=method, **common)
    model.fit(data.x_train, data.y_train, batch_size=32, epochs=args.epochs, verbose=0)
    predicted = model.predict(data.x_test, batch_size=256, verbose=0)
    predicted = {name: np.argmax(v, axis=-1) for name, v in predicted.items()}
    chunk = chunk_f1(
        data.decode_tags("chunk", data.y_test["chunk"], data.x_test),
        data.decode_tags("chunk", predicted["chunk"], data.x_test),
    )
    pos = token_accuracy(data.y_test["pos"], predicted["pos"])
    return {"pos acc": pos, "chunk F1": chunk}


RUNNERS = {"office_caltech": office_caltech_run, "conll2000": conll2000_run}
DEFAULTS = {
    "office_caltech": {"units": 64, "epochs": None},
    "conll2000": {"units": 64, "epochs": 1},
}


# -- report ----------------------------------------------------------------


def mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), spread


def summarize(records):
    """One row per method: Δm and every task metric, mean ± std over seeds."""
    reference = {}
    baseline = [r for r in records if r["method"] == BASELINE]
    metrics = list(records[0]["scores"])
    for metric in metrics:
        reference[metric] = statistics.mean(r["scores"][metric] for r in baseline)
    higher = {metric: True for metric in metrics}
    rows = []
    for method in dict.fromkeys(r["method"] for r in records):
        runs = [r for r in records if r["method"] == method]
        deltas = [delta_m(r["scores"], reference, higher) for r in runs]
        for r, value in zip(runs, deltas):
            r["delta_m"] = value
        mean, std = mean_std(deltas)
        row = {"method": method, "seeds": len(runs), "Δm %": f"{mean:+.2f} ± {std:.2f}"}
        row["_delta_m"] = mean
        for metric in metrics:
            m, s = mean_std([100 * r["scores"][metric] for r in runs])
            row[metric] = f"{m:.2f} ± {s:.2f}"
        row["s/run"] = round(statistics.mean(r["seconds"] for r in runs), 1)
        rows.append(row)
    return rows, reference


def print_table(rows):
    shown = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    if tabulate is not None:
        print(tabulate(shown, headers="keys", tablefmt="github"))
        return
    keys = list(shown[0])
    print(" | ".join(keys))
    for row in shown:
        print(" | ".join(str(row[k]) for k in keys))


def verdict(rows):
    """A sentence on whether any strategy beats `equal` (mean Δm)."""
    by_method = {row["method"]: row["_delta_m"] for row in rows}
    if "equal" not in by_method:
        return "No `equal` run: no comparison against equal weighting."
    better = [
        m
        for m, v in by_method.items()
        if m not in ("equal", BASELINE) and v > by_method["equal"]
    ]
    if not better:
        return "No strategy beats `equal` on mean Δm here."
    return "Strategies with a higher mean Δm than `equal`: " + ", ".join(
        f"{m} ({by_method[m]:+.2f})" for m in sorted(better, key=by_method.get)[::-1]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(RUNNERS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=list(STRATEGIES),
        help="strategy names (default: all); the single-task runs always come first",
    )
    parser.add_argument("--json", default=None, help="write the records here")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="CoNLL-2000 only")
    parser.add_argument("--max-train-sentences", type=int, default=2048)
    parser.add_argument(
        "--max-length", type=int, default=60, help="CoNLL-2000: pad/truncate to"
    )
    parser.add_argument("--fraction", type=float, default=0.2, help="Office only")
    parser.add_argument("--steps", type=int, default=300, help="Office only")
    parser.add_argument("--batch-size", type=int, default=32, help="Office only")
    parser.add_argument("--dropout", type=float, default=0.3, help="Office only")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Office")
    args = parser.parse_args(argv)
    for key, value in DEFAULTS[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = sorted(set(args.strategies) - set(STRATEGIES))
    if unknown:
        parser.error(f"unknown strategies {unknown}; expected among {list(STRATEGIES)}")
    run = RUNNERS[args.dataset]
    methods = [BASELINE] + [s for s in args.strategies if s != BASELINE]
    records, start = [], time.time()
    for method in methods:
        for seed in args.seeds:
            began = time.perf_counter()
            scores = run(method, seed, args)
            seconds = time.perf_counter() - began
            records.append(
                {"method": method, "seed": seed, "scores": scores, "seconds": seconds}
            )
            shown = "  ".join(f"{k} {100 * v:.2f}" for k, v in scores.items())
            print(
                f"{method:12s} seed {seed}: {shown}  ({seconds:.0f}s, "
                f"{time.time() - start:.0f}s total)",
                flush=True,
            )
            if args.json:  # keep what finished if the run is stopped
                _write(args, records, None)
    rows, reference = summarize(records)
    print()
    print_table(rows)
    print()
    print(verdict(rows))
    if args.json:
        _write(args, records, rows, reference)


def _write(args, records, rows, reference=None):
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    report = {"settings": settings, "records": records}
    if rows is not None:
        report["single_task_reference"] = reference
        report["summary"] = [
            {k: v for k, v in row.items() if not k.startswith("_")} for row in rows
        ]
        report["delta_m_formula"] = (
            "100/M * sum_m (S_m - S_m^STL) / S_m^STL (all metrics higher-is-better)"
        )
        report["verdict"] = verdict(rows)
    with open(args.json, "w") as handle:
        json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
