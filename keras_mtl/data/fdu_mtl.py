"""FDU-MTL: 16 binary sentiment domains as one task-indexed multi-task stream."""

import collections
import gzip

import numpy as np

from keras_mtl.arguments import check_int
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


def _task_arrays(labels, task_ids, num_tasks):
    """Per-task label arrays: the label where the example is that task, else -1."""
    return [
        np.where(task_ids == m, labels, -1).astype("int32") for m in range(num_tasks)
    ]


def fdu_mtl(
    domains=None, *, max_length=200, vocab_size=None, data_dir=None, shuffle_seed=0
):
    """Loads FDU-MTL (Liu, Qiu & Huang, ACL 2017) for multi-task training.

    Sixteen binary sentiment classification tasks (14 Amazon product
    domains, IMDB and MR; ~1,600 training and 400 test reviews each), the
    benchmark of Meta-MTL (Chen et al., AAAI 2018). All domains' training
    examples form one shuffled stream in which each example carries its task
    id; the labels follow the missing-label convention (`-1` for every task
    but the example's own), so `model.fit(*data["train"])` trains a
    `keras_mtl.models.meta_lstm` model at once. Test sets stay per task.

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
        A dict with
        - `"tasks"`: list of `Task(domain, num_classes=2)`;
        - `"train"`: `(x, y)`, `x = {"tokens": (N, max_length) int32,
          "task_id": (N,) int32}` and `y` a dict of `(N,)` int32 labels per
          task (`-1` where the example belongs to another task);
        - `"test"`: dict domain → `(x, y)` of the same form, for that domain;
        - `"vocabulary"`: list of tokens (index = id).

    Example:

    >>> data = fdu_mtl(["books", "dvd"], max_length=20, vocab_size=2000)
    >>> x, y = data["train"]
    >>> sorted(x), sorted(y)
    (['task_id', 'tokens'], ['books', 'dvd'])
    >>> model = keras_mtl.models.meta_lstm(
    ...     data["tasks"], vocab_size=len(data["vocabulary"]), units=8, meta_units=4)
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> scores = model.evaluate(*data["test"]["books"], verbose=0, return_dict=True)
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
    return {
        "tasks": tasks,
        "train": (x, y),
        "test": {
            d: _stream(
                [split if i == m else ([], []) for i, split in enumerate(test)],
                index,
                max_length,
                tasks,
            )
            for m, d in enumerate(domains)
        },
        "vocabulary": vocabulary,
    }


def _stream(splits, index, max_length, tasks):
    labels = np.concatenate([np.asarray(lab, "int32") for lab, _ in splits])
    task_ids = np.concatenate(
        [np.full(len(lab), m, "int32") for m, (lab, _) in enumerate(splits)]
    )
    tokens = encode([t for _, texts in splits for t in texts], index, max_length)
    y = dict(zip((t.name for t in tasks), _task_arrays(labels, task_ids, len(tasks))))
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
