"""The demo's recipe trained from the arrays and from the offline TFDS build.

Trains one builder with the demo's settings (`keras_mtl.experiment`) twice per
seed — on `conll2000().batches(...)` and on the `conll2000_tfds(...)` stream
built offline from the same vendored files — and scores both on the array
test set (POS accuracy, chunk F1 by conlleval).

    KERAS_BACKEND=jax python examples/conll2000_from_tfds.py [--builder sluice]
        [--epochs 2] [--seeds 0 1]
"""

import argparse
import json
import tempfile

from keras_mtl.data import conll2000, conll2000_tfds
from keras_mtl.evaluation import chunk_f1, token_accuracy
from keras_mtl.experiment import TAGGING_BUILDERS, builder_kwargs, predict_label_ids


def scores(model, data):
    """POS accuracy and chunk F1 (%) on the test split."""
    predicted = predict_label_ids(model, data.batches("test", 256))
    true_tags = data.decode_tags("chunk", data.y_test["chunk"], data.x_test)
    tags = data.decode_tags("chunk", predicted["chunk"], data.x_test)
    return {
        "POS acc": round(100 * token_accuracy(data.y_test["pos"], predicted["pos"]), 2),
        "chunk F1": round(100 * chunk_f1(true_tags, tags), 2),
    }


def demo_model(builder, data, seed):
    return TAGGING_BUILDERS[builder](
        data.tasks,
        vocab_size=data.vocab_size,
        embedding_dim=32,
        units=64,
        num_layers=2,
        learning_rate=1e-2,
        seed=seed,
        **builder_kwargs(builder, data.tasks),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builder", default="sluice", choices=sorted(TAGGING_BUILDERS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    data = conll2000()
    for seed in args.seeds:
        row = {"builder": args.builder, "epochs": args.epochs, "seed": seed}
        model = demo_model(args.builder, data, seed)
        model.fit(data.batches("train", 32, seed=seed), epochs=args.epochs, verbose=0)
        row["arrays"] = scores(model, data)
        with tempfile.TemporaryDirectory() as data_dir:
            stream = conll2000_tfds(
                "train", data_dir=data_dir, batch_size=32, seed=seed
            )
            model = demo_model(args.builder, data, seed)
            model.fit(stream.dataset, epochs=args.epochs, verbose=0)
        row["tfds"] = scores(model, data)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
