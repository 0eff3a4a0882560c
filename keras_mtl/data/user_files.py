"""The user's own data: CoNLL-style column files and CSV tables."""

import collections
import csv

import numpy as np

from keras_mtl.data.conll2000 import TaggingData, read_conll
from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.sequences import pad_sequences
from keras_mtl.task import Task


def _names(spec, argument):
    names = [n.strip() for n in str(spec).split(",")] if spec else []
    if not names or not all(names):
        raise ValueError(
            f"`{argument}` must be comma-separated names. Received: {spec!r}"
        )
    return names


def column_files(train, test=None, *, columns, min_count=1, test_fraction=0.2, seed=0):
    """Token-tagging data from CoNLL-style column files (one token a line).

    Args:
        train: path of the training file (`.gz` allowed); sentences are
            separated by blank lines, columns by white space.
        test: path of the test file, or None to hold out `test_fraction` of
            the training sentences (seeded).
        columns: str, e.g. `"token,pos,chunk"`: one name per column; the
            column named `token` holds the words, `_` skips a column, every
            other name is a per-token task.
        min_count: int. Minimum training count of a word to get an own id.

    Returns:
        A `TaggingData` (a `MultiTaskData` with splits `"train"`, `"test"`).
    """
    names = _names(columns, "columns")
    if names.count("token") != 1 or len(set(names) - {"token", "_"}) < 1:
        raise ValueError(
            "`columns` must name one column `token` and at least one task. "
            f"Received: columns={columns!r}"
        )
    train_sentences = read_conll(train, columns=len(names))
    if test is None:
        order = np.random.default_rng(seed).permutation(len(train_sentences))
        cut = max(1, int(round(test_fraction * len(order))))
        test_sentences = [train_sentences[i] for i in order[:cut]]
        train_sentences = [train_sentences[i] for i in order[cut:]]
    else:
        test_sentences = read_conll(test, columns=len(names))
    word = names.index("token")
    task_columns = [(i, n) for i, n in enumerate(names) if n not in ("token", "_")]
    tag_names = {
        n: sorted({t[i] for s in train_sentences + test_sentences for t in s})
        for i, n in task_columns
    }
    counts = collections.Counter(t[word] for s in train_sentences for t in s)
    vocabulary = ["<pad>", "<oov>"] + sorted(
        w for w, c in counts.items() if c >= min_count
    )
    ids = {w: i for i, w in enumerate(vocabulary)}
    length = max(len(s) for s in train_sentences + test_sentences)

    def encode(sentences):
        x = pad_sequences([[ids.get(t[word], 1) for t in s] for s in sentences], length)
        y = {}
        for i, n in task_columns:
            index = {tag: k for k, tag in enumerate(tag_names[n])}
            y[n] = pad_sequences(
                [[index[t[i]] for t in s] for s in sentences], length, value=-1
            )
        return x, y

    tasks = [
        Task(n, num_classes=max(len(tag_names[n]), 2), sequence=True)
        for _, n in task_columns
    ]
    return TaggingData(
        *encode(train_sentences), *encode(test_sentences), vocabulary, tag_names, tasks
    )


def csv_table(path, *, inputs, labels, test=None, test_fraction=0.2, seed=0):
    """Feature-vector data from a CSV file with a header row.

    A label column of integers becomes a classification task (classes
    0..max); any other label column a regression task. Empty label cells are
    missing labels.

    Args:
        path: CSV file.
        inputs: str. Comma-separated names of the feature columns.
        labels: str. Comma-separated names of the label columns (tasks).
        test: CSV file of the test split, or None to hold out `test_fraction`.

    Returns:
        A `MultiTaskData` with splits `"train"` and `"test"`.
    """
    inputs, labels = _names(inputs, "inputs"), _names(labels, "labels")
    x, y = _read_csv(path, inputs, labels)
    if test is None:
        order = np.random.default_rng(seed).permutation(len(x))
        cut = max(1, int(round(test_fraction * len(x))))
        split = {"train": order[cut:], "test": order[:cut]}
        parts = {k: (x[r], {n: v[r] for n, v in y.items()}) for k, r in split.items()}
    else:
        parts = {"train": (x, y), "test": _read_csv(test, inputs, labels)}
    tasks = []
    for name in labels:
        values = np.concatenate([parts[s][1][name] for s in parts])
        known = values[~np.isnan(values)]
        if known.size and np.all(known == np.round(known)) and known.min() >= 0:
            tasks.append(Task(name, num_classes=max(int(known.max()) + 1, 2)))
            for split in parts.values():
                column = split[1][name]
                split[1][name] = np.where(np.isnan(column), -1, column).astype("int32")
        else:
            tasks.append(Task(name))
    return MultiTaskData(tasks, parts, metadata={"inputs": inputs})


def _read_csv(path, inputs, labels):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path}: no rows")
    missing = [c for c in inputs + labels if c not in rows[0]]
    if missing:
        raise ValueError(
            f"`inputs`/`labels` name columns {missing} that {path} lacks; its "
            f"columns are {list(rows[0])}"
        )

    def number(text):
        return float(text) if text.strip() else np.nan

    x = np.array([[number(r[c]) for c in inputs] for r in rows], "float32")
    y = {c: np.array([number(r[c]) for r in rows], "float32") for c in labels}
    return x, y
