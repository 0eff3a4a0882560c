"""Training and scoring recipes shared by the demo, the CLI and the examples."""

import time
from dataclasses import dataclass, field

import keras
import numpy as np

from keras_mtl import models
from keras_mtl.data.conll2000 import conll2000
from keras_mtl.evaluation import chunk_f1, token_accuracy
from keras_mtl.layers.crf import LinearChainCRF

TAGGING_BUILDERS = {
    "single_task": models.single_task,
    "hard_sharing": models.hard_sharing,
    "low_supervision": models.low_supervision,
    "cross_stitch": models.cross_stitch,
    "sluice": models.sluice,
}


@dataclass
class TaggingResult:
    """Scores of one trained tagging model on the CoNLL-2000 test set."""

    builder: str
    seed: int
    pos_accuracy: float
    chunk_f1: float
    parameters: int
    seconds: float
    model: keras.Model = field(repr=False, default=None)

    def row(self):
        return {
            "builder": self.builder,
            "seed": self.seed,
            "POS acc": round(100 * self.pos_accuracy, 2),
            "chunk F1": round(100 * self.chunk_f1, 2),
            "params": self.parameters,
            "seconds": round(self.seconds, 1),
        }


def _label_ids(outputs, crf):
    if crf:  # the Viterbi tags the CRF layer appends to its outputs
        return keras.ops.convert_to_numpy(LinearChainCRF.decoded_tags(outputs))
    return np.argmax(keras.ops.convert_to_numpy(outputs), axis=-1)


def predict_label_ids(model, batches):
    """Label ids per task for every example of a `BucketedSequences`.

    The arg-max of each output; a CRF task's Viterbi tags.

    Batches may have different lengths; predictions are placed back at the
    rows and time steps of the original (padded) arrays.

    Returns:
        dict task name → int array `(N, T)` (per-token tasks) or `(N,)`.
    """
    rows_in_order = batches.example_order()
    crf_tasks = {t.name for t in getattr(model, "tasks", []) if t.crf}
    out, start = {}, 0
    for index in range(len(batches)):
        x = batches[index][0]
        rows = rows_in_order[start : start + len(x)]
        start += len(x)
        for name, outputs in model.predict_on_batch(x).items():
            ids = _label_ids(outputs, name in crf_tasks)
            if name not in out:
                shape = (len(batches.x),) + batches.x.shape[1:2] * (ids.ndim - 1)
                out[name] = np.zeros(shape, dtype="int32")
            if ids.ndim == 2:
                out[name][rows, : ids.shape[1]] = ids
            else:
                out[name][rows] = ids
    return out


def builder_kwargs(builder, tasks):
    """Builder-specific defaults of the CoNLL-2000 recipe."""
    if builder == "low_supervision":
        return {"supervise_at": {"pos": 1}}
    if builder == "sluice":
        return {"num_subspaces": 2, "orthogonality_weight": 0.1}
    return {}


def train_conll2000(
    builder="sluice",
    epochs=2,
    units=64,
    embedding_dim=32,
    num_layers=2,
    batch_size=32,
    learning_rate=1e-2,
    seed=0,
    max_train_sentences=None,
    data=None,
    verbose=0,
    **kwargs,
):
    """Trains a builder on CoNLL-2000 (POS auxiliary, chunking main) and scores it.

    Args:
        builder: str. One of `TAGGING_BUILDERS`.
        epochs, units, embedding_dim, num_layers, batch_size, learning_rate,
            seed: The usual training settings.
        max_train_sentences: int or None. Train on the first N sentences only.
        data: A loaded `TaggingData` to reuse (else `conll2000()` is loaded).
        verbose: Keras verbosity of `fit`.
        **kwargs: Extra builder arguments (override the recipe's defaults).

    Returns:
        A `TaggingResult` with POS token accuracy and chunk F1 (conlleval) on
        the test set, the parameter count, training seconds and the model.
    """
    if builder not in TAGGING_BUILDERS:
        raise ValueError(
            f"`builder` must be one of {sorted(TAGGING_BUILDERS)}. "
            f"Received: builder={builder!r}"
        )
    data = data or conll2000(max_train_sentences=max_train_sentences)
    options = {**builder_kwargs(builder, data.tasks), **kwargs}
    model = TAGGING_BUILDERS[builder](
        data.tasks,
        vocab_size=data.vocab_size,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        learning_rate=learning_rate,
        seed=seed,
        **options,
    )
    start = time.perf_counter()
    model.fit(
        data.batches("train", batch_size, seed=seed), epochs=epochs, verbose=verbose
    )
    seconds = time.perf_counter() - start
    predicted = predict_label_ids(model, data.batches("test", 256))
    chunk = chunk_f1(
        data.decode_tags("chunk", data.y_test["chunk"], data.x_test),
        data.decode_tags("chunk", predicted["chunk"], data.x_test),
    )
    return TaggingResult(
        builder=builder,
        seed=seed,
        pos_accuracy=token_accuracy(data.y_test["pos"], predicted["pos"]),
        chunk_f1=chunk,
        parameters=model.count_params(),
        seconds=seconds,
        model=model,
    )
