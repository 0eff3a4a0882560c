"""`keras-mtl tune`: a KerasTuner search over a builder's sharing hyperparameters."""

import argparse
import json
import os
import sys

import numpy as np
from tabulate import tabulate

TUNABLE = {
    "hard_sharing": "HardSharingHyperModel",
    "low_supervision": "LowSupervisionHyperModel",
    "cross_stitch": "CrossStitchHyperModel",
    "sluice": "SluiceHyperModel",
}
DATASETS = ("conll2000", "synthetic")


def _fix_value(text):
    """Parses the value of `--fix name=value` (JSON, else a plain string)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_fixes(items, flag):
    fixed = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"`{flag}` takes NAME=VALUE. Received: {flag} {item!r}")
        fixed[name] = _fix_value(value)
    return fixed


def add_tune_parser(subparsers):
    """Adds the `tune` command to the `keras-mtl` sub-command parsers."""
    tune = subparsers.add_parser(
        "tune",
        help="search a builder's sharing hyperparameters with KerasTuner",
        description=(
            "Random search over a builder's sharing hyperparameters on a "
            "bundled dataset. Trials are kept in DIRECTORY: running the same "
            "command again resumes an interrupted search (a larger "
            "--max-trials extends it); --overwrite starts afresh. The command "
            "tunes the builders of token-tagging data; MetaLSTMHyperModel, "
            "MRNHyperModel and TreeHyperModel are used from Python with your "
            "own data (see keras_mtl.tuning)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tune.add_argument("builder", choices=sorted(TUNABLE), help="builder to tune")
    tune.add_argument(
        "--data",
        choices=DATASETS,
        default="conll2000",
        help="bundled tagging data (synthetic: two tiny tasks, for smoke tests)",
    )
    tune.add_argument("--max-trials", type=int, default=10, help="trials in all")
    tune.add_argument(
        "--directory", default="keras_mtl_tuning", help="where trials are kept"
    )
    tune.add_argument("--project-name", default=None, help="default: BUILDER_DATA")
    tune.add_argument("--epochs", type=int, default=1, help="epochs per trial")
    tune.add_argument("--batch-size", type=int, default=32, help="sentences a step")
    tune.add_argument(
        "--embedding-dim", type=int, default=32, help="word embedding width"
    )
    tune.add_argument(
        "--max-train-sentences",
        type=int,
        default=None,
        help="use the first N training sentences only (all when not given)",
    )
    tune.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the training sentences held out to score trials",
    )
    tune.add_argument(
        "--fix",
        action="append",
        metavar="NAME=VALUE",
        help="fix a hyperparameter or builder argument (JSON value), repeatable",
    )
    tune.add_argument(
        "--range",
        action="append",
        dest="ranges",
        metavar="NAME=[V1,V2]",
        help="search these values of a hyperparameter (JSON list), repeatable",
    )
    tune.add_argument("--top", type=int, default=3, help="best trials to print")
    tune.add_argument("--seed", type=int, default=0, help="seed of the search")
    tune.add_argument("--overwrite", action="store_true", help="discard earlier trials")
    tune.add_argument("--verbose", type=int, default=0, help="Keras verbosity")
    tune.set_defaults(run=tune_main)
    return tune


def _synthetic(seed, size=96, length=6, vocab=20):
    """Two tiny tagging tasks that are functions of the tokens."""
    from keras_mtl.task import Task

    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, (size, length)).astype("int32")
    y = {"tag": (x % 3).astype("int32"), "parity": (x % 2).astype("int32")}
    tasks = [Task("tag", 3, sequence=True), Task("parity", 2, sequence=True)]
    return tasks, vocab, x, y


def _split(x, y, fraction, batch_size, seed):
    from keras_mtl.arguments import check_float
    from keras_mtl.data.sequences import BucketedSequences

    check_float(fraction, "--validation-fraction", minimum=0.0, below=1.0)
    cut = len(x) - max(1, int(round(fraction * len(x))))
    train = BucketedSequences(
        x[:cut], {k: v[:cut] for k, v in y.items()}, batch_size, seed=seed
    )
    val = BucketedSequences(
        x[cut:], {k: v[cut:] for k, v in y.items()}, 256, shuffle=False
    )
    return train, val


def load_data(name, seed=0, max_train_sentences=None):
    """`(tasks, vocab_size, x, y)` of the training split of a dataset."""
    if name == "synthetic":
        return _synthetic(seed)
    from keras_mtl.data.conll2000 import conll2000

    data = conll2000(max_train_sentences=max_train_sentences)
    return data.tasks, data.vocab_size, data.x_train, data.y_train


def make_tuner(args, tasks, vocab_size):
    """The `kt.RandomSearch` of a parsed `tune` command."""
    import keras_tuner as kt

    from keras_mtl import tuning
    from keras_mtl.arguments import check_int

    check_int(args.max_trials, "--max-trials")
    fixed = _parse_fixes(args.fix, "--fix")
    ranges = _parse_fixes(args.ranges, "--range")
    fixed.setdefault("embedding_dim", args.embedding_dim)
    fixed.setdefault("seed", args.seed)
    hypermodel = getattr(tuning, TUNABLE[args.builder])(
        tasks, vocab_size=vocab_size, ranges=ranges, **fixed
    )
    return kt.RandomSearch(
        hypermodel,
        objective=tuning.objective(tasks),
        max_trials=args.max_trials,
        seed=args.seed,
        directory=args.directory,
        project_name=args.project_name or f"{args.builder}_{args.data}",
        overwrite=args.overwrite,
    )


def best_trials_table(tuner, tasks, num_trials=3):
    """Rows (dicts) of the best trials: score, per-task scores, hyperparameters."""
    from keras_mtl.tuning.scoring import metric_key

    rows = []
    for rank, trial in enumerate(tuner.oracle.get_best_trials(num_trials), 1):
        row = {"rank": rank, "trial": trial.trial_id, "score": trial.score}
        for task in tasks:
            key = metric_key(task, len(tasks))
            if trial.metrics.exists(key):
                row[key] = trial.metrics.get_best_value(key)
        row.update(trial.hyperparameters.values)
        rows.append(row)
    return rows


def tune_main(args):
    """Runs (or resumes) the search of a parsed `tune` command and prints it."""
    tasks, vocab_size, x, y = load_data(args.data, args.seed, args.max_train_sentences)
    tuner = make_tuner(args, tasks, vocab_size)
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    if done:
        where = os.path.join(args.directory, tuner.project_name)
        print(f"Resuming the search in {where}: {len(done)} trial(s) done.")
    train, val = _split(x, y, args.validation_fraction, args.batch_size, args.seed)
    tuner.search(train, validation_data=val, epochs=args.epochs, verbose=args.verbose)
    rows = best_trials_table(tuner, tasks, args.top)
    print(f"Best trials of {args.builder} on {args.data} (score: mean task score):")
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"))
    return 0


def main(argv=None):
    """`python -m keras_mtl.tuning.cli tune ...` (the same as `keras-mtl tune`)."""
    parser = argparse.ArgumentParser(prog="keras-mtl")
    add_tune_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
