"""CoNLL-2000: part-of-speech tagging and chunking on the same WSJ sentences."""

import collections
import gzip
import re

import numpy as np

from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.paths import dataset_dir
from keras_mtl.data.sequences import pad_sequences
from keras_mtl.task import Task

PAD, OOV = 0, 1
_DIGITS = re.compile(r"\d")


class TaggingData(MultiTaskData):
    """A token-tagging dataset ready for `model.fit` (a `MultiTaskData`).

    Splits `"train"` and `"test"`; `metadata["tag_names"]` holds the tag
    strings of every task.

    Attributes:
        x_train, x_test: int32 arrays `(N, T)` of token ids (0 = padding,
            1 = out of vocabulary).
        y_train, y_test: dicts task name → int32 arrays `(N, T)` of tag ids,
            `-1` on padding.
        vocabulary: list of words; index = token id.
        tag_names: dict task name → list of tag strings; index = tag id.
        tasks: list of `keras_mtl.Task` (sequence classification tasks).
    """

    def __init__(
        self, x_train, y_train, x_test, y_test, vocabulary, tag_names, tasks=()
    ):
        super().__init__(
            tasks,
            {"train": (x_train, y_train), "test": (x_test, y_test)},
            vocabulary=vocabulary,
            metadata={"tag_names": tag_names},
        )

    x_train = property(lambda self: self.arrays("train")[0])
    y_train = property(lambda self: self.arrays("train")[1])
    x_test = property(lambda self: self.arrays("test")[0])
    y_test = property(lambda self: self.arrays("test")[1])
    tag_names = property(lambda self: self.metadata["tag_names"])

    def decode_tags(self, task_name, tag_ids, x):
        """Tag strings per sentence from `(N, T)` ids, dropping padding."""
        names = self.tag_names[task_name]
        return [
            [names[t] for t, token in zip(row, tokens) if token != PAD]
            for row, tokens in zip(np.asarray(tag_ids), np.asarray(x))
        ]


def read_conll(path, columns=3):
    """Sentences from a CoNLL column file: a list of lists of column tuples."""
    opener = gzip.open if str(path).endswith(".gz") else open
    sentences, current = [], []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                if current:
                    sentences.append(current)
                current = []
                continue
            if len(parts) != columns:
                raise ValueError(f"{path}: expected {columns} columns in {line!r}")
            current.append(tuple(parts))
    if current:
        sentences.append(current)
    return sentences


def tag_sets(folder, sentences=None):
    """Sorted POS and chunk tag sets of the train and test files in `folder`."""
    if sentences is None:
        sentences = read_conll(folder / "train.txt.gz") + read_conll(
            folder / "test.txt.gz"
        )
    return (
        sorted({t[1] for s in sentences for t in s}),
        sorted({t[2] for s in sentences for t in s}),
    )


def normalize_word(word):
    """Lower-cases a word and maps every digit to 0."""
    return _DIGITS.sub("0", word.lower())


def conll2000(max_length=None, min_count=2, max_train_sentences=None, data_dir=None):
    """Loads CoNLL-2000 POS tagging and chunking as two per-token tasks.

    The bundled files are the official CoNLL-2000 shared task data (WSJ
    sections 15–18 train, 8,936 sentences; section 20 test, 2,012 sentences).
    Words are lower-cased with digits mapped to 0; words seen fewer than
    `min_count` times in training map to the out-of-vocabulary id 1.

    Args:
        max_length: int or None. Pad/truncate every sentence to this length;
            defaults to the longest sentence (78 tokens).
        min_count: int. Minimum training frequency to get an own token id.
            Defaults to `2`.
        max_train_sentences: int or None. Keep only the first N training
            sentences (for quick runs).
        data_dir: str or None. Folder with `train.txt.gz` and `test.txt.gz`;
            defaults to the bundled copy.

    Returns:
        A `TaggingData` with tasks `pos` (44 tags) and `chunk` (23 IOB2 tags),
        whatever `max_train_sentences` is.

    Example:

    >>> data = keras_mtl.data.conll2000(max_train_sentences=64)
    >>> [(task.name, task.num_classes) for task in data.tasks]
    [('pos', 44), ('chunk', 23)]
    >>> model = keras_mtl.models.sluice(data.tasks, vocab_size=data.vocab_size,
    ...                                 units=16, embedding_dim=16)
    >>> history = model.fit(data.batches("train"), epochs=1, verbose=0)
    """
    folder = dataset_dir("conll2000", data_dir)
    all_train = read_conll(folder / "train.txt.gz")
    test = read_conll(folder / "test.txt.gz")
    # Tag sets come from the full files, so a subset keeps every class id.
    pos, chunk = tag_sets(folder, all_train + test)
    tag_names = {"pos": pos, "chunk": chunk}
    train = all_train[:max_train_sentences]
    counts = collections.Counter(normalize_word(w) for s in train for w, _, _ in s)
    vocabulary = ["<pad>", "<unk>"] + sorted(
        w for w, c in counts.items() if c >= min_count
    )
    word_ids = {w: i for i, w in enumerate(vocabulary)}
    length = max_length or max(len(s) for s in train + test)

    def encode(sentences):
        x = pad_sequences(
            [[word_ids.get(normalize_word(t[0]), OOV) for t in s] for s in sentences],
            length,
        )
        y = {}
        for column, task_name in ((1, "pos"), (2, "chunk")):
            ids = {tag: i for i, tag in enumerate(tag_names[task_name])}
            y[task_name] = pad_sequences(
                [[ids[t[column]] for t in s] for s in sentences], length, value=-1
            )
        return x, y

    x_train, y_train = encode(train)
    x_test, y_test = encode(test)
    tasks = [
        Task("pos", num_classes=len(tag_names["pos"]), sequence=True),
        Task("chunk", num_classes=len(tag_names["chunk"]), sequence=True),
    ]
    return TaggingData(x_train, y_train, x_test, y_test, vocabulary, tag_names, tasks)
