"""Meta-LSTM sentence read-out on FDU-MTL: `readout="mean"` against `"last"`.

Trains one multi-task Meta-LSTM on the 16 FDU-MTL domains per read-out and
seed, with every other setting identical, and prints the test accuracy
averaged over the 16 domains (mean ± std over seeds) and the paired
difference `last - mean`; every run, per domain, goes to the JSON file.

    KERAS_BACKEND=jax python examples/meta_lstm_readout.py --seeds 0 1 2 \
        [--epochs 2] [--max-length 100] [--vocab-size 10000]
"""

import argparse
import json
import statistics
import time

import keras
import numpy as np
from meta_lstm_fdu_mtl import add_budget_arguments  # examples/, beside this file

from keras_mtl.data.fdu_mtl import fdu_mtl
from keras_mtl.models.meta_lstm import meta_lstm

READOUTS = ("mean", "last")


def run(data, readout, seed, args):
    domains = [t.name for t in data.tasks]
    keras.utils.set_random_seed(seed)
    model = meta_lstm(
        data.tasks,
        vocab_size=data.vocab_size,
        embedding_dim=args.embedding_dim,
        units=args.units,
        meta_units=args.meta_units,
        meta_vector_dim=args.meta_vector_dim,
        readout=readout,
        learning_rate=args.learning_rate,
        seed=seed,
    )
    x, y = data.arrays("train")
    start = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    seconds = time.perf_counter() - start
    x_test, y_test = data.arrays("test")
    predictions = model.predict(x_test, batch_size=256, verbose=0)
    accuracy = {}
    for m, domain in enumerate(domains):
        rows = x_test["task_id"] == m
        guess = np.asarray(predictions[domain])[rows].argmax(-1)
        accuracy[domain] = 100 * float(np.mean(guess == y_test[domain][rows]))
    return {
        "readout": readout,
        "seed": seed,
        "average": float(np.mean(list(accuracy.values()))),
        "per_domain": accuracy,
        "train_seconds": round(seconds, 1),
    }


def mean_std(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readouts", nargs="+", default=READOUTS, choices=READOUTS)
    add_budget_arguments(parser)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--output", default=None, help="JSON file for the runs")
    args = parser.parse_args()
    data = fdu_mtl(max_length=args.max_length, vocab_size=args.vocab_size)
    domains = [t.name for t in data.tasks]
    print(f"FDU-MTL: {len(domains)} domains; {vars(args)}", flush=True)
    runs = []
    for seed in args.seeds:
        for readout in args.readouts:
            runs.append(run(data, readout, seed, args))
            print(
                json.dumps({k: v for k, v in runs[-1].items() if k != "per_domain"}),
                flush=True,
            )
            if args.output:  # after every run, so a cut-short job keeps its runs
                with open(args.output, "w") as f:
                    json.dump({"args": vars(args), "runs": runs}, f, indent=1)
    print()
    for readout in args.readouts:
        mine = [r for r in runs if r["readout"] == readout]
        average = mean_std([r["average"] for r in mine])
        seconds = statistics.mean(r["train_seconds"] for r in mine)
        print(
            f"readout={readout}: average accuracy {average} "
            f"({len(mine)} seeds, train {seconds:.0f} s)"
        )
        for domain in domains:
            print(f"  {domain:12s} {mean_std([r['per_domain'][domain] for r in mine])}")
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["readout"]] = r["average"]
    paired = [s["last"] - s["mean"] for s in by_seed.values() if len(s) == 2]
    if paired:
        print(f"last - mean (paired by seed): {mean_std(paired)} points")


if __name__ == "__main__":
    main()
