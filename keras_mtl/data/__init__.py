"""Loaders for the bundled real datasets, returning what `model.fit` takes."""

from keras_mtl.data import user_files
from keras_mtl.data.computer_survey import computer_survey, computer_survey_tasks
from keras_mtl.data.conll2000 import TaggingData, conll2000
from keras_mtl.data.fdu_mtl import fdu_mtl
from keras_mtl.data.mixing import mix, stack_tasks
from keras_mtl.data.multitask_data import MultiTaskData
from keras_mtl.data.office_caltech import office_caltech, office_caltech_tasks
from keras_mtl.data.paths import dataset_dir
from keras_mtl.data.school import school, school_tasks
from keras_mtl.data.sequences import BucketedSequences, pad_sequences
from keras_mtl.data.tfds_adapter import TFDSStream, from_tfds

__all__ = [
    "user_files",
    "from_tfds",
    "mix",
    "stack_tasks",
    "MultiTaskData",
    "TFDSStream",
    "conll2000_tfds",
    "fdu_mtl",
    "office_caltech",
    "office_caltech_tasks",
    "computer_survey",
    "computer_survey_tasks",
    "school",
    "school_tasks",
    "BucketedSequences",
    "TaggingData",
    "conll2000",
    "dataset_dir",
    "pad_sequences",
]


def conll2000_tfds(*args, **kwargs):
    """CoNLL-2000 built offline as a TFDS dataset (`conll2000_tfds` module)."""
    from keras_mtl.data.conll2000_tfds import conll2000_tfds as load

    return load(*args, **kwargs)
