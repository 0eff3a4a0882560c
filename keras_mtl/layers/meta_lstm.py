"""The Meta-LSTM layer: a `MetaLSTMCell` run over sequences, one-task batches fast."""

import contextlib

import keras
from keras import ops
from keras.src import backend

from keras_mtl.layers.meta_lstm_cell import MetaLSTMCell

CELL_ARGUMENTS = (
    "units",
    "meta_units",
    "meta_vector_dim",
    "num_tasks",
    "dropout",
    "recurrent_dropout",
    "meta_trainable",
    "seed",
)
BATCH_KINDS = ("one_task", "mixed")


@contextlib.contextmanager
def batch_kind(layers, kind):
    """Within the block, the `MetaLSTM` layers trace one loop, not both.

    Outside it a layer decides once per batch, in the graph (`ops.cond`),
    whether the batch holds one task. A model that knows the kind of its
    batch beforehand traces the loop for it alone: `"mixed"` (the all-task
    step) or `"one_task"` (the weights of the first sequence's task: the
    caller guarantees that every sequence carries the same task code).
    Differentiating through a conditional costs both branches' saved
    activations, so a model that branches around its whole training step
    instead (see `MetaLSTMNetwork.train_step`) trains faster on JAX and
    TensorFlow.

    Args:
        layers: iterable of `MetaLSTM` layers.
        kind: `"one_task"` or `"mixed"`.
    """
    if kind not in BATCH_KINDS:
        raise ValueError(f"`kind` must be one of {BATCH_KINDS}. Received: {kind!r}")
    layers = list(layers)
    for layer in layers:
        if not isinstance(layer, MetaLSTM):
            raise TypeError(
                f"`layers` must be MetaLSTM layers. Received: {type(layer).__name__}"
            )
    previous = [layer.traced_batch_kind for layer in layers]
    for layer in layers:
        layer.traced_batch_kind = kind
    try:
        yield
    finally:
        for layer, kind_before in zip(layers, previous):
            layer.traced_batch_kind = kind_before


@keras.saving.register_keras_serializable(package="keras_mtl")
class MetaLSTM(keras.layers.RNN):
    """A Meta-LSTM layer: `MetaLSTMCell` run over a sequence.

    Computes exactly what `keras.layers.RNN(MetaLSTMCell(...))` computes (see
    `MetaLSTMCell` for the equations and the task code), and is faster when
    a batch holds one task. With `num_tasks = M > 1` the cell's general step
    evaluates the stacked `P`, `Q`, `B` of all M tasks and keeps each
    example's own (a step costs about M single-task steps); this layer looks
    at the batch's task codes first and, when every sequence carries the
    same code, selects that task's `P`, `Q`, `B` once and runs the
    single-task step (`ops.cond`, once per batch, not per step). Batches
    drawn from one task at a time, as the paper trains, then cost about one
    task's LSTM whatever M is; mixed batches cost what the cell costs
    (measured in `benchmarks/meta_lstm.py`).

    The task code is read from the first step of each sequence; it must not
    change along a sequence (`keras_mtl.layers.TaskConditioning` repeats it
    at every step).

    A model that knows beforehand what kind its batches are can trace one
    loop only (`batch_kind`, attribute `traced_batch_kind`): on JAX and
    TensorFlow, `keras_mtl.models.MetaLSTMNetwork` branches around its
    whole training step that way, which is faster than this layer's branch
    inside the gradient.

    Args:
        units: int. Width of the basic LSTM (the output). At least 1.
        meta_units: int. Width of the meta-LSTM. At least 1.
        meta_vector_dim: int or None. Width of the meta vector. Defaults to
            `meta_units`.
        num_tasks: int. Number of tasks with their own `P`, `Q`, `B`; with
            more than one, the last `num_tasks` features of every step are
            the one-hot task code. Defaults to `1`.
        dropout: float. Dropout rate on the inputs. Defaults to `0.0`.
        recurrent_dropout: float. Dropout rate on `h_{t-1}`. Defaults to
            `0.0`.
        meta_trainable: bool. Whether the meta-LSTM weights and `W_z` train.
            Defaults to `True`.
        seed: int or None. Seed of the dropout masks.
        return_sequences: bool. Return every step's output, not only the
            last. Defaults to `False`.
        return_state: bool. Also return the final states. Defaults to
            `False`.
        go_backwards: bool. Read the sequence backwards. Defaults to `False`.
        **kwargs: Other `keras.layers.RNN` arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, d)`, or `(batch, time, d + num_tasks)` with
            the task code last when `num_tasks > 1`.
        mask: optional `(batch, time)` boolean mask.
        training: bool. Enables dropout.

    Returns:
        `(batch, time, units)` with `return_sequences=True`, else
        `(batch, units)`.

    Example:

    >>> layer = MetaLSTM(16, 8, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3))).shape)
    (2, 5, 16)
    """

    def __init__(
        self,
        units,
        meta_units,
        meta_vector_dim=None,
        num_tasks=1,
        dropout=0.0,
        recurrent_dropout=0.0,
        meta_trainable=True,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        **kwargs,
    ):
        name = kwargs.get("name")
        cell = MetaLSTMCell(
            units,
            meta_units,
            meta_vector_dim=meta_vector_dim,
            num_tasks=num_tasks,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            meta_trainable=meta_trainable,
            seed=seed,
            dtype=kwargs.get("dtype"),
            name=f"{name}_cell" if name else "meta_lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            **kwargs,
        )
        # Computing x_t's half of every product for all steps at once, before
        # the recurrence, trains faster on torch and slower on JAX
        # (benchmarks/meta_lstm.py); both give the same numbers.
        self.hoist_input_products = keras.backend.backend() == "torch"
        # None: decided per batch in the graph; set by `batch_kind`.
        self.traced_batch_kind = None

    def inner_loop(self, sequences, initial_state, mask, training=False):
        kind = self.traced_batch_kind
        if self.cell.num_tasks == 1 or kind == "mixed":
            return self._loop(sequences, initial_state, mask, training)
        codes = sequences[:, 0, self.cell.input_dim :]

        def one_task_loop():
            weights = self.cell.one_task_weights(codes[0])
            return self._loop(sequences, initial_state, mask, training, weights)

        if kind == "one_task":
            return one_task_loop()
        one_task = ops.all(ops.equal(codes, codes[:1]))
        return ops.cond(
            one_task,
            one_task_loop,
            lambda: self._loop(sequences, initial_state, mask, training),
        )

    def _loop(self, sequences, initial_state, mask, training, task_weights=None):
        """`keras.layers.RNN`'s loop; the cell given one task's weights or none."""
        cell = self.cell
        if self.hoist_input_products:
            kernels = cell.step_kernels(task_weights)
            x = sequences[:, :, : cell.input_dim]
            if training and 0.0 < cell.dropout:
                dropout = cell.get_dropout_mask(sequences[:, 0, :])
                x = x * dropout[:, None, : cell.input_dim]
            code = None
            if task_weights is None and cell.num_tasks > 1:
                code = sequences[:, 0, cell.input_dim :]
            sequences = ops.matmul(x, kernels["input"])

            def step(inputs, states):
                return cell.projected_step(inputs, states, kernels, code, training)

        else:

            def step(inputs, states):
                return cell(
                    inputs, states, training=training, task_weights=task_weights
                )

        return backend.rnn(
            step,
            sequences,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask[0] if isinstance(mask, (list, tuple)) else mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def get_config(self):
        config = super().get_config()
        cell = config.pop("cell")["config"]
        return {**config, **{key: cell[key] for key in CELL_ARGUMENTS}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
