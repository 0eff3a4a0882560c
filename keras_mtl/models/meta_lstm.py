"""Meta-LSTM multi-task models (Chen et al., AAAI 2018) and meta-knowledge transfer."""

import keras
import numpy as np
from keras import ops

from keras_mtl.arguments import check_bool, check_choice
from keras_mtl.layers.last_step import LastStep
from keras_mtl.layers.meta_lstm import MetaLSTM, batch_kind
from keras_mtl.layers.meta_lstm_cell import META_WEIGHTS
from keras_mtl.layers.task_conditioning import TaskConditioning
from keras_mtl.layers.task_routing import TaskRouting
from keras_mtl.layers.task_split import TaskSplit
from keras_mtl.modeling.encoder_spec import EncoderSpec, embed, layer_seed, model_input
from keras_mtl.modeling.multitask_model import token_embedding
from keras_mtl.modeling.network import MultiTaskNetwork, prepare, task_head
from keras_mtl.task import Task

SPEC_ARGUMENTS = ("input_shape", "vocab_size", "embedding_dim", "units", "num_layers")
READOUTS = ("mean", "last")


@keras.saving.register_keras_serializable(package="keras_mtl")
class MetaLSTMNetwork(MultiTaskNetwork):
    """A Meta-LSTM multi-task model (Chen et al., AAAI 2018).

    Every layer is a `keras_mtl.layers.MetaLSTM`: a meta-LSTM (and its
    `W_z`) shared by all tasks generates, step by step, the weights of a
    basic LSTM whose factors `P`, `Q`, `B` are task-specific; each task has
    its own output head (pooled by `readout` for sentence tasks, per step for
    `sequence=True` tagging tasks).

    Inputs. The model takes the token array `(batch, time)` (0 = padding)
    with labels for any subset of tasks, as every builder does: with several
    tasks, every task's basic LSTM (its own `P`, `Q`, `B`, and its own
    meta-LSTM state) reads every example and every head predicts; label
    `-1` (or `NaN`) what an example does not have. The batch is tiled over
    the tasks (`TaskRouting` / `TaskSplit`), so a step costs about M times
    a single-task one.

    Data where each example belongs to one task (FDU-MTL) may instead pass
    `{"tokens": (batch, time) int, "task_id": (batch,) int}`: then only the
    task `task_id[i]` reads example i, one batch may mix tasks, and only
    `outputs[task][i]` of that task is meaningful (label the others `-1`;
    `keras_mtl.data.fdu_mtl` does it for you). `fit`, `evaluate` and
    `predict` reject task ids outside `0..len(tasks) - 1`. A batch that
    mixes tasks evaluates every task's `P`, `Q`, `B` and keeps each
    example's own (a step costs about M single-task ones); a batch of one
    task runs that task's weights alone, as the paper trains (e.g.
    `data.batches(one_task_per_batch=True)`; see `keras_mtl.layers.MetaLSTM`).

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
        readout: `"mean"` (the mean over the unmasked steps) or `"last"`
            (the state at the last unmasked step, the paper's read-out; not
            with `bidirectional=True`): how sentence tasks read the last
            layer's outputs. Defaults to `"mean"`.
        dropout: float. Input dropout of every layer. Defaults to `0.0`.
        recurrent_dropout: float. Dropout on `h_{t-1}`. Defaults to `0.0`.
        meta_trainable: bool. `False` freezes the meta-LSTMs and `W_z` (as
            `meta_lstm_transfer` does). Defaults to `True`.
        embedding_trainable: bool. `False` freezes the token embeddings.
            Defaults to `True`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds the weights and every cell's dropout.
        name: str. Model name.

    Example:

    >>> tasks = [Task("books", 2), Task("dvd", 2)]
    >>> model = MetaLSTMNetwork(tasks, vocab_size=50, units=8, meta_units=4)
    >>> x = {"tokens": np.array([[3, 4, 0], [5, 6, 7]]), "task_id": np.array([0, 1])}
    >>> y = {"books": np.array([1, -1]), "dvd": np.array([-1, 0])}  # -1: other task
    >>> history = model.fit(x, y, epochs=1, verbose=0)

    Reference:
        Chen, Qiu, Liu, Huang. Meta Multi-Task Learning for Sequence
        Modeling. AAAI 2018 (arXiv 1802.08969).
    """

    def __init__(
        self,
        tasks,
        *,
        meta_units=32,
        meta_vector_dim=None,
        bidirectional=False,
        readout="mean",
        dropout=0.0,
        recurrent_dropout=0.0,
        meta_trainable=True,
        embedding_trainable=True,
        learning_rate=1e-3,
        seed=None,
        name="meta_lstm",
        **encoder_arguments,
    ):
        tasks = prepare(tasks, seed)
        check_bool(bidirectional, "bidirectional")
        check_choice(readout, "readout", READOUTS)
        if readout == "last" and bidirectional:
            raise ValueError(
                "readout='last' reads the final state of a left-to-right LSTM; "
                "with bidirectional=True the backward direction ends at the "
                "first step. Use readout='mean', or bidirectional=False."
            )
        check_bool(meta_trainable, "meta_trainable")
        check_bool(embedding_trainable, "embedding_trainable")
        spec = EncoderSpec(
            "MetaLSTMNetwork",
            encoder_arguments,
            accepts=SPEC_ARGUMENTS,
            defaults={"num_layers": 1, "encoder": "mlp"},
            seed=seed,
        )
        if not spec.is_sequence:
            raise ValueError(
                "meta_lstm() reads sequences: pass `vocab_size` (tokens) or an "
                "`input_shape` of rank 2 (time, features). Received: "
                f"input_shape={spec.input_shape!r}"
            )
        # With task ids the inputs are the dict {"tokens", "task_id"}, also
        # for real-valued sequences.
        input_name = "tokens" if len(tasks) > 1 else None
        tokens = model_input(spec.input_shape, spec.vocab_size, name=input_name)
        tensors, x, task_id = tokens, tokens, None
        if len(tasks) > 1:
            # Optional: without it every task reads every example.
            task_id = keras.Input(
                shape=(), dtype="int32", name="task_id", optional=True
            )
            tensors = {"tokens": tokens, "task_id": task_id}
            x, ids = TaskRouting(len(tasks), name="task_routing")(x, task_id)
        x = embed(x, spec.vocab_size, spec.embedding_dim)
        cell_arguments = {
            "units": spec.units,
            "meta_units": meta_units,
            "meta_vector_dim": meta_vector_dim,
            "num_tasks": len(tasks),
            "dropout": dropout,
            "recurrent_dropout": recurrent_dropout,
            "meta_trainable": meta_trainable,
        }
        for k in range(1, spec.num_layers + 1):
            if len(tasks) > 1:
                x = TaskConditioning(len(tasks), name=f"task_code_{k}")([x, ids])
            rnn = _meta_rnn(
                cell_arguments, f"meta_lstm_{k}", f"meta_lstm_cell_{k}", seed
            )
            if bidirectional:
                # Its own backward cell: a cloned one would share the seed,
                # so both directions would drop the same units.
                backward = _meta_rnn(
                    cell_arguments,
                    f"meta_lstm_{k}_backward",
                    f"meta_lstm_cell_{k}_backward",
                    seed,
                    go_backwards=True,
                )
                rnn = keras.layers.Bidirectional(
                    rnn, backward_layer=backward, name=f"meta_lstm_{k}"
                )
            x = rnn(x)
        outputs = _task_outputs(tasks, x, task_id, readout)
        super().__init__(
            tensors,
            outputs,
            tasks=tasks,
            spec=spec,
            learning_rate=learning_rate,
            name=name,
        )
        embedding = token_embedding(self)
        if embedding is not None and not embedding_trainable:
            embedding.trainable = False
            self.compile()

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._with_task_id(inputs), *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        inputs = self._with_task_id(inputs)
        if len(self.tasks) == 1 or inputs["task_id"] is not None:
            return super().call(inputs, *args, **kwargs)
        # Without task ids the batch is tiled over the tasks: always mixed.
        with batch_kind(self.meta_lstm_layers(), "mixed"):
            return super().call(inputs, *args, **kwargs)

    def train_step(self, *args):
        """Keras's training step, branched once on whether the batch is one task.

        On JAX and TensorFlow, given task ids, the step is traced twice: for
        a batch of one task (every layer runs that task's `P`, `Q`, `B`
        alone) and for a mixed batch; `ops.cond` on the ids picks one per
        batch. Branching around the whole step, rather than inside each
        layer, keeps the gradient from carrying both loops' saved
        activations (`benchmarks/meta_lstm.py` measures both). On torch
        (eager), with `run_eagerly=True`, with `jit_compile=False` on JAX,
        under a `tf.distribute` strategy (`keras_mtl.distribution` on
        TensorFlow) and without task ids, it is Keras's step (each layer
        decides by itself). Tracing two whole steps about doubles the first
        step's compile time.
        """
        x, _, _ = keras.utils.unpack_x_y_sample_weight(args[-1])
        ids = x.get("task_id") if isinstance(x, dict) else None
        if not self._traces_steps() or len(self.tasks) == 1 or ids is None:
            return super().train_step(*args)
        ids = ops.reshape(ids, (-1,))
        layers = self.meta_lstm_layers()

        def step(kind):
            def traced():
                with batch_kind(layers, kind):
                    return super(MetaLSTMNetwork, self).train_step(*args)

            return traced

        one_task = ops.all(ops.equal(ids, ids[0]))
        return ops.cond(one_task, step("one_task"), step("mixed"))

    def _traces_steps(self):
        """Whether the training step may branch: it is traced once (eagerly
        both branches would be traced again at every batch), and not inside
        a `tf.distribute` strategy, whose optimizer step synchronises the
        replicas and so cannot sit in a conditional."""
        backend = keras.backend.backend()
        if self.run_eagerly or backend == "torch":
            return False
        if backend == "tensorflow":
            import tensorflow as tf  # this backend's own distribution API

            return not tf.distribute.has_strategy()
        return bool(self.jit_compile)

    def meta_lstm_layers(self):
        """The model's `MetaLSTM` layers, both directions of bidirectional ones.

        Returns:
            list of `keras_mtl.layers.MetaLSTM`, in layer order (forward
            direction first).
        """
        found = []
        for layer in self.layers:
            if isinstance(layer, keras.layers.Bidirectional):
                found += [layer.forward_layer, layer.backward_layer]
            else:
                found.append(layer)
        return [layer for layer in found if isinstance(layer, MetaLSTM)]

    def _with_task_id(self, inputs):
        """Token ids alone (or no `"task_id"`): every task reads every example."""
        if len(self.tasks) == 1:
            return inputs
        if not isinstance(inputs, dict):
            inputs = {"tokens": inputs}
        if "task_id" not in inputs:
            inputs = {**inputs, "task_id": None}
        return inputs

    def check_model_inputs(self, x, argument):
        """Task ids given as arrays must be in `0..len(tasks) - 1`."""
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


MetaLSTMModel = MetaLSTMNetwork  # the name of earlier releases


def _pool(x, readout, name):
    if readout == "last":
        return LastStep(name=name)(x)
    return keras.layers.GlobalAveragePooling1D(name=name)(x)


def _task_outputs(tasks, x, task_id, readout="mean"):
    """Each task's head on its part of the (routed) Meta-LSTM outputs."""
    if len(tasks) == 1:
        task = tasks[0]
        if task.sequence or readout == "mean":
            return {task.name: task_head(task, x, True)}
        return {task.name: task_head(task, _pool(x, readout, "pool"), False)}
    parts = {}
    if any(t.sequence for t in tasks):
        parts[True] = TaskSplit(len(tasks), name="task_split")(x, task_id)
    if not all(t.sequence for t in tasks):
        # Pooled before the split, while the padding mask is still attached.
        pooled = _pool(x, readout, "pool")
        parts[False] = TaskSplit(len(tasks), name="task_split_pooled")(pooled, task_id)
    return {
        t.name: task_head(t, parts[t.sequence][m], t.sequence)
        for m, t in enumerate(tasks)
    }


def _meta_rnn(cell_arguments, name, cell_name, seed, go_backwards=False):
    """A `MetaLSTM` layer whose cell has its own dropout seed."""
    return MetaLSTM(
        **cell_arguments,
        seed=layer_seed(seed, cell_name),
        return_sequences=True,
        go_backwards=go_backwards,
        name=name,
    )


def meta_lstm(tasks, **kwargs):
    """Builds a compiled `MetaLSTMNetwork` (Chen et al., AAAI 2018).

    Args:
        tasks: list of `keras_mtl.Task` (sentence or sequence tasks).
        **kwargs: The arguments of `MetaLSTMNetwork` (`vocab_size` or
            `input_shape`, `units`, `meta_units`, `num_layers`, ...).

    Returns:
        A compiled `MetaLSTMNetwork` whose outputs are a dict keyed by task.

    Example:

    >>> model = meta_lstm([Task("books", 2), Task("dvd", 2)], vocab_size=50)
    """
    return MetaLSTMNetwork(tasks, **kwargs)


def meta_lstm_transfer(
    model, task, *, freeze_embedding=True, learning_rate=1e-3, seed=None, name=None
):
    """A model for a new task that reuses a trained Meta-LSTM's meta knowledge.

    Builds a single-task `MetaLSTMNetwork` for `task` from the configuration
    of `model` (a trained `meta_lstm` model), copies its meta-LSTMs and `W_z`
    (and token embeddings) and freezes them: training the returned model
    learns only the new task's own `P`, `Q`, `B` and output head, as in the
    paper's transfer experiment. `model` is left unchanged and keeps serving
    its own tasks; the new model takes the token array alone.

    Args:
        model: A `MetaLSTMNetwork` (trained).
        task: `keras_mtl.Task`. The new task.
        freeze_embedding: bool. Copy the token embeddings and freeze them
            too. `False` copies them but lets them train. Defaults to `True`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        seed: int or None. Seeds the new task weights.
        name: str or None. Model name. Defaults to `"<model.name>_<task>"`.

    Returns:
        A compiled `MetaLSTMNetwork` with the single output `task`.

    Example:

    >>> meta = meta_lstm([Task("books", 2), Task("dvd", 2)], vocab_size=50,
    ...                  units=8, meta_units=4)
    >>> new = meta_lstm_transfer(meta, Task("video", 2))
    >>> new.get_layer("meta_lstm_1").cell.meta_trainable
    False
    """
    if not isinstance(model, MetaLSTMNetwork):
        raise TypeError(
            "`model` must be a MetaLSTMNetwork (built by keras_mtl.models."
            f"meta_lstm). Received: model={model!r}"
        )
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a keras_mtl.Task. Received: task={task!r}")
    check_bool(freeze_embedding, "freeze_embedding")
    config = model.get_config()
    for key in ("tasks", "name", "learning_rate", "seed"):
        config.pop(key)
    config.update(meta_trainable=False, embedding_trainable=not freeze_embedding)
    new = MetaLSTMNetwork.from_config(
        {
            **config,
            "tasks": [task.get_config()],
            "learning_rate": learning_rate,
            "seed": seed,
            "name": name or f"{model.name}_{task.name}",
        }
    )
    # The same configuration: the same layers, in the same order.
    for old, fresh in zip(model.meta_lstm_layers(), new.meta_lstm_layers()):
        for weight in META_WEIGHTS:
            value = keras.ops.convert_to_numpy(getattr(old.cell, weight))
            getattr(fresh.cell, weight).assign(value)
    embedding = token_embedding(model)
    if embedding is not None:
        token_embedding(new).set_weights(embedding.get_weights())
    return new
