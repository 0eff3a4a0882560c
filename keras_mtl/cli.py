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
        "bench", help="time every builder against its baseline (benchmarks/run.py)"
    )
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--output", default="benchmark_results.json")
    bench.add_argument("--backend", choices=("tensorflow", "jax", "torch"))
    bench.add_argument("--batch-size", type=int, default=None)
    bench.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
    )
    bench.add_argument("--only", default="sharing,mrn,tree,meta_lstm,libmtl_peer")
    bench.set_defaults(run=_bench)


def build_parser():
    from keras_mtl.experiment import TAGGING_BUILDERS

    parser = argparse.ArgumentParser(
        prog="keras-mtl", description="Multi-task models for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train a builder on a bundled dataset and score it"
    )
    train.add_argument("builder", choices=sorted(TAGGING_BUILDERS))
    train.add_argument("--data", choices=DATASETS, default="conll2000")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--units", type=int, default=64)
    train.add_argument("--embedding-dim", type=int, default=32)
    train.add_argument("--num-layers", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-2)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-train-sentences", type=int, default=None)
    train.add_argument("--save", help="write the trained model to this .keras file")
    train.add_argument("--json", help="write the scores to this JSON file")
    train.add_argument("--verbose", type=int, default=1)
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
