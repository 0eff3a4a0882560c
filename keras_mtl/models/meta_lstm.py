"""Meta-LSTM multi-task models (Chen et al., AAAI 2018) and meta-knowledge transfer."""

import keras
import numpy as np

from keras_mtl.arguments import check_int
from keras_mtl.layers.meta_lstm_cell import META_WEIGHTS, MetaLSTMCell
from keras_mtl.layers.task_conditioning import TaskConditioning
from keras_mtl.models.architecture import architecture
from keras_mtl.models.components import (
    ModelInputs,
    compile_tasks,
    layer_seed,
    prepare,
    task_head,
)
from keras_mtl.models.multitask_model import MultiTaskModel, token_embedding
from keras_mtl.task import Task


@keras.saving.register_keras_serializable(package="keras_mtl")
class MetaLSTMModel(MultiTaskModel):
    """A `MultiTaskModel` whose input carries each example's task id.

    Besides the checks of `MultiTaskModel`, `fit`, `evaluate` and `predict`
    reject task ids outside `0..len(tasks) - 1` given as arrays (a wrong id
    would otherwise select no task weights at all, silently).
    """

    def _check_task_ids(self, x, argument="x"):
        if not isinstance(x, dict) or "task_id" not in x:
            return
        ids = x["task_id"]
        if not hasattr(ids, "__array__") or hasattr(ids, "element_spec"):
            return
        ids = np.asarray(ids)
        count = len(self.tasks)
        if ids.dtype.kind not in "iu":
            raise TypeError(
                f"`{argument}['task_id']` must hold integer task ids. "
                f"Received dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= count):
            raise ValueError(
                f"`{argument}['task_id']` must hold task ids in 0..{count - 1} "
                f"(the index of the task in `tasks`). Received values in "
                f"[{ids.min()}, {ids.max()}]."
            )

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check_task_ids(x)
        validation = kwargs.get("validation_data")
        if isinstance(validation, (tuple, list)) and validation:
            self._check_task_ids(validation[0], "validation_data x")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_task_ids(x)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_task_ids(x)
        return super().predict(x, *args, **kwargs)


@architecture("meta_lstm")
def meta_lstm(
    tasks,
    *,
    vocab_size=None,
    input_shape=None,
    embedding_dim=64,
    units=64,
    meta_units=32,
    meta_vector_dim=None,
    num_layers=1,
    bidirectional=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    learning_rate=1e-3,
    seed=None,
    name="meta_lstm",
):
    """A Meta-LSTM multi-task model (Chen et al., AAAI 2018).

    Every layer is a `keras.layers.RNN(MetaLSTMCell)`: a meta-LSTM (and its
    `W_z`) shared by all tasks generates, step by step, the weights of a
    basic LSTM whose factors `P`, `Q`, `B` are task-specific; each task has
    its own output head (mean-pooled for sentence tasks, per step for
    `sequence=True` tagging tasks).

    Inputs. With one task the model takes the token array `(batch, time)`
    (0 = padding) alone. With several tasks it takes a dict
    `{"tokens": (batch, time) int, "task_id": (batch,) int}`: each example
    names the task (index in `tasks`) whose `P`, `Q`, `B` read it, so one
    batch may mix tasks. The output dict has every task's prediction for
    every example, but only `outputs[task][i]` of the task `task_id[i]` is
    meaningful: label the others `-1` (the missing-label convention does the
    rest; `keras_mtl.data.fdu_mtl` does it for you). An example labelled for
    several tasks is fed once per task.

    Args:
        tasks: list of `keras_mtl.Task` (sentence or sequence tasks).
        vocab_size: int. Token vocabulary size (0 = padding, masked); or
        input_shape: tuple `(time, features)` for real-valued sequences.
            Give exactly one of the two.
        embedding_dim: int. Token embedding width. Defaults to `64`.
        units: int. Width of the basic LSTMs. Defaults to `64`.
        meta_units: int. Width of the shared meta-LSTM. Defaults to `32`.
        meta_vector_dim: int or None. Width of the meta vector `z`.
            Defaults to `meta_units`.
        num_layers: int. Number of stacked Meta-LSTM layers. Defaults to `1`.
        bidirectional: bool. Wrap each layer in `keras.layers.Bidirectional`
            (concatenated, width `2 * units`). Defaults to `False`.
        dropout: float. Input dropout of every layer. Defaults to `0.0`.
        recurrent_dropout: float. Dropout on `h_{t-1}`. Defaults to `0.0`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds Keras's global RNG before weights are made.
        name: str. Model name.

    Returns:
        A compiled `MetaLSTMModel` whose outputs are a dict keyed by task.

    Example:

    >>> tasks = [Task("books", 2), Task("dvd", 2)]
    >>> model = meta_lstm(tasks, vocab_size=5000, units=64, meta_units=32)
    >>> model.fit({"tokens": x, "task_id": ids},
    ...           {"books": y_books, "dvd": y_dvd})  # -1 where not that task

    Reference:
        Chen, Qiu, Liu, Huang. Meta Multi-Task Learning for Sequence
        Modeling. AAAI 2018 (arXiv 1802.08969).
    """
    tasks = prepare(tasks, seed)
    model = _build(
        tasks,
        vocab_size=vocab_size,
        input_shape=input_shape,
        embedding_dim=embedding_dim,
        units=units,
        meta_units=meta_units,
        meta_vector_dim=meta_vector_dim,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        seed=seed,
        name=name,
        meta_trainable=True,
    )
    return compile_tasks(model, learning_rate)


def _build(
    tasks,
    *,
    vocab_size,
    input_shape,
    embedding_dim,
    units,
    meta_units,
    meta_vector_dim,
    num_layers,
    bidirectional,
    dropout,
    recurrent_dropout,
    seed,
    name,
    meta_trainable,
):
    num_layers = check_int(num_layers, "num_layers")
    if not isinstance(bidirectional, bool):
        raise TypeError(
            f"`bidirectional` must be a bool. Received: bidirectional={bidirectional!r}"
        )
    inputs = ModelInputs(input_shape, vocab_size, embedding_dim)
    if not inputs.is_sequence:
        raise ValueError(
            "meta_lstm() reads sequences: pass `vocab_size` (tokens) or an "
            f"`input_shape` of rank 2 (time, features). Received: "
            f"input_shape={input_shape!r}"
        )
    x = inputs.features
    tensors = inputs.tensor
    if len(tasks) > 1:
        task_id = keras.Input(shape=(), dtype="int32", name="task_id")
        tensors = {"tokens": inputs.tensor, "task_id": task_id}
    for k in range(1, num_layers + 1):
        if len(tasks) > 1:
            x = TaskConditioning(len(tasks), name=f"task_code_{k}")([x, task_id])
        cell = MetaLSTMCell(
            units,
            meta_units,
            meta_vector_dim,
            num_tasks=len(tasks),
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            meta_trainable=meta_trainable,
            seed=layer_seed(seed, f"meta_lstm_cell_{k}"),
            name=f"meta_lstm_cell_{k}",
        )
        rnn = keras.layers.RNN(cell, return_sequences=True, name=f"meta_lstm_{k}")
        if bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"meta_lstm_{k}")
        x = rnn(x)
    outputs = {t.name: task_head(t, x, True) for t in tasks}
    return MetaLSTMModel(tensors, outputs, name=name, tasks=tasks)


def _meta_cells(model):
    """The `MetaLSTMCell`s of a meta_lstm model, layer by layer, per direction."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            layers.append([layer.forward_layer.cell, layer.backward_layer.cell])
        elif isinstance(layer, keras.layers.RNN) and isinstance(
            layer.cell, MetaLSTMCell
        ):
            layers.append([layer.cell])
    if not layers or not all(isinstance(c, MetaLSTMCell) for g in layers for c in g):
        raise ValueError(
            "`model` must be a model built by keras_mtl.models.meta_lstm "
            f"(found no MetaLSTMCell layers in {model.name!r})."
        )
    return layers


def meta_lstm_transfer(
    model, task, *, freeze_embedding=True, learning_rate=1e-3, seed=None, name=None
):
    """A model for a new task that reuses a trained Meta-LSTM's meta knowledge.

    Builds a single-task Meta-LSTM for `task` with the architecture of
    `model` (a trained `meta_lstm` model), copies its meta-LSTMs and `W_z`
    (and token embeddings) and freezes them: training the returned model
    learns only the new task's own `P`, `Q`, `B` and output head, as in the
    paper's transfer experiment. `model` is left unchanged and keeps serving
    its own tasks; the new model takes the token array alone.

    Args:
        model: A model built by `meta_lstm` (trained).
        task: `keras_mtl.Task`. The new task.
        freeze_embedding: bool. Copy the token embeddings and freeze them
            too. `False` copies them but lets them train. Defaults to `True`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds the new task weights.
        name: str or None. Model name. Defaults to `"<model.name>_<task>"`.

    Returns:
        A compiled `MetaLSTMModel` with the single output `task`.

    Example:

    >>> meta = meta_lstm(tasks[:15], vocab_size=5000)
    >>> meta.fit(x_15, y_15)
    >>> new = meta_lstm_transfer(meta, Task("video", 2))
    >>> new.fit(x_video, y_video)  # only video's P, Q, B and head learn
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a keras_mtl.Task. Received: task={task!r}")
    if not isinstance(freeze_embedding, bool):
        raise TypeError(
            "`freeze_embedding` must be a bool. "
            f"Received: freeze_embedding={freeze_embedding!r}"
        )
    source = _meta_cells(model)
    cell = source[0][0]
    embedding = token_embedding(model)
    features = {"vocab_size": None, "input_shape": None, "embedding_dim": 64}
    if embedding is None:
        sequence = [t for t in model.inputs if "task_id" not in t.name][0]
        features["input_shape"] = tuple(sequence.shape[1:])
    else:
        features["vocab_size"] = embedding.input_dim
        features["embedding_dim"] = embedding.output_dim
    tasks = prepare([task], seed)
    new = _build(
        tasks,
        **features,
        units=cell.units,
        meta_units=cell.meta_units,
        meta_vector_dim=cell.meta_vector_dim,
        num_layers=len(source),
        bidirectional=len(source[0]) == 2,
        dropout=cell.dropout,
        recurrent_dropout=cell.recurrent_dropout,
        seed=seed,
        name=name or f"{model.name}_{task.name}",
        meta_trainable=False,
    )
    for old_cells, new_cells in zip(source, _meta_cells(new)):
        for old, fresh in zip(old_cells, new_cells):
            for weight in META_WEIGHTS:
                value = keras.ops.convert_to_numpy(getattr(old, weight))
                getattr(fresh, weight).assign(value)
    if embedding is not None:
        new_embedding = token_embedding(new)
        new_embedding.set_weights(embedding.get_weights())
        new_embedding.trainable = not freeze_embedding
    return compile_tasks(new, learning_rate)
