"""FDU-MTL: 16 binary sentiment domains as one task-indexed multi-task stream."""

import collections
import gzip

import numpy as np

from keras_mtl.arguments import check_int
from keras_mtl.data.mixing import stack_tasks
from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.paths import dataset_dir
from keras_mtl.task import Task

DOMAINS = (
    "apparel",
    "baby",
    "books",
    "camera_photo",
    "dvd",
    "electronics",
    "health_personal_care",
    "imdb",
    "kitchen_housewares",
    "magazines",
    "MR",
    "music",
    "software",
    "sports_outdoors",
    "toys_games",
    "video",
)
PAD, OOV = 0, 1


def read_split(directory, domain, split):
    """`(labels, texts)` of one `<domain>.task.<split>.gz` file.

    Lines are `LABEL<TAB>tokenised text`. Most files are UTF-8; MR and
    dvd/train hold Latin-1 bytes, so a file that is not valid UTF-8 is read
    as Latin-1. Reviews without any token (one in sports_outdoors/train)
    are skipped.
    """
    with gzip.open(directory / f"{domain}.task.{split}.gz", "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    labels, texts = [], []
    for line in text.split("\n"):
        if not line.strip():
            continue
        label, _, sentence = line.partition("\t")
        tokens = sentence.split()
        if tokens:  # an empty review would be all padding (masked mean = NaN)
            labels.append(int(label))
            texts.append(tokens)
    return labels, texts


def build_vocabulary(token_lists, vocab_size=None):
    """Tokens by descending training frequency (ties alphabetical).

    Index 0 is padding (`"<pad>"`), 1 the out-of-vocabulary token
    (`"<oov>"`); `vocab_size` caps the total size.
    """
    counts = collections.Counter(t for tokens in token_lists for t in tokens)
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    vocabulary = ["<pad>", "<oov>"] + ranked
    return vocabulary if vocab_size is None else vocabulary[:vocab_size]


def encode(token_lists, index, max_length):
    """`(N, max_length)` int32 ids, truncated and padded with 0 at the end."""
    ids = np.zeros((len(token_lists), max_length), dtype="int32")
    for row, tokens in enumerate(token_lists):
        codes = [index.get(t, OOV) for t in tokens[:max_length]]
        ids[row, : len(codes)] = codes
    return ids


def fdu_mtl(
    domains=None, *, max_length=200, vocab_size=None, data_dir=None, shuffle_seed=0
):
    """Loads FDU-MTL (Liu, Qiu & Huang, ACL 2017) for multi-task training.

    Sixteen binary sentiment classification tasks (14 Amazon product
    domains, IMDB and MR; ~1,600 training and 400 test reviews each), the
    benchmark of Meta-MTL (Chen et al., AAAI 2018). All domains' training
    examples form one shuffled stream in which each example carries its task
    id; the labels follow the missing-label convention (`-1` for every task
    but the example's own), so `model.fit(*data.arrays("train"))` trains a
    `keras_mtl.models.meta_lstm` model at once; `data.arrays("test",
    task=domain)` is one domain's test set, and `data.dataset("train",
    sampling="uniform")` an endless stream mixed over the domains.

    Args:
        domains: list of str or None. Domains to load, in task order (the
            task id is the position). Defaults to all 16 (`DOMAINS`).
        max_length: int. Reviews are truncated to their first `max_length`
            tokens and padded (0) to that length, so every array has
            `max_length` columns. Defaults to `200`.
        vocab_size: int or None. Keep the `vocab_size - 2` most frequent
            training tokens (ids 0 and 1 are padding and out-of-vocabulary).
            Defaults to every training token.
        data_dir: str or None. Folder holding `<domain>.task.{train,test}.gz`;
            found with `keras_mtl.data.paths.dataset_dir("fdu_mtl")` if None.
        shuffle_seed: int or None. Seed of the training stream's shuffle;
            `None` keeps the files' order (domain by domain).

    Returns:
        A `MultiTaskData`: `.tasks` (a `Task(domain, num_classes=2)` each),
        splits `"train"` and `"test"` of `(x, y)` with `x = {"tokens": (N,
        max_length) int32, "task_id": (N,) int32}` and `y` a dict of `(N,)`
        int32 labels per task (`-1` where the example belongs to another
        task), `.vocabulary` (index = id). Reading it as the dict this loader
        used to return (`data["train"]`, `data["test"][domain]`) still works
        and is deprecated.

    Example:

    >>> data = fdu_mtl(["books", "dvd"], max_length=20, vocab_size=2000)
    >>> x, y = data.arrays("train")
    >>> sorted(x), sorted(y)
    (['task_id', 'tokens'], ['books', 'dvd'])
    >>> model = keras_mtl.models.meta_lstm(
    ...     data.tasks, vocab_size=data.vocab_size, units=8, meta_units=4)
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> books = data.arrays("test", task="books")
    >>> scores = model.evaluate(*books, verbose=0, return_dict=True)
    """
    domains = _check_domains(domains)
    max_length = check_int(max_length, "max_length")
    if vocab_size is not None:
        vocab_size = check_int(vocab_size, "vocab_size", minimum=2)
    directory = dataset_dir("fdu_mtl", data_dir)
    train = [read_split(directory, d, "train") for d in domains]
    test = [read_split(directory, d, "test") for d in domains]
    vocabulary = build_vocabulary(
        [tokens for _, texts in train for tokens in texts], vocab_size
    )
    index = {token: i for i, token in enumerate(vocabulary)}
    tasks = [Task(d, num_classes=2) for d in domains]
    x, y = _stream(train, index, max_length, tasks)
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(x["task_id"]))
        x = {k: v[order] for k, v in x.items()}
        y = {k: v[order] for k, v in y.items()}
    x_test, y_test = _stream(test, index, max_length, tasks)
    data = MultiTaskData(
        tasks,
        {"train": (x, y), "test": (x_test, y_test)},
        task_ids={"train": x["task_id"], "test": x_test["task_id"]},
        vocabulary=vocabulary,
        metadata={"domains": list(domains)},
    )
    data._legacy = {
        "tasks": tasks,
        "train": (x, y),
        "test": {d: data.arrays("test", task=d) for d in domains},
        "vocabulary": vocabulary,
    }
    return data


def _stream(splits, index, max_length, tasks):
    parts = [
        (encode(texts, index, max_length), np.asarray(labels, "int32"))
        for labels, texts in splits
    ]
    tokens, y, task_ids = stack_tasks(parts, tasks)
    return {"tokens": tokens, "task_id": task_ids}, y


def _check_domains(domains):
    if domains is None:
        return list(DOMAINS)
    if isinstance(domains, str) or not hasattr(domains, "__iter__"):
        raise TypeError(
            f"`domains` must be a list of domain names. Received: domains={domains!r}"
        )
    domains = list(domains)
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains or len(set(domains)) != len(domains):
        raise ValueError(
            f"`domains` must be distinct names among {DOMAINS}. "
            f"Received: domains={domains!r}"
        )
    return domains
