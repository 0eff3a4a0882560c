"""A hard-sharing chunker on CoNLL-2000 with and without a CRF head.

Trains POS (auxiliary, softmax) + chunking (main) hard-sharing BiLSTM taggers
for a few epochs per seed, once with a softmax chunk head and once with
`Task(..., crf=True)`, and prints chunk F1 (conlleval, via seqeval) and the
share of test tokens predicted with an invalid BIO transition (`I-X` after `O`,
after a tag of another type, or at the start of a sentence).

    KERAS_BACKEND=jax python examples/crf_conll2000.py [--epochs 1] [--seeds 0 1 2]
"""

import argparse
import json
import statistics
import time

from keras_mtl import Task, models
from keras_mtl.data import conll2000
from keras_mtl.evaluation import chunk_f1, invalid_bio_transitions


def run(data, crf, seed, epochs, units):
    tasks = [
        Task(t.name, t.num_classes, sequence=True, crf=crf and t.name == "chunk")
        for t in data.tasks
    ]
    model = models.hard_sharing(
        tasks,
        vocab_size=data.vocab_size,
        embedding_dim=32,
        units=units,
        num_layers=2,
        learning_rate=1e-2,
        seed=seed,
    )
    start = time.perf_counter()
    model.fit(data.batches("train", 32, seed=seed), epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(data.x_test, batch_size=256, verbose=0)["chunk"]
    if not crf:
        predicted = predicted.argmax(-1)
    true_tags = data.decode_tags("chunk", data.y_test["chunk"], data.x_test)
    tags = data.decode_tags("chunk", predicted, data.x_test)
    invalid, tokens = invalid_bio_transitions(tags)
    return {
        "crf": crf,
        "seed": seed,
        "chunk_f1": 100 * chunk_f1(true_tags, tags),
        "invalid_percent": 100 * invalid / tokens,
        "train_seconds": round(seconds, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", default=None, help="JSON file for the runs")
    args = parser.parse_args()
    data = conll2000()
    runs = []
    for seed in args.seeds:
        for crf in (False, True):
            runs.append(run(data, crf, seed, args.epochs, args.units))
            print(json.dumps(runs[-1]))
    for crf in (False, True):
        mine = [r for r in runs if r["crf"] is crf]
        for key in ("chunk_f1", "invalid_percent"):
            values = [r[key] for r in mine]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(
                f"{'CRF' if crf else 'softmax'} {key}: "
                f"{statistics.mean(values):.2f} ± {spread:.2f}"
            )
    if args.output:
        with open(args.output, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
