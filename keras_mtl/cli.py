"""`keras-mtl`: train the prebuilt models on the bundled data from the shell."""

import argparse
import json
import sys

from tabulate import tabulate

DATASETS = ("conll2000",)


def _train(args):
    from keras_mtl.experiment import train_conll2000

    result = train_conll2000(
        args.builder,
        epochs=args.epochs,
        units=args.units,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        max_train_sentences=args.max_train_sentences,
        verbose=args.verbose,
    )
    print(tabulate([result.row()], headers="keys", tablefmt="github"))
    if args.save:
        result.model.save(args.save)
        print(f"saved {args.save}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result.row(), handle, indent=2)
    return 0


def _bench(args):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    if not script.is_file():
        print(
            f"keras-mtl bench needs a source checkout: {script} not found",
            file=sys.stderr,
        )
        return 2
    # A child process: --backend must be set before keras is imported.
    command = [sys.executable, str(script), "--output", args.output]
    command += ["--precision", args.precision, "--only", args.only]
    command += ["--quick"] if args.quick else []
    command += ["--backend", args.backend] if args.backend else []
    command += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    return subprocess.call(command)


def _add_bench_parser(commands):
    bench = commands.add_parser(
        "bench",
        help="time every builder against its baseline (benchmarks/run.py)",
        description="Time every builder against its baseline in the same run "
        "(needs a source checkout: it runs benchmarks/run.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bench.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    bench.add_argument(
        "--output", default="benchmark_results.json", help="JSON file of records"
    )
    bench.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        help="Keras backend (default: $KERAS_BACKEND)",
    )
    bench.add_argument(
        "--batch-size", type=int, default=None, help="one batch size (default: all)"
    )
    bench.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="Keras dtype policy",
    )
    bench.add_argument(
        "--only",
        default="sharing,mrn,tree,meta_lstm,libmtl_peer",
        help="comma-separated benchmark modules",
    )
    bench.set_defaults(run=_bench)


def build_parser():
    from keras_mtl.experiment import TAGGING_BUILDERS

    parser = argparse.ArgumentParser(
        prog="keras-mtl", description="Multi-task models for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train a builder on a bundled dataset and score it",
        description="Train a builder on a bundled dataset, then print (and "
        "optionally save) its test scores.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument(
        "builder", choices=sorted(TAGGING_BUILDERS), help="the model builder"
    )
    train.add_argument(
        "--data",
        choices=DATASETS,
        default="conll2000",
        help="bundled dataset (POS tagging as auxiliary, chunking as main task)",
    )
    train.add_argument("--epochs", type=int, default=2, help="passes over the data")
    train.add_argument("--units", type=int, default=64, help="encoder layer width")
    train.add_argument(
        "--embedding-dim", type=int, default=32, help="word embedding width"
    )
    train.add_argument("--num-layers", type=int, default=2, help="encoder depth")
    train.add_argument("--batch-size", type=int, default=32, help="sentences a step")
    train.add_argument(
        "--learning-rate", type=float, default=1e-2, help="Adam learning rate"
    )
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the shuffling"
    )
    train.add_argument(
        "--max-train-sentences",
        type=int,
        default=None,
        help="train on the first N sentences only (all when not given)",
    )
    train.add_argument("--save", help="write the trained model to this .keras file")
    train.add_argument("--json", help="write the test scores to this JSON file")
    train.add_argument(
        "--verbose", type=int, default=1, help="Keras verbosity: 0, 1 or 2"
    )
    train.set_defaults(run=_train)
    from keras_mtl.tuning.cli import add_tune_parser

    add_tune_parser(commands)
    _add_bench_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
