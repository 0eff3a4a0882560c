"""The bundled CoNLL-2000 files as a TFDS dataset, built offline.

Importing this module registers the builder `keras_mtl_conll2000` with
TensorFlow Datasets, so `tfds.load("keras_mtl_conll2000", data_dir=...)`
prepares it from the files shipped with keras_mtl (no download) and reads it.
"""

from pathlib import Path

import tensorflow_datasets as tfds

from keras_mtl.data.conll2000 import read_conll, tag_sets
from keras_mtl.data.paths import dataset_dir
from keras_mtl.data.tfds_adapter import from_tfds

NAME = "keras_mtl_conll2000"
# Sentences per split of each configuration (None: all).
CONFIG_SIZES = {"full": (None, None), "sample": (500, 200)}


class KerasMtlConll2000(tfds.core.GeneratorBasedBuilder):
    """CoNLL-2000 chunking (WSJ): tokens with POS and chunk (IOB2) tags.

    Splits `train` (8,936 sentences) and `test` (2,012), read from the
    bundled files; tag ids are the sorted tag sets of both files, as in
    `keras_mtl.data.conll2000`. The configuration `sample`
    (`keras_mtl_conll2000/sample`) keeps the first 500 and 200 sentences.
    """

    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="full", description="All sentences."),
        tfds.core.BuilderConfig(
            name="sample", description="The first 500 train / 200 test sentences."
        ),
    ]

    VERSION = tfds.core.Version("1.0.0")
    # Where TFDS looks for a checksums file: there is none (nothing to download).
    code_path = Path(__file__)
    RELEASE_NOTES = {"1.0.0": "The CoNLL-2000 shared task files."}

    def _info(self):
        pos, chunk = tag_sets(dataset_dir("conll2000"))
        return tfds.core.DatasetInfo(
            builder=self,
            description="CoNLL-2000 POS tagging and chunking.",
            features=tfds.features.FeaturesDict(
                {
                    "tokens": tfds.features.Sequence(tfds.features.Text()),
                    "pos": tfds.features.Sequence(tfds.features.ClassLabel(names=pos)),
                    "chunks": tfds.features.Sequence(
                        tfds.features.ClassLabel(names=chunk)
                    ),
                }
            ),
            homepage="https://www.clips.uantwerpen.be/conll2000/chunking/",
        )

    def _split_generators(self, dl_manager):
        folder = dataset_dir("conll2000")
        train, test = CONFIG_SIZES[self.builder_config.name]
        return {
            "train": self._generate_examples(folder / "train.txt.gz", train),
            "test": self._generate_examples(folder / "test.txt.gz", test),
        }

    def _generate_examples(self, path, limit):
        for index, sentence in enumerate(read_conll(path)[:limit]):
            words, pos, chunks = zip(*sentence)
            yield index, {"tokens": words, "pos": pos, "chunks": chunks}


def conll2000_tfds(split="train", *, data_dir, config="full", batch_size=32, **kwargs):
    """CoNLL-2000 through TFDS: builds it offline in `data_dir`, then `from_tfds`.

    Tokens are normalised as `keras_mtl.data.conll2000` does (lower case,
    digits → 0, tokens seen once in training out of vocabulary), so the
    token and tag ids equal those of the array loader.

    Args:
        split: `"train"` or `"test"` (or a TFDS split expression).
        data_dir: str. Where TFDS writes the prepared dataset.
        config: `"full"` or `"sample"` (500 / 200 sentences). Defaults to
            `"full"`.
        batch_size: int. Defaults to `32`.
        **kwargs: more `from_tfds` arguments (`vocabulary`, `seed`, ...).

    Returns:
        A `TFDSStream` with tasks `pos` (44 tags) and `chunk` (23 tags).
    """
    options = {"lowercase": True, "replace_digits": True, "min_count": 2, **kwargs}
    if config not in CONFIG_SIZES:
        raise ValueError(
            f"`config` must be one of {sorted(CONFIG_SIZES)}. Received: {config!r}"
        )
    return from_tfds(
        f"{NAME}/{config}",
        inputs="tokens",
        labels={"pos": "pos", "chunk": "chunks"},
        split=split,
        batch_size=batch_size,
        data_dir=str(data_dir),
        **options,
    )
