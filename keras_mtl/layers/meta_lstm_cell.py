"""The Meta-LSTM cell: a basic LSTM whose weights a shared meta-LSTM generates."""

import math

import keras
from keras import ops
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_mtl.arguments import check_float, check_int

META_WEIGHTS = (
    "meta_kernel",
    "meta_recurrent_kernel",
    "meta_bias",
    "meta_vector_kernel",
)
TASK_WEIGHTS = ("task_q", "task_p", "task_b")


def _block_glorot(fan_in, fan_out):
    """Glorot-uniform scale of one `(fan_in, fan_out)` block, for any shape."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return keras.initializers.RandomUniform(-limit, limit)


def _lstm_update(gates, c):
    """`(h_t, c_t)` of an LSTM from its pre-activations `[i, f, c̃, o]`."""
    i, f, g, o = ops.split(gates, 4, axis=-1)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


def _task_vector(z, code):
    """`onehot(task) ⊗ z` flattened: `(batch, num_tasks * n_z)`."""
    return ops.reshape(code[:, :, None] * z[:, None, :], (ops.shape(z)[0], -1))


@keras.saving.register_keras_serializable(package="keras_mtl")
class MetaLSTMCell(keras.layers.Layer, DropoutRNNCell):
    """Cell of a Meta-LSTM: a meta-LSTM generates a basic LSTM's weights.

    At step t the shared **meta-LSTM** (hidden `ĥ`, width `meta_units`) reads
    `v_t = [x_t; h_{t-1}]` and gives the meta vector `z_t = W_z ĥ_t`
    (width `meta_vector_dim`). The **basic LSTM** (hidden `h`, width `units`)
    uses, for each gate g in (i, f, c, o), the weights
    `W_g(z_t) = P_gᵀ diag(z_t) Q_g` and bias `B_g z_t`:

        gates_g = P_gᵀ (z_t ⊙ (Q_g v_t)) + B_g z_t
        c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(c̃),   h_t = σ(o) ⊙ tanh(c_t)

    computed in this factorised form (two small matrix products per step),
    never as a per-example `(units, input + units)` weight matrix.

    **Several tasks.** With `num_tasks = M > 1`, each task has its own
    `P`, `Q`, `B` while the meta-LSTM and `W_z` are shared. The last `M`
    features of every input step are then the example's task code (a
    one-hot vector, appended by `keras_mtl.layers.TaskConditioning`); the
    first features are `x_t`. The cell stores the task weights stacked and
    evaluates them as one factorised product with the meta vector
    `onehot(task) ⊗ z_t` of width `M * meta_vector_dim`, which selects each
    example's own `P`, `Q`, `B` — so one batch may mix tasks.

    **Transfer.** `meta_trainable=False` creates the meta-LSTM weights and
    `W_z` (the "meta knowledge") as non-trainable, so only the task weights
    `P`, `Q`, `B` learn (see `keras_mtl.models.meta_lstm_transfer`).

    Weights: `meta_kernel (d + units, 4 meta_units)`, `meta_recurrent_kernel
    (meta_units, 4 meta_units)`, `meta_bias (4 meta_units,)` (forget gate
    starts at 1), `meta_vector_kernel` = `W_z (meta_units, n_z)`;
    `task_q (d + units, 4 M n_z)` with `Q_{m,g}[k, :] =
    task_q[:, (g M + m) n_z + k]`, `task_p (4, M n_z, units)` with
    `P_{m,g}[k] = task_p[g, m n_z + k]` and `task_b (M n_z, 4 units)`.
    `P`, `Q` start Glorot-uniform per task and gate block, `B` at zero.

    Args:
        units: int. Width of the basic LSTM (the output). At least 1.
        meta_units: int. Width of the meta-LSTM. At least 1.
        meta_vector_dim: int or None. Width `n_z` of the meta vector `z`.
            Defaults to `meta_units`.
        num_tasks: int. Number of tasks with their own `P`, `Q`, `B`.
            Defaults to `1` (no task code in the inputs).
        dropout: float. Dropout rate on `x_t` (one mask per sequence).
            Defaults to `0.0`.
        recurrent_dropout: float. Dropout rate on `h_{t-1}`. Defaults to
            `0.0`.
        meta_trainable: bool. Whether the meta-LSTM weights and `W_z` are
            trainable. Defaults to `True`.
        seed: int or None. Seed of the dropout masks.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, d)`, or `(batch, d + num_tasks)` with the task code
            last when `num_tasks > 1`.
        states: list `[h, c, ĥ, ĉ]` of shapes `(batch, units)` twice and
            `(batch, meta_units)` twice.
        training: bool. Enables dropout.

    Returns:
        `(h_t, [h_t, c_t, ĥ_t, ĉ_t])`.

    Example:

    >>> layer = keras.layers.RNN(MetaLSTMCell(16, 8), return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3))).shape)
    (2, 5, 16)

    Reference:
        Chen, Qiu, Liu, Huang. Meta Multi-Task Learning for Sequence
        Modeling. AAAI 2018 (arXiv 1802.08969).
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int(units, "units")
        self.meta_units = check_int(meta_units, "meta_units")
        if meta_vector_dim is None:
            meta_vector_dim = self.meta_units
        self.meta_vector_dim = check_int(meta_vector_dim, "meta_vector_dim")
        self.num_tasks = check_int(num_tasks, "num_tasks")
        self.dropout = check_float(dropout, "dropout", below=1.0)
        self.recurrent_dropout = check_float(
            recurrent_dropout, "recurrent_dropout", below=1.0
        )
        if not isinstance(meta_trainable, bool):
            raise TypeError(
                "`meta_trainable` must be a bool. "
                f"Received: meta_trainable={meta_trainable!r}"
            )
        self.meta_trainable = meta_trainable
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = [self.units, self.units, self.meta_units, self.meta_units]
        self.output_size = self.units

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "MetaLSTMCell expects step inputs of shape (batch, features); "
                "wrap it in keras.layers.RNN and feed (batch, time, features). "
                f"Received input_shape={input_shape}"
            )
        code = self.num_tasks if self.num_tasks > 1 else 0
        self.input_dim = input_shape[-1] - code
        if self.input_dim < 1:
            raise ValueError(
                f"With num_tasks={self.num_tasks}, the last {code} input "
                "features are the task code, so inputs need more than "
                f"{code} features. Received input_shape={input_shape}"
            )
        v_dim = self.input_dim + self.units
        meta, z_dim = self.meta_units, self.meta_vector_dim
        task_z = self.num_tasks * z_dim

        def meta_bias_init(shape, dtype=None):
            ones = ops.ones((meta,), dtype=dtype)
            zeros = ops.zeros((meta,), dtype=dtype)
            return ops.concatenate([zeros, ones, zeros, zeros])

        def weight(name, shape, initializer, trainable=True):
            return self.add_weight(
                name=name, shape=shape, initializer=initializer, trainable=trainable
            )

        learn = self.meta_trainable
        self.meta_kernel = weight(
            "meta_kernel", (v_dim, 4 * meta), "glorot_uniform", learn
        )
        self.meta_recurrent_kernel = weight(
            "meta_recurrent_kernel", (meta, 4 * meta), "orthogonal", learn
        )
        self.meta_bias = weight("meta_bias", (4 * meta,), meta_bias_init, learn)
        self.meta_vector_kernel = weight(
            "meta_vector_kernel", (meta, z_dim), "glorot_uniform", learn
        )
        self.task_q = weight("task_q", (v_dim, 4 * task_z), _block_glorot(v_dim, z_dim))
        self.task_p = weight(
            "task_p", (4, task_z, self.units), _block_glorot(z_dim, self.units)
        )
        self.task_b = weight("task_b", (task_z, 4 * self.units), "zeros")

    def _split_inputs(self, inputs):
        if self.num_tasks == 1:
            return inputs, None
        return inputs[:, : self.input_dim], inputs[:, self.input_dim :]

    def call(self, inputs, states, training=False, task_weights=None):
        h, c, meta_h, meta_c = states
        x, code = self._split_inputs(inputs)
        if training and 0.0 < self.dropout:
            x = x * self.get_dropout_mask(inputs)[:, : self.input_dim]
        if training and 0.0 < self.recurrent_dropout:
            h = h * self.get_recurrent_dropout_mask(h)
        v = ops.concatenate([x, h], axis=-1)
        meta_gates = (
            ops.matmul(v, self.meta_kernel)
            + ops.matmul(meta_h, self.meta_recurrent_kernel)
            + self.meta_bias
        )
        meta_h, meta_c = _lstm_update(meta_gates, meta_c)
        z = ops.matmul(meta_h, self.meta_vector_kernel)
        if task_weights is not None:
            gates = self._factorised_gates(
                ops.matmul(v, task_weights[0]), z, *task_weights[1:]
            )
        elif code is None:
            gates = self.basic_gates(v, z)
        else:
            gates = self.task_gates(v, z, code)
        h, c = _lstm_update(gates, c)
        return h, [h, c, meta_h, meta_c]

    def step_kernels(self, task_weights=None):
        """The weights of `projected_step`, arranged once per sequence batch.

        Args:
            task_weights: None (every task's stacked `P`, `Q`, `B`), or one
                task's `(Q, P, B)` from `one_task_weights`.

        Returns:
            dict: `input` `(d, 4 meta_units + 4 n)` and `recurrent`
            `(units, 4 meta_units + 4 n)` (the meta-LSTM's kernel and `Q`
            side by side, split into the rows of `x_t` and of `h_{t-1}`),
            `p` `(4, n, units)` and `b` `(n, 4 units)`; `n` is
            `num_tasks * meta_vector_dim`, or `meta_vector_dim` for one
            task's weights.
        """
        q, p, b = task_weights or (self.task_q, self.task_p, self.task_b)
        kernel = ops.concatenate([self.meta_kernel, q], axis=-1)
        d = self.input_dim
        return {"input": kernel[:d], "recurrent": kernel[d:], "p": p, "b": b}

    def projected_step(self, projected, states, kernels, code=None, training=False):
        """`call`'s step, given the input half of its products beforehand.

        Args:
            projected: `(batch, 4 meta_units + 4 n)`: `x_t @ kernels["input"]`
                (`x_t` after input dropout), computed for all steps at once.
            states: list `[h, c, ĥ, ĉ]`.
            kernels: dict from `step_kernels`.
            code: `(batch, num_tasks)` one-hot task codes when `kernels` hold
                every task's weights and `num_tasks > 1`; else None.
            training: bool. Enables recurrent dropout.

        Returns:
            `(h_t, [h_t, c_t, ĥ_t, ĉ_t])`.
        """
        h, c, meta_h, meta_c = states
        if training and 0.0 < self.recurrent_dropout:
            h = h * self.get_recurrent_dropout_mask(h)
        products = projected + ops.matmul(h, kernels["recurrent"])
        split = 4 * self.meta_units
        meta_gates = (
            products[:, :split]
            + ops.matmul(meta_h, self.meta_recurrent_kernel)
            + self.meta_bias
        )
        meta_h, meta_c = _lstm_update(meta_gates, meta_c)
        z = ops.matmul(meta_h, self.meta_vector_kernel)
        if code is not None:
            z = _task_vector(z, code)
        q = products[:, split:]
        gates = self._factorised_gates(q, z, kernels["p"], kernels["b"])
        h, c = _lstm_update(gates, c)
        return h, [h, c, meta_h, meta_c]

    def _factorised_gates(self, q, z, p, b):
        """`P_gᵀ (z ⊙ q_g) + B_g z` for every gate g, given `q = Q v`."""
        scaled = ops.reshape(q, (-1, 4, ops.shape(z)[-1])) * z[:, None, :]
        gates = ops.einsum("bgk,gku->bgu", scaled, p)
        return ops.reshape(gates, (-1, 4 * self.units)) + ops.matmul(z, b)

    def basic_gates(self, v, z):
        """Pre-activations `(batch, 4 units)` of the basic LSTM, factorised.

        Args:
            v: `(batch, d + units)`, the step input `[x_t; h_{t-1}]`.
            z: `(batch, num_tasks * meta_vector_dim)`, the meta vector (for
                several tasks, `onehot(task) ⊗ z_t` flattened).
        """
        q = ops.matmul(v, self.task_q)
        return self._factorised_gates(q, z, self.task_p, self.task_b)

    def one_task_weights(self, code):
        """One task's `(Q, P, B)`, selected by its one-hot `code` `(num_tasks,)`.

        Shapes `(d + units, 4 n_z)`, `(4, n_z, units)` and `(n_z, 4 units)`,
        laid out as `task_q`, `task_p`, `task_b` are for one task; an
        all-zero code gives all-zero weights (the gates of `z = 0`, as
        `task_gates` gives for it).
        """
        tasks, width = self.num_tasks, self.meta_vector_dim
        code = ops.cast(code, self.task_q.dtype)
        q = ops.reshape(self.task_q, (-1, 4, tasks, width))
        q = ops.reshape(ops.einsum("vgmk,m->vgk", q, code), (-1, 4 * width))
        p = ops.reshape(self.task_p, (4, tasks, width, self.units))
        p = ops.einsum("gmku,m->gku", p, code)
        b = ops.reshape(self.task_b, (tasks, width, 4 * self.units))
        return q, p, ops.einsum("mku,m->ku", b, code)

    def task_gates(self, v, z, code):
        """Pre-activations `(batch, 4 units)` with each example's own task weights.

        The meta vector `onehot(task) ⊗ z` (width `M n_z`) selects each
        example's `P`, `Q`, `B` inside one factorised product over all
        tasks. Gathering each example's weights instead was measured slower
        on CPUs (`benchmarks/meta_lstm.py`). An all-zero code (no task)
        gives the gates of `z = 0`.

        Args:
            v: `(batch, d + units)`, the step input `[x_t; h_{t-1}]`.
            z: `(batch, meta_vector_dim)`, the meta vector.
            code: `(batch, num_tasks)`, one-hot task codes.
        """
        return self.basic_gates(v, _task_vector(z, code))

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "meta_units": self.meta_units,
                "meta_vector_dim": self.meta_vector_dim,
                "num_tasks": self.num_tasks,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "meta_trainable": self.meta_trainable,
                "seed": self.seed,
            }
        )
        return config
