"""The Meta-LSTM tagging experiment on CoNLL-2000, with and without a CRF.

POS tagging (softmax) + chunking (softmax or `Task(..., crf=True)`) on the
same sentences, for Meta-LSTM (Chen et al., AAAI 2018), hard sharing, sluice
and single-task taggers with one embedding / width / depth budget: every
builder gets `embedding_dim`, `num_layers` and `units` (hard sharing, sluice
and single task are BiLSTMs of `units // 2` per direction; Meta-LSTM is a
bidirectional Meta-LSTM of `units // 2` per direction, so every tagger hands
its heads `units` features per token). Prints, per builder and chunk head,
mean ± std over seeds of chunk F1 (conlleval, via seqeval), POS accuracy,
the share of test tokens predicted with an invalid BIO transition (`I-X`
after `O`, after a tag of another type, or at the start of a sentence) and
the training seconds, and writes every run as JSON.

    KERAS_BACKEND=jax python examples/tagging_conll2000.py --seeds 0 1 2 \
        [--epochs 1] [--max-train-sentences N] [--builders ...] [--heads ...]
"""

import argparse
import json
import statistics
import time

import keras
from tabulate import tabulate

from keras_mtl import Task, models
from keras_mtl.data import conll2000
from keras_mtl.evaluation import chunk_f1, invalid_bio_transitions, token_accuracy
from keras_mtl.experiment import builder_kwargs, predict_label_ids
from keras_mtl.layers import bio_constraints

BUILDERS = ("meta_lstm", "hard_sharing", "sluice", "single_task")
HEADS = ("softmax", "crf", "crf_bio")  # crf_bio: a CRF that never breaks BIO


def build(builder, tasks, data, args, seed):
    common = dict(
        vocab_size=data.vocab_size,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        learning_rate=args.learning_rate,
        seed=seed,
    )
    if builder == "meta_lstm":
        return models.meta_lstm(
            tasks,
            units=args.units // 2,
            bidirectional=True,
            meta_units=args.meta_units,
            **common,
        )
    return getattr(models, builder)(
        tasks, units=args.units, **builder_kwargs(builder, tasks), **common
    )


def run(data, builder, head, seed, args):
    tasks = []
    for t in data.tasks:
        crf = head.startswith("crf") and t.name in args.crf_tasks
        weight = args.crf_loss_weight if crf else 1.0
        bio = crf and head == "crf_bio"
        rules = bio_constraints(data.tag_names[t.name]) if bio else None
        tasks.append(
            Task(
                t.name,
                t.num_classes,
                sequence=True,
                crf=crf,
                crf_constraints=rules,
                loss_weight=weight,
            )
        )
    keras.utils.set_random_seed(seed)
    model = build(builder, tasks, data, args, seed)
    start = time.perf_counter()
    model.fit(
        data.batches("train", args.batch_size, seed=seed),
        epochs=args.epochs,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    predicted = predict_label_ids(model, data.batches("test", 256))
    true_tags = data.decode_tags("chunk", data.y_test["chunk"], data.x_test)
    tags = data.decode_tags("chunk", predicted["chunk"], data.x_test)
    invalid, tokens = invalid_bio_transitions(tags)
    return {
        "builder": builder,
        "head": head,
        "seed": seed,
        "crf_loss_weight": args.crf_loss_weight if head != "softmax" else 1.0,
        "chunk_f1": 100 * chunk_f1(true_tags, tags),
        "pos_accuracy": 100 * token_accuracy(data.y_test["pos"], predicted["pos"]),
        "invalid_percent": 100 * invalid / tokens,
        "params": model.count_params(),
        "train_seconds": round(seconds, 1),
    }


def summarize(runs):
    rows = []
    for builder in BUILDERS:
        for head in HEADS:
            mine = [r for r in runs if r["builder"] == builder and r["head"] == head]
            if not mine:
                continue
            row = {"builder": builder, "chunk head": head, "seeds": len(mine)}
            for label, key in (
                ("chunk F1", "chunk_f1"),
                ("POS acc", "pos_accuracy"),
                ("invalid BIO %", "invalid_percent"),
            ):
                values = [r[key] for r in mine]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                row[label] = f"{statistics.mean(values):.2f} ± {spread:.2f}"
            row["params"] = mine[0]["params"]
            row["train s"] = round(statistics.mean(r["train_seconds"] for r in mine))
            rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builders", nargs="+", default=BUILDERS, choices=BUILDERS)
    parser.add_argument(
        "--heads",
        nargs="+",
        default=["softmax", "crf"],
        choices=HEADS,
        help="chunk heads to compare; crf_bio adds keras_mtl.layers.bio_constraints",
    )
    parser.add_argument(
        "--crf-tasks",
        nargs="+",
        default=["chunk"],
        help="tasks that get a CRF head when the head is 'crf'",
    )
    parser.add_argument(
        "--crf-loss-weight",
        type=float,
        default=1.0,
        help="loss weight of the CRF tasks (their loss is the negative "
        "log-likelihood per labelled token, the scale of a softmax head's)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-train-sentences", type=int, default=None)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--meta-units", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--output", default=None, help="JSON file for the runs")
    args = parser.parse_args()
    data = conll2000(max_train_sentences=args.max_train_sentences)
    print(
        f"CoNLL-2000: {len(data.x_train)} train / {len(data.x_test)} test "
        f"sentences, vocabulary {data.vocab_size}; {vars(args)}",
        flush=True,
    )
    runs = []
    for seed in args.seeds:
        for builder in args.builders:
            for head in args.heads:
                runs.append(run(data, builder, head, seed, args))
                print(json.dumps(runs[-1]), flush=True)
                if args.output:  # after every run, so a cut-short job keeps its runs
                    with open(args.output, "w") as f:
                        json.dump({"args": vars(args), "runs": runs}, f, indent=1)
    print()
    print(tabulate(summarize(runs), headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
