"""The main job (`make demo`): sluice networks vs baselines on CoNLL-2000.

Trains single-task, hard-sharing, cross-stitch and sluice BiLSTM taggers with
POS tagging as the auxiliary task and chunking as the main task, prints POS
accuracy and chunk F1 (conlleval) on the test set, and writes a heatmap of the
learned α matrices and β weights of the sluice network.

    python examples/sluice_conll2000.py [--epochs 2] [--seeds 0 1 2]
"""

import argparse
import json
import os
import statistics

from tabulate import tabulate

from keras_mtl.data import conll2000
from keras_mtl.experiment import train_conll2000
from keras_mtl.plotting import plot_sluice_weights

BUILDERS = ("single_task", "hard_sharing", "cross_stitch", "sluice")


def summarize(results):
    """One row per builder: mean (and spread over seeds) of each score."""
    rows = []
    for builder in BUILDERS:
        runs = [r for r in results if r.builder == builder]
        if not runs:
            continue
        row = {"builder": builder, "seeds": len(runs)}
        for label, key in (("POS acc", "pos_accuracy"), ("chunk F1", "chunk_f1")):
            values = [100 * getattr(r, key) for r in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            row[label] = f"{statistics.mean(values):.2f} ± {spread:.2f}"
        row["params"] = runs[0].parameters
        row["seconds"] = round(statistics.mean(r.seconds for r in runs), 1)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--builders", nargs="+", default=list(BUILDERS), choices=BUILDERS
    )
    parser.add_argument("--output-dir", default="runs/demo")
    args = parser.parse_args()
    os.makedirs(args.output_dir, exist_ok=True)
    data = conll2000()
    print(
        f"CoNLL-2000: {len(data.x_train)} train / {len(data.x_test)} test "
        f"sentences, vocabulary {data.vocab_size}"
    )
    results = []
    for seed in args.seeds:
        for builder in args.builders:
            result = train_conll2000(
                builder, epochs=args.epochs, units=args.units, seed=seed, data=data
            )
            print(tabulate([result.row()], tablefmt="plain"), flush=True)
            results.append(result)
            if builder == "sluice" and seed == args.seeds[0]:
                path = os.path.join(args.output_dir, "sluice_weights.png")
                plot_sluice_weights(result.model, path)
                print(f"wrote {path}")
    table = summarize(results)
    print()
    print(tabulate(table, headers="keys", tablefmt="github"))
    with open(os.path.join(args.output_dir, "results.json"), "w") as handle:
        json.dump([r.row() for r in results], handle, indent=2)


if __name__ == "__main__":
    main()
