"""Training throughput of a `from_tfds` stream against the numpy path (demo model).

Both paths train the same hard-sharing BiLSTM tagger on CoNLL-2000 train; the
numpy path is the demo's `BucketedSequences`, the TFDS path the offline
`keras_mtl_conll2000` builder through `from_tfds`. Prints JSON records with
`ratio` = TFDS examples/s ÷ numpy examples/s (same run). Run it as a module
(`python -m benchmarks.data_tfds_throughput`): run as a script, the folder
`benchmarks/` (its `tree.py`) would shadow the `tree` package TFDS imports.
"""

import argparse
import json
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


def _examples_per_s(model, data, examples, epochs):
    model.fit(data, epochs=1, verbose=0)  # warm-up: traces every shape
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0)
    return examples * epochs / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    arrays = conll2000()
    n = len(arrays.x_train)
    with tempfile.TemporaryDirectory() as data_dir:
        stream = conll2000_tfds(
            "train", data_dir=data_dir, batch_size=args.batch_size, seed=0
        )
        baseline = _examples_per_s(
            _model(arrays.tasks, arrays.vocab_size),
            arrays.batches("train", args.batch_size, seed=0),
            n,
            args.epochs,
        )
        tfds_rate = _examples_per_s(
            _model(stream.tasks, stream.vocab_size), stream.dataset, n, args.epochs
        )
    record = {
        "model": "hard_sharing(from_tfds)",
        "baseline": "hard_sharing(BucketedSequences)",
        "backend": keras.backend.backend(),
        "batch_size": args.batch_size,
        "examples_per_s": round(tfds_rate, 1),
        "baseline_examples_per_s": round(baseline, 1),
        "ratio": round(tfds_rate / baseline, 3),
    }
    print(json.dumps([record], indent=2))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump([record], handle, indent=2)


if __name__ == "__main__":
    main()
