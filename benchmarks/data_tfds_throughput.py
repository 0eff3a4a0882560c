"""Training throughput of a `from_tfds` stream against the numpy path (demo model).

Both paths train the same hard-sharing BiLSTM tagger on CoNLL-2000 train; the
numpy path is the demo's `BucketedSequences`, the TFDS path the offline
`keras_mtl_conll2000` builder through `from_tfds`. Each path first trains one
epoch (its first pass: tracing/compiling every batch shape, and for TFDS
reading and encoding the files); then `--rounds` rounds alternate the two
paths, `--epochs` epochs each, so that load on a shared machine hits both
alike. Prints JSON records with `ratio` = TFDS examples/s ÷ numpy examples/s
(median over rounds, same run) and `first_epoch_ratio` (the first epochs).
Run it as a module (`python -m benchmarks.data_tfds_throughput`): run as a
script, the folder `benchmarks/` (its `tree.py`) would shadow the `tree`
package TFDS imports.
"""

import argparse
import json
import statistics
import tempfile
import time

import keras

import keras_mtl
from keras_mtl.data import conll2000, conll2000_tfds


def _model(tasks, vocab_size):
    keras.utils.set_random_seed(0)
    return keras_mtl.models.hard_sharing(
        tasks, vocab_size=vocab_size, units=32, embedding_dim=32, num_layers=1
    )


def _seconds(model, data, epochs):
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def _shapes(batches):
    return len({tuple(batch[0].shape) for batch in batches})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    arrays = conll2000()
    n = len(arrays.x_train)
    with tempfile.TemporaryDirectory() as data_dir:
        stream = conll2000_tfds(
            "train", data_dir=data_dir, batch_size=args.batch_size, seed=0
        )
        paths = {
            "numpy": (
                _model(arrays.tasks, arrays.vocab_size),
                arrays.batches("train", args.batch_size, seed=0),
            ),
            "tfds": (_model(stream.tasks, stream.vocab_size), stream.dataset),
        }
        first = {name: _seconds(m, data, 1) for name, (m, data) in paths.items()}
        times = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, (model, data) in paths.items():
                times[name].append(_seconds(model, data, args.epochs))
        batches = paths["numpy"][1]
        shapes = {
            "numpy": _shapes(batches[i] for i in range(len(batches))),
            "tfds": _shapes(stream.dataset),
        }
    rate = {
        name: n * args.epochs / statistics.median(seconds)
        for name, seconds in times.items()
    }
    record = {
        "model": "hard_sharing(from_tfds)",
        "baseline": "hard_sharing(BucketedSequences)",
        "backend": keras.backend.backend(),
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "rounds": args.rounds,
        "examples_per_s": round(rate["tfds"], 1),
        "baseline_examples_per_s": round(rate["numpy"], 1),
        "ratio": round(rate["tfds"] / rate["numpy"], 3),
        "first_epoch_s": round(first["tfds"], 1),
        "baseline_first_epoch_s": round(first["numpy"], 1),
        "first_epoch_ratio": round(first["numpy"] / first["tfds"], 3),
        "batch_shapes": shapes["tfds"],
        "baseline_batch_shapes": shapes["numpy"],
    }
    print(json.dumps([record], indent=2))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump([record], handle, indent=2)


if __name__ == "__main__":
    main()
