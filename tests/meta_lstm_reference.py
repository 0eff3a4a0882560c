"""The Meta-LSTM step computed directly in numpy, for the layer tests."""

import numpy as np
from testing import to_numpy

from keras_mtl.layers.meta_lstm_cell import META_WEIGHTS, TASK_WEIGHTS

D, U, MU, NZ = 3, 4, 5, 2


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def randomize(cell, seed=0):
    rng = np.random.default_rng(seed)
    cell.set_weights([rng.normal(0, 0.5, w.shape) for w in cell.get_weights()])
    return {name: to_numpy(getattr(cell, name)) for name in META_WEIGHTS + TASK_WEIGHTS}


def numpy_step(w, x, tasks, states, num_tasks):
    """Chen et al. 2018 with explicit weights W_g(z) = P_gᵀ diag(z) Q_g per example."""
    h, c, mh, mc = states
    v = np.concatenate([x, h], axis=-1)
    mg = np.split(
        v @ w["meta_kernel"] + mh @ w["meta_recurrent_kernel"] + w["meta_bias"],
        4,
        axis=-1,
    )
    mc = sigmoid(mg[1]) * mc + sigmoid(mg[0]) * np.tanh(mg[2])
    mh = sigmoid(mg[3]) * np.tanh(mc)
    z = mh @ w["meta_vector_kernel"]
    pre = np.zeros((len(x), 4, U))
    for b, m in enumerate(tasks):
        rows = slice(m * NZ, (m + 1) * NZ)
        for g in range(4):
            p = w["task_p"][g, rows]  # (n_z, U)
            first = (g * num_tasks + m) * NZ
            q = w["task_q"][:, first : first + NZ].T  # (n_z, d + U)
            bias = w["task_b"][rows, g * U : (g + 1) * U]  # (n_z, U)
            weight = p.T @ np.diag(z[b]) @ q
            pre[b, g] = weight @ v[b] + bias.T @ z[b]
    i, f, g, o = (pre[:, k] for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h, [h, c, mh, mc]


def random_states(rng, batch):
    return [rng.normal(size=(batch, s)).astype("float32") for s in (U, U, MU, MU)]
