"""Training throughput of the Meta-LSTM vs a plain LSTM and the full-weight form.

The full-weight formulation is the one of the paper's released TF code: it
builds every example's generated weight matrix `W(z_t)` of shape
`(4 units, d + units)` at each step and multiplies it with `[x_t; h_{t-1}]`.
`MetaLSTMCell` computes the same numbers factorised. Setting of the issue:
batch 64, length 50, width 128 (inputs and units), one task.

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
from keras_mtl.layers.meta_lstm_cell import MetaLSTMCell

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


def _classifier(cell, length, width):
    inputs = keras.Input((length, width))
    hidden = keras.layers.RNN(cell)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def run(quick=False, batch_size=64):
    """Measures training examples/s; returns a list of `record` dicts."""
    length, width = LENGTH, WIDTH
    repeats, warmup = (3, 1) if quick else (10, 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, length, width)).astype("float32")
    y = rng.integers(0, 2, size=(batch_size,)).astype("int32")
    cells = {
        "meta_lstm": lambda: MetaLSTMCell(WIDTH, META_UNITS, META_VECTOR_DIM),
        "full_weight_meta_lstm": lambda: FullWeightMetaLSTMCell(
            WIDTH, META_UNITS, META_VECTOR_DIM
        ),
        "lstm": lambda: keras.layers.LSTMCell(WIDTH),
    }
    speed = {}
    for name, make in cells.items():
        keras.utils.set_random_seed(0)
        model = _classifier(make(), length, width)
        speed[name], _ = training_examples_per_s(
            model, x, y, batch_size, warmup=warmup, repeats=repeats
        )
    extra = {
        "length": length,
        "width": width,
        "meta_units": META_UNITS,
        "meta_vector_dim": META_VECTOR_DIM,
        "peak_rss_mb": peak_rss_mb(),
        "quick": quick,
    }
    return [
        record(
            "meta_lstm",
            baseline,
            batch_size,
            speed["meta_lstm"],
            speed[baseline],
            **extra,
        )
        for baseline in ("lstm", "full_weight_meta_lstm")
    ]


def main(argv=None):
    args = parse_module_args(__doc__, "meta_lstm_benchmark.json", 64, argv)
    records = run(quick=args.quick, batch_size=args.batch_size)
    print(records_table(records))
    write_json(records, args.output)


if __name__ == "__main__":
    main()
