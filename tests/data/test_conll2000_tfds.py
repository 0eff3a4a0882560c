import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_mtl
from keras_mtl.data import conll2000, conll2000_tfds
from keras_mtl.data.conll2000_tfds import NAME


@pytest.mark.backends("torch")
def test_builds_offline_reads_and_trains(tmp_path):
    train = conll2000_tfds("train", data_dir=tmp_path, config="sample", shuffle=False)
    assert [(t.name, t.num_classes, t.sequence) for t in train.tasks] == [
        ("pos", 44, True),
        ("chunk", 23, True),
    ]
    builder = tfds.builder(f"{NAME}/sample", data_dir=str(tmp_path))
    assert builder.info.splits["train"].num_examples == 500
    assert len(tfds.load(f"{NAME}/sample", split="test", data_dir=str(tmp_path))) == 200
    # Token and tag ids equal those of the array loader on the same sentences.
    arrays = conll2000(max_train_sentences=500)
    assert train.vocabulary[2:] == arrays.vocabulary[2:]
    rows, tokens = 0, 0
    for x, y in train.dataset:
        rows += len(x)
        tokens += int(np.sum(x.numpy() != 0))
        assert np.all((y["pos"].numpy() >= 0) == (x.numpy() != 0))
    assert rows == 500 and tokens == int(np.sum(arrays.x_train != 0))
    model = keras_mtl.models.hard_sharing(
        train.tasks, vocab_size=train.vocab_size, units=4, embedding_dim=4, num_layers=1
    )
    model.fit(train.dataset.take(1), epochs=1, verbose=0)
