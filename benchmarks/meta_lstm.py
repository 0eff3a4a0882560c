"""Training throughput of the Meta-LSTM vs a plain LSTM and the full-weight form.

The full-weight formulation is the one of the paper's released TF code: it
builds every example's generated weight matrix `W(z_t)` of shape
`(4 units, d + units)` at each step and multiplies it with `[x_t; h_{t-1}]`.
`MetaLSTMCell` computes the same numbers factorised, and the `MetaLSTM`
layer runs it. Setting: batch 64, length 50, width 128 (inputs and units),
with one task, with 16 tasks mixed in every batch (the cell computes all 16
tasks' products and masks 15 away; the alternative gathers each example's
P, Q, B by its task), and with 16 tasks but one task per batch (batches as
the paper trains: `MetaLSTM` then selects that task's P, Q, B once per
batch; the plain `keras.layers.RNN(MetaLSTMCell)` still computes the masked
product of all tasks).

The same settings are also timed as whole models, as users train them: a
16-task `keras_mtl.models.meta_lstm` network on `{"tokens", "task_id"}`
(its training step branches once per batch on whether the batch is one
task; also timed with Keras's own step, where each layer branches inside
the gradient) against the `hard_sharing` model of the same 16 tasks whose
encoder is a `keras.layers.LSTM` of the same width (the same heads and
masked losses: the ratio is the recurrence's).

    python -m benchmarks.meta_lstm [--quick] [--output FILE.json]
"""

import keras
import numpy as np
from keras import ops

from benchmarks.timing import (
    parse_module_args,
    peak_rss_mb,
    record,
    records_table,
    training_examples_per_s,
    write_json,
)
from keras_mtl import Task
from keras_mtl.layers.meta_lstm import MetaLSTM
from keras_mtl.layers.meta_lstm_cell import MetaLSTMCell
from keras_mtl.models import MultiTaskNetwork, hard_sharing, meta_lstm

LENGTH, WIDTH, META_UNITS, META_VECTOR_DIM = 50, 128, 32, 16


@keras.saving.register_keras_serializable(package="keras_mtl_benchmarks")
class FullWeightMetaLSTMCell(MetaLSTMCell):
    """`MetaLSTMCell` computing `W_g(z) = P_gᵀ diag(z) Q_g` explicitly.

    Same weights and outputs as `MetaLSTMCell`, but every step materialises
    the per-example weight tensor `(batch, 4, units, d + units)`: the
    baseline the factorised form is measured against.
    """

    def basic_gates(self, v, z):
        width = ops.shape(z)[-1]
        q = ops.reshape(self.task_q, (-1, 4, width))
        q = ops.transpose(q, (1, 2, 0))  # (4, K, d + units): rows of Q_g
        scaled_q = z[:, None, :, None] * q[None]  # diag(z) Q_g: (B, 4, K, v)
        weights = ops.einsum("gku,bgkj->bguj", self.task_p, scaled_q)
        gates = ops.einsum("bguj,bj->bgu", weights, v)
        gates = ops.reshape(gates, (-1, 4 * self.units))
        return gates + ops.matmul(z, self.task_b)


@keras.saving.register_keras_serializable(package="keras_mtl_benchmarks")
class GatheredTasksMetaLSTMCell(MetaLSTMCell):
    """`MetaLSTMCell` gathering each example's own `P`, `Q`, `B` by its task.

    A step then costs one task's product whatever `M` is, but every step
    copies each example's weights out of the stacked ones: the alternative
    the cell's compute-every-task-and-mask form is measured against.
    """

    def task_gates(self, v, z, code):
        tasks, width = self.num_tasks, self.meta_vector_dim
        task = ops.argmax(code, axis=-1)
        z = z * ops.sum(code, axis=-1, keepdims=True)
        q = ops.reshape(self.task_q, (-1, 4, tasks, width))
        q = ops.take(ops.transpose(q, (2, 0, 1, 3)), task, axis=0)
        p = ops.reshape(self.task_p, (4, tasks, width, self.units))
        p = ops.take(ops.transpose(p, (1, 0, 2, 3)), task, axis=0)
        b = ops.take(ops.reshape(self.task_b, (tasks, width, -1)), task, axis=0)
        scaled = ops.einsum("bv,bvgk->bgk", v, q) * z[:, None, :]
        gates = ops.einsum("bgk,bgku->bgu", scaled, p)
        gates = ops.reshape(gates, (-1, 4 * self.units))
        return gates + ops.einsum("bk,bku->bu", z, b)


def _classifier(rnn, length, width):
    inputs = keras.Input((length, width))
    outputs = keras.layers.Dense(2, activation="softmax")(rnn(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _inputs(batch_size, length, width, num_tasks, rng, one_task=False):
    """Random steps with each example's one-hot task code appended (M > 1):
    random tasks, or (`one_task`) the same random task for the whole batch."""
    x = rng.normal(size=(batch_size, length, width)).astype("float32")
    if num_tasks == 1:
        return x
    tasks = rng.integers(0, num_tasks, 1 if one_task else batch_size)
    code = np.eye(num_tasks, dtype="float32")[np.resize(tasks, batch_size)]
    code = np.broadcast_to(code[:, None, :], (batch_size, length, num_tasks))
    return np.concatenate([x, code], axis=-1)


def _layers(num_tasks):
    """The measured recurrent layers, by name: `MetaLSTM` first, then baselines."""
    sizes = dict(units=WIDTH, meta_units=META_UNITS, meta_vector_dim=META_VECTOR_DIM)
    layers = {
        "meta_lstm": lambda: MetaLSTM(num_tasks=num_tasks, **sizes),
        "lstm": lambda: keras.layers.RNN(keras.layers.LSTMCell(WIDTH)),
    }
    if num_tasks == 1:
        layers["full_weight_meta_lstm"] = lambda: keras.layers.RNN(
            FullWeightMetaLSTMCell(**sizes)
        )
    else:
        layers["all_tasks_meta_lstm_cell"] = lambda: keras.layers.RNN(
            MetaLSTMCell(num_tasks=num_tasks, **sizes)
        )
        layers["gathered_tasks_meta_lstm"] = lambda: keras.layers.RNN(
            GatheredTasksMetaLSTMCell(num_tasks=num_tasks, **sizes)
        )
    return layers


CASES = ((1, False), (16, False), (16, True))  # (M, one task per batch)
MODEL_CASES = ((16, False), (16, True))


def _with_keras_step(model):
    """`model` training with Keras's own step instead of its branched one."""
    model.train_step = MultiTaskNetwork.train_step.__get__(model)
    return model


def _networks(num_tasks):
    """The measured models, by name: the Meta-LSTM network first."""
    tasks = [Task(f"task_{m}", 2) for m in range(num_tasks)]
    sizes = dict(input_shape=(LENGTH, WIDTH), units=WIDTH, num_layers=1)
    meta = dict(meta_units=META_UNITS, meta_vector_dim=META_VECTOR_DIM, **sizes)
    return {
        "meta_lstm model": lambda: meta_lstm(tasks, **meta),
        "meta_lstm model, keras step": lambda: _with_keras_step(
            meta_lstm(tasks, **meta)
        ),
        "lstm model": lambda: hard_sharing(tasks, encoder="lstm", **sizes),
    }


def _network_data(batch_size, num_tasks, rng, one_task):
    """Inputs and labels of the Meta-LSTM network and of the LSTM model."""
    features = rng.normal(size=(batch_size, LENGTH, WIDTH)).astype("float32")
    ids = rng.integers(0, num_tasks, 1 if one_task else batch_size)
    ids = np.resize(ids, batch_size).astype("int32")
    labels = rng.integers(0, 2, batch_size).astype("int32")
    y = {f"task_{m}": np.where(ids == m, labels, -1) for m in range(num_tasks)}
    return {"meta": ({"tokens": features, "task_id": ids}, y), "lstm": (features, y)}


def run_networks(quick=False, batch_size=64, cases=MODEL_CASES):
    """Training examples/s of the Meta-LSTM network vs the LSTM model."""
    repeats, warmup = (3, 1) if quick else (10, 3)
    rng = np.random.default_rng(1)
    records = []
    for num_tasks, one_task in cases:
        data = _network_data(batch_size, num_tasks, rng, one_task)
        label = f"M={num_tasks}" + (", one task per batch" if one_task else "")
        speed = {}
        for name, make in _networks(num_tasks).items():
            keras.utils.set_random_seed(0)
            x, y = data["lstm" if name == "lstm model" else "meta"]
            speed[name], _ = training_examples_per_s(
                make(), x, y, batch_size, warmup=warmup, repeats=repeats
            )
            keras.backend.clear_session()
        extra = {"num_tasks": num_tasks, "one_task_per_batch": one_task}
        records += [
            record(
                f"meta_lstm model ({label})",
                f"{baseline} ({label})",
                batch_size,
                speed["meta_lstm model"],
                speed[baseline],
                quick=quick,
                peak_rss_mb=peak_rss_mb(),
                **extra,
            )
            for baseline in speed
            if baseline != "meta_lstm model"
        ]
    return records


def run(quick=False, batch_size=64):
    """Every measurement: the layers (`run_layers`), then the models."""
    return run_layers(quick, batch_size) + run_networks(quick, batch_size)


def run_layers(quick=False, batch_size=64, cases=CASES):
    """Measures training examples/s; returns a list of `record` dicts.

    For each task count M, the `MetaLSTM` layer against
    `keras.layers.LSTMCell` of the same width on the same inputs (M > 1:
    with the task code appended, a batch mixing all tasks or of one task),
    and against the full-weight form (M = 1), or (M > 1) the plain
    `keras.layers.RNN(MetaLSTMCell)` (every step over all tasks' weights)
    and the form that gathers each example's task weights.
    """
    repeats, warmup = (3, 1) if quick else (10, 3)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(batch_size,)).astype("int32")
    records = []
    for num_tasks, one_task in cases:
        x = _inputs(batch_size, LENGTH, WIDTH, num_tasks, rng, one_task)
        label = f"M={num_tasks}" + (", one task per batch" if one_task else "")
        speed = {}
        for name, make in _layers(num_tasks).items():
            keras.utils.set_random_seed(0)
            model = _classifier(make(), LENGTH, x.shape[-1])
            speed[name], _ = training_examples_per_s(
                model, x, y, batch_size, warmup=warmup, repeats=repeats
            )
            keras.backend.clear_session()
        extra = {
            "num_tasks": num_tasks,
            "one_task_per_batch": one_task,
            "length": LENGTH,
            "width": WIDTH,
            "meta_units": META_UNITS,
            "meta_vector_dim": META_VECTOR_DIM,
            "peak_rss_mb": peak_rss_mb(),
            "quick": quick,
        }
        records += [
            record(
                f"meta_lstm ({label})",
                f"{baseline} ({label})",
                batch_size,
                speed["meta_lstm"],
                speed[baseline],
                **extra,
            )
            for baseline in speed
            if baseline != "meta_lstm"
        ]
    return records


def main(argv=None):
    args = parse_module_args(__doc__, "meta_lstm_benchmark.json", 64, argv)
    records = run(quick=args.quick, batch_size=args.batch_size)
    print(records_table(records))
    write_json(records, args.output)


if __name__ == "__main__":
    main()
