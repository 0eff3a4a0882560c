"""`keras-mtl`: train the prebuilt models on the bundled data from the shell."""

import argparse
import json
import sys

import numpy as np
from tabulate import tabulate

DATASETS = ("conll2000", "fdu_mtl", "office_caltech", "school")
BUILDERS = (
    "single_task",
    "hard_sharing",
    "low_supervision",
    "cross_stitch",
    "sluice",
    "meta_lstm",
    "mrn",
    "tree",
)


def load_data(args):
    """The `MultiTaskData` that `--data` (and its options) name."""
    from keras_mtl import data

    name, limit = args.data, args.max_examples
    if name == "conll2000":
        return data.conll2000(max_train_sentences=limit or args.max_train_sentences)
    if name == "fdu_mtl":
        from keras_mtl.data.fdu_mtl import DOMAINS

        domains = None if args.max_tasks is None else DOMAINS[: args.max_tasks]
        return data.fdu_mtl(domains, max_length=100, vocab_size=10_000)
    if name == "office_caltech":
        return data.office_caltech(seed=args.seed)
    if name == "school":
        return data.school(seed=args.seed)
    if args.columns:
        return data.user_files.column_files(name, args.test_data, columns=args.columns)
    if args.inputs and args.labels:
        return data.user_files.csv_table(
            name, inputs=args.inputs, labels=args.labels, test=args.test_data
        )
    raise ValueError(
        f"`--data` must be one of {DATASETS} or a file read with `--columns` "
        f"(CoNLL-style columns) or `--inputs`/`--labels` (CSV). Received: {name!r}"
    )


def first_tasks(data, count):
    """`data` with its first `count` tasks only (and their examples)."""
    from keras_mtl.data.multitask_data import MultiTaskData

    if count is None or count >= len(data.tasks):
        return data
    tasks = data.tasks[:count]
    splits, task_ids = {}, {}
    for split in data.split_names:
        x, y = data.arrays(split)
        if split in data.task_ids:
            rows = data.task_ids[split] < count
            x = {k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]
            y = {k: v[rows] for k, v in y.items()}
            task_ids[split] = data.task_ids[split][rows]
        splits[split] = (x, {t.name: y[t.name] for t in tasks})
    return MultiTaskData(
        tasks,
        splits,
        task_ids=task_ids,
        vocabulary=data.vocabulary,
        metadata=data.metadata,
    )


def _model_inputs(model, x):
    """`x` as the model takes it (the task ids only where it has that input)."""
    names = {t.name for t in model.inputs}
    if isinstance(x, dict) and "task_id" not in names:
        return x["tokens"]
    return x


def _token_backbone(data, args):
    """`mrn` and `tree` read token data through hard sharing's encoder."""
    import keras

    from keras_mtl.models import token_encoder

    x, _ = data.arrays("train")
    tokens = x["tokens"] if isinstance(x, dict) else x
    keras.utils.set_random_seed(args.seed)
    return token_encoder(
        data.vocab_size,
        tokens.shape[1],
        embedding_dim=args.embedding_dim,
        units=args.units,
    )


def _spread_subset(split, limit):
    """`limit` examples of `(x, y)` spread evenly over the split.

    Bundled splits are stored task by task (FDU-MTL, School), so the first
    `limit` rows would hold one task only: the others would not train and
    would score NaN.
    """
    x, y = split
    rows = len(next(iter(y.values())))
    if limit is None or limit >= rows:
        return x, y
    index = np.unique(np.linspace(0, rows - 1, limit).round().astype(int))
    cut = {k: v[index] for k, v in x.items()} if isinstance(x, dict) else x[index]
    return cut, {k: v[index] for k, v in y.items()}


def task_scores(model, data, limit=None):
    """dict task → {metric: value} on the test split."""
    x, y = _spread_subset(data.arrays("test"), limit)
    logs = model.evaluate(_model_inputs(model, x), y, verbose=0, return_dict=True)
    scores = {}
    for task in data.tasks:
        prefix = f"{task.name}_"
        scores[task.name] = {
            key[len(prefix) :]: round(float(value), 4)
            for key, value in logs.items()
            if key.startswith(prefix)
        }
    return scores


def _print_scores(scores, args, extra=None):
    rows = [{"task": t, **metrics} for t, metrics in scores.items()]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({**(extra or {}), "scores": scores}, handle, indent=2)


def _train_any(args):
    from keras_mtl import models

    data = first_tasks(load_data(args), args.max_tasks)
    kwargs = {"units": args.units, "seed": args.seed}
    if data.is_tokens and args.builder in ("mrn", "tree"):
        kwargs["backbone"] = _token_backbone(data, args)
    elif data.is_tokens:
        kwargs.update(vocab_size=data.vocab_size, embedding_dim=args.embedding_dim)
    else:
        kwargs["input_shape"] = data.arrays("train")[0].shape[1:]
    if args.builder == "low_supervision":
        kwargs["supervise_at"] = {data.tasks[0].name: 1}
    if args.builder not in ("meta_lstm", "mrn", "tree"):
        kwargs["num_layers"] = args.num_layers
    model = getattr(models, args.builder)(data.tasks, **kwargs)
    x, y = _spread_subset(data.arrays("train"), args.max_examples)
    model.fit(
        _model_inputs(model, x),
        y,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=args.verbose,
    )
    _print_scores(
        task_scores(model, data, args.max_examples),
        args,
        {"builder": args.builder, "data": args.data},
    )
    if args.save:
        model.save(args.save)
        print(f"saved {args.save}")
    return 0


def _evaluate(args):
    import keras

    import keras_mtl  # noqa: F401  (registers the custom objects)

    model = keras.saving.load_model(args.model)
    data = first_tasks(load_data(args), args.max_tasks)
    _print_scores(
        task_scores(model, data, args.max_examples), args, {"model": args.model}
    )
    return 0


def _train(args):
    from keras_mtl.experiment import TAGGING_BUILDERS, train_conll2000

    recipe = args.data == "conll2000" and args.max_tasks is None
    if not recipe or args.builder not in TAGGING_BUILDERS:
        return _train_any(args)

    result = train_conll2000(
        args.builder,
        epochs=args.epochs,
        units=args.units,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        max_train_sentences=args.max_examples or args.max_train_sentences,
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
            "keras-mtl bench needs a source checkout: the benchmarks/ folder is "
            f"not part of the installed package ({script} not found). Clone the "
            "repository, `pip install -e .` it and run `keras-mtl bench` there.",
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


def _add_data_arguments(parser):
    parser.add_argument(
        "--data",
        default="conll2000",
        help=f"a bundled dataset ({', '.join(DATASETS)}) or the path of your own "
        "training file (with --columns or --inputs/--labels)",
    )
    parser.add_argument(
        "--test-data", help="your own test file (default: hold out 20%% of --data)"
    )
    parser.add_argument(
        "--columns",
        help="CoNLL-style columns of --data, e.g. token,pos,chunk "
        "(`token` the words, `_` skipped, the rest tasks)",
    )
    parser.add_argument("--inputs", help="CSV feature columns, comma-separated")
    parser.add_argument("--labels", help="CSV label columns (tasks), comma-separated")
    parser.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="use N training (and N test) examples, spread evenly over the split",
    )
    parser.add_argument(
        "--max-tasks",
        type=int,
        default=None,
        help="keep the first N tasks only (and, for data where each example "
        "belongs to one task, their examples): quick runs",
    )
    parser.add_argument("--json", help="write the per-task test scores to this file")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-mtl", description="Multi-task models for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train a builder on a dataset and score it",
        description="Train a builder on a bundled dataset or your own files, then "
        "print (and optionally save) its per-task test scores.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("builder", choices=BUILDERS, help="the model builder")
    _add_data_arguments(train)
    train.add_argument("--epochs", type=int, default=2, help="passes over the data")
    train.add_argument("--units", type=int, default=64, help="encoder layer width")
    train.add_argument(
        "--embedding-dim", type=int, default=32, help="word embedding width"
    )
    train.add_argument("--num-layers", type=int, default=2, help="encoder depth")
    train.add_argument("--batch-size", type=int, default=32, help="examples a step")
    train.add_argument(
        "--learning-rate",
        type=float,
        default=1e-2,
        help="Adam learning rate (CoNLL-2000 recipe)",
    )
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the shuffling"
    )
    train.add_argument(
        "--max-train-sentences",
        type=int,
        default=None,
        help="CoNLL-2000: train on the first N sentences (as --max-examples)",
    )
    train.add_argument("--save", help="write the trained model to this .keras file")
    train.add_argument(
        "--verbose", type=int, default=1, help="Keras verbosity: 0, 1 or 2"
    )
    train.set_defaults(run=_train)
    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on a dataset's test split",
        description="Load a .keras model and print its per-task test scores.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    evaluate.add_argument("model", help="a .keras file saved by `keras-mtl train`")
    _add_data_arguments(evaluate)
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the dataset's split"
    )
    evaluate.add_argument(
        "--max-train-sentences", type=int, default=None, help="as --max-examples"
    )
    evaluate.set_defaults(run=_evaluate)
    from keras_mtl.tuning.cli import add_tune_parser

    add_tune_parser(commands)
    _add_bench_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"keras-mtl {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
