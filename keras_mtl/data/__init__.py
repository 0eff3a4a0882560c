"""Loaders for the bundled real datasets, returning what `model.fit` takes."""

from keras_mtl.data.computer_survey import computer_survey, computer_survey_tasks
from keras_mtl.data.conll2000 import TaggingData, conll2000
from keras_mtl.data.fdu_mtl import fdu_mtl
from keras_mtl.data.office_caltech import office_caltech, office_caltech_tasks
from keras_mtl.data.paths import dataset_dir
from keras_mtl.data.school import school, school_tasks
from keras_mtl.data.sequences import BucketedSequences, pad_sequences

__all__ = [
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
