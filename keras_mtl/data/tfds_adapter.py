"""TensorFlow Datasets → tasks, vocabulary and a batched multi-task stream."""

import collections
from dataclasses import dataclass, field

from keras_mtl.data.streams import batch_stream, finish_stream
from keras_mtl.task import Task

PAD, OOV = 0, 1


@dataclass
class TFDSStream:
    """What `from_tfds` returns.

    Attributes:
        tasks: list of `keras_mtl.Task`, one per entry of `labels`.
        dataset: batched `tf.data.Dataset` of `(x, y_dict)`.
        vocabulary: list of str (token inputs; index = token id, 0 padding,
            1 out of vocabulary) or None.
        info: the `tfds.core.DatasetInfo`.
    """

    tasks: list
    dataset: object = field(repr=False)
    vocabulary: list = field(default=None, repr=False)
    info: object = field(default=None, repr=False)

    @property
    def vocab_size(self):
        """Number of token ids (token inputs), else `None`."""
        return None if self.vocabulary is None else len(self.vocabulary)


def from_tfds(
    name_or_dataset,
    *,
    inputs,
    labels,
    split="train",
    batch_size=32,
    info=None,
    vocabulary=None,
    min_count=1,
    max_vocab_size=None,
    lowercase=False,
    replace_digits=False,
    max_length=None,
    shuffle=None,
    seed=None,
    bucket_width=16,
    cache=True,
    threads=1,
    data_dir=None,
    download=True,
):
    """A TFDS dataset as multi-task `(x, y_dict)` batches for `model.fit`.

    Label features become tasks: a `ClassLabel` a classification task with
    its number of classes, a `Sequence(ClassLabel)` a per-token task, a float
    `Tensor` a regression task. Token inputs (`Sequence(Text)`, or `Text`
    split on whitespace) are mapped to ids with a vocabulary built from the
    training split (or given), padded with 0 and length-bucketed; per-token
    labels are cut or padded (−1) to their example's token count. Feature
    vectors and images (as float32 in [0, 1]) are batched as they are.

    Args:
        name_or_dataset: str (a name for `tfds.load`) or a loaded, unbatched
            `tf.data.Dataset` of feature dicts (then pass `info`).
        inputs: str. The input feature.
        labels: dict task name → label feature name.
        split: str. Split to load. Defaults to `"train"`.
        batch_size: int. Defaults to `32`.
        info: `tfds.core.DatasetInfo` of a given dataset.
        vocabulary: list of str or None. Token strings (index = id; 0 and 1
            are padding and out of vocabulary). Defaults to one built from
            the `"train"` split (or from the given dataset).
        min_count: int. Minimum count of a token in the vocabulary.
        max_vocab_size: int or None. Keep the most frequent tokens only.
        lowercase, replace_digits: bool. Normalise tokens (digits → "0").
        max_length: int or None. Truncate token sequences.
        shuffle: bool or None. Defaults to `True` for training splits.
        seed: int or None. Seed of the shuffle.
        bucket_width: int. Token batches are padded to a multiple of this.
        cache: bool or str. Keep the encoded examples after the first pass
            (token inputs: their padded, length-sorted windows; see
            `keras_mtl.data.streams.batch_stream`), in memory (`True`) or in
            files with this prefix (a str), so later epochs neither read nor
            encode again; `False` for a split larger than memory. Defaults
            to `True`.
        threads: int or None. Threads of the stream's `tf.data` pool;
            `None` keeps tf.data's autotuned pool (see
            `keras_mtl.data.streams.finish_stream`). Defaults to `1`.
        data_dir, download: passed to `tfds.load`.

    Returns:
        A `TFDSStream` with `.tasks`, `.vocab_size`, `.vocabulary`, `.dataset`.

    Example:

    >>> import tensorflow as tf, tensorflow_datasets as tfds
    >>> features = tfds.features.FeaturesDict({
    ...     "words": tfds.features.Sequence(tfds.features.Text()),
    ...     "tags": tfds.features.Sequence(tfds.features.ClassLabel(num_classes=3))})
    >>> identity = tfds.core.DatasetIdentity(
    ...     name="toy", version="1.0.0", data_dir="", module_name="")
    >>> info = tfds.core.DatasetInfo(builder=identity, features=features)
    >>> ds = tf.data.Dataset.from_tensors({"words": ["a", "b", "a"], "tags": [0, 2, 1]})
    >>> data = from_tfds(ds, info=info, inputs="words", labels={"tag": "tags"})
    >>> data.tasks[0].num_classes, data.vocabulary
    (3, ['<pad>', '<oov>', 'a', 'b'])
    >>> x, y = next(iter(data.dataset))
    >>> x.numpy().tolist()[0][:4], y["tag"].numpy().tolist()[0][:4]
    ([2, 3, 2, 0], [0, 2, 1, -1])
    """
    import tensorflow as tf

    if not isinstance(labels, dict) or not labels:
        raise TypeError(
            "`labels` must be a non-empty dict task name → TFDS feature name. "
            f"Received: labels={labels!r}"
        )
    dataset, info = _load(name_or_dataset, split, info, data_dir, download)
    features = info.features
    for argument, feature in [("inputs", inputs)] + [
        (f"labels[{k!r}]", v) for k, v in labels.items()
    ]:
        if feature not in features:
            raise ValueError(
                f"`{argument}` must name a feature of the dataset "
                f"{sorted(features.keys())}. Received: {feature!r}"
            )
    tokens = _is_text(features[inputs])
    tasks = [_task(name, features[f], name) for name, f in labels.items()]
    if any(t.sequence for t in tasks) and not tokens:
        raise ValueError(
            "Per-token label features need a token input (`Sequence(Text)` or "
            f"`Text`). Received: inputs={inputs!r} ({features[inputs]})"
        )
    normalize = _normalizer(features[inputs], lowercase, replace_digits)
    if tokens and vocabulary is None:
        source = dataset
        if isinstance(name_or_dataset, str) and split != "train":
            source, _ = _load(name_or_dataset, "train", info, data_dir, download)
        vocabulary = build_vocabulary(
            source.map(lambda ex: normalize(ex[inputs])), min_count, max_vocab_size
        )
    encode = _encoder(vocabulary, normalize, inputs, labels, tasks, max_length)
    if not tokens:
        encode = _feature_encoder(features[inputs], inputs, labels, tasks)
    stream = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    if cache and not tokens:
        stream = stream.cache("" if cache is True else str(cache))
    shuffle = split.startswith("train") if shuffle is None else shuffle
    if shuffle:
        stream = stream.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    stream = batch_stream(
        stream,
        tasks,
        batch_size=batch_size,
        tokens=tokens,
        bucket_width=bucket_width,
        shuffle=shuffle,
        seed=seed,
        cache=cache if tokens else False,
    )
    stream = finish_stream(stream, threads)
    return TFDSStream(
        tasks=tasks,
        dataset=stream,
        vocabulary=vocabulary if tokens else None,
        info=info,
    )


def _load(name_or_dataset, split, info, data_dir, download):
    if isinstance(name_or_dataset, str):
        import tensorflow_datasets as tfds

        return tfds.load(
            name_or_dataset,
            split=split,
            with_info=True,
            data_dir=data_dir,
            download=download,
        )
    if not hasattr(name_or_dataset, "element_spec"):
        raise TypeError(
            "`name_or_dataset` must be a TFDS name or a `tf.data.Dataset`. "
            f"Received: {type(name_or_dataset).__name__}"
        )
    if info is None or not hasattr(info, "features"):
        raise TypeError(
            "A loaded dataset needs its `info=` (a `tfds.core.DatasetInfo`, as "
            "`tfds.load(..., with_info=True)` returns). Received: info=None"
        )
    return name_or_dataset, info


def _is_text(feature):
    import tensorflow_datasets as tfds

    if isinstance(feature, tfds.features.Sequence):
        return isinstance(feature.feature, tfds.features.Text)
    return isinstance(feature, tfds.features.Text)


def _task(name, feature, task_name):
    import tensorflow_datasets as tfds

    sequence = isinstance(feature, tfds.features.Sequence)
    inner = feature.feature if sequence else feature
    if isinstance(inner, tfds.features.ClassLabel):
        return Task(task_name, num_classes=inner.num_classes, sequence=sequence)
    dtype = getattr(inner, "np_dtype", None)
    if isinstance(inner, tfds.features.Tensor) and dtype is not None:
        if dtype.kind == "f" and inner.shape in ((), (1,)):
            return Task(task_name, sequence=sequence)
    raise TypeError(
        f"labels[{name!r}] must be a ClassLabel, a Sequence of ClassLabel or a "
        f"scalar float Tensor feature. Received: {feature}"
    )


def _normalizer(feature, lowercase, replace_digits):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def normalize(text):
        if isinstance(feature, tfds.features.Text):
            text = tf.strings.split(text)
        if lowercase:
            text = tf.strings.lower(text, encoding="utf-8")
        if replace_digits:
            text = tf.strings.regex_replace(text, r"\d", "0")
        return text

    return normalize


def build_vocabulary(token_dataset, min_count=1, max_size=None):
    """Vocabulary of a dataset of 1-D string tensors.

    Tokens seen at least `min_count` times, the `max_size - 2` most frequent
    if capped, in alphabetical order after `"<pad>"` (0) and `"<oov>"` (1).
    """
    counts = collections.Counter()
    for tokens in token_dataset.as_numpy_iterator():
        counts.update(t.decode("utf-8") for t in tokens)
    kept = [w for w, c in counts.items() if c >= min_count]
    if max_size is not None:
        kept = sorted(kept, key=lambda w: (-counts[w], w))[: max(max_size - 2, 0)]
    return ["<pad>", "<oov>"] + sorted(kept)


def _encoder(vocabulary, normalize, inputs, labels, tasks, max_length):
    import tensorflow as tf

    if vocabulary is None:
        return None
    if len(vocabulary) < 2 or not all(isinstance(w, str) for w in vocabulary):
        raise TypeError(
            "`vocabulary` must be a list of str: padding, out of vocabulary, then "
            f"the tokens. Received: {vocabulary!r}"[:300]
        )
    # A placeholder key keeps the table non-empty; it never matches a token.
    keys = list(vocabulary[2:]) or ["\x00<none>"]
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string),
            tf.constant(list(range(2, 2 + len(keys))), tf.int32)
            if vocabulary[2:]
            else tf.constant([OOV], tf.int32),
        ),
        default_value=OOV,
    )

    def encode(example):
        ids = table.lookup(normalize(example[inputs]))
        if max_length is not None:
            ids = ids[:max_length]
        length = tf.shape(ids)[0]
        y = {}
        for task, feature in zip(tasks, labels.values()):
            label = tf.cast(
                example[feature], "int32" if task.num_classes else "float32"
            )
            if task.sequence:
                label = label[:length]
                label = tf.pad(
                    label, [[0, length - tf.shape(label)[0]]], constant_values=-1
                )
            y[task.name] = label
        return ids, y

    return encode


def _feature_encoder(feature, inputs, labels, tasks):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    scale = 255.0 if isinstance(feature, tfds.features.Image) else 1.0

    def encode(example):
        x = tf.cast(example[inputs], "float32") / scale
        y = {
            task.name: tf.reshape(
                tf.cast(example[f], "int32" if task.num_classes else "float32"), []
            )
            for task, f in zip(tasks, labels.values())
        }
        return x, y

    return encode
