"""A small KerasTuner search over sluice sharing on CoNLL-2000, vs the defaults.

Searches `num_subspaces`, `alpha_init`, `beta_init`, `orthogonality_weight`,
`orthogonality`, `dropout` and `learning_rate` of a 2-layer BiLSTM sluice
network (units 32) with `keras_mtl.tuning.SluiceHyperModel`, scoring each
trial by the mean validation token accuracy of POS and chunking on the last
10% of the training sentences. Then it trains the best configuration and the
recipe's defaults (`keras_mtl.experiment.train_conll2000`) on all the kept
training sentences and scores both on the test set (POS accuracy, chunk F1).

    python examples/tune_sluice_conll2000.py --max-trials 4 --directory /tmp/tune

Runs in a few minutes on 2 CPU cores; rerunning resumes the search.
"""

import argparse

import keras_tuner as kt
from tabulate import tabulate

from keras_mtl.data.conll2000 import conll2000
from keras_mtl.data.sequences import BucketedSequences
from keras_mtl.experiment import train_conll2000
from keras_mtl.tuning import SluiceHyperModel, objective

FIXED = {"units": 32, "num_layers": 2, "embedding_dim": 32}


def search(data, args):
    hypermodel = SluiceHyperModel(
        data.tasks,
        vocab_size=data.vocab_size,
        seed=args.seed,
        ranges={"learning_rate": [3e-3, 1e-2, 3e-2]},
        **FIXED,
    )
    tuner = kt.RandomSearch(
        hypermodel,
        objective=objective(data.tasks),
        max_trials=args.max_trials,
        seed=args.seed,
        directory=args.directory,
        project_name="sluice_conll2000",
        overwrite=args.overwrite,
    )
    cut = int(0.9 * len(data.x_train))
    train = BucketedSequences(
        data.x_train[:cut],
        {k: v[:cut] for k, v in data.y_train.items()},
        args.batch_size,
        seed=args.seed,
    )
    val = BucketedSequences(
        data.x_train[cut:],
        {k: v[cut:] for k, v in data.y_train.items()},
        256,
        shuffle=False,
    )
    tuner.search(train, validation_data=val, epochs=args.epochs, verbose=0)
    return tuner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-trials", type=int, default=4)
    parser.add_argument("--max-train-sentences", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", default="keras_mtl_tuning")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    data = conll2000(max_train_sentences=args.max_train_sentences)
    tuner = search(data, args)
    trials = sorted(
        tuner.oracle.trials.values(), key=lambda t: -(t.score or float("-inf"))
    )
    rows = [
        {"trial": t.trial_id, "val mean task score": t.score} | t.hyperparameters.values
        for t in trials
    ]
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"))

    best = dict(trials[0].hyperparameters.values)
    common = dict(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, data=data
    )
    results = []
    for label, config in (("defaults", {}), ("best trial", best)):
        config = {**FIXED, "learning_rate": 1e-2, **config}
        result = train_conll2000("sluice", **common, **config)
        results.append({"config": label, **result.row()})
    print(tabulate(results, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
