"""Each loss-based strategy's weights against its formula over a few steps."""

import keras
import numpy as np
import pytest

from keras_mtl import weighting

ONES = np.ones(3, "float32")


def numpy_of(value):
    return keras.ops.convert_to_numpy(value).astype("float64")


def combine(strategy, losses, mask=ONES):
    objective, weights = strategy.combine_losses(
        np.asarray(losses, "float32"), np.asarray(mask, "float32")
    )
    objective, weights = (
        keras.ops.stop_gradient(objective),
        keras.ops.stop_gradient(weights),
    )
    return float(numpy_of(objective)), numpy_of(weights)


def test_equal():
    strategy = weighting.get("equal")
    strategy.setup(3)
    objective, weights = combine(strategy, [1.0, 2.0, 0.0], [1, 1, 0])
    assert objective == pytest.approx(3.0)
    np.testing.assert_array_equal(weights, [1, 1, 0])


def test_uncertainty_formula():
    strategy = weighting.Uncertainty()
    strategy.setup(3)
    s = np.array([0.5, -1.0, 2.0], "float32")
    strategy.log_variance.assign(s)
    losses = np.array([1.0, 2.0, 3.0])
    objective, weights = combine(strategy, losses, [1, 1, 0])
    mask = np.array([1, 1, 0])
    expected = np.sum(mask * (0.5 * np.exp(-s) * losses + 0.5 * s))
    assert objective == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(weights, mask * 0.5 * np.exp(-s), rtol=1e-5)
    assert strategy.log_variance.trainable


def test_dwa_over_epochs():
    strategy = weighting.DWA(temperature=2.0)
    strategy.setup(3)
    epochs = [
        [[1.0, 2.0, 3.0], [1.2, 1.8, 3.0]],
        [[0.5, 1.9, 3.0], [0.7, 1.7, 3.0]],
        [[0.2, 1.0, 3.0]],
    ]
    means = []
    for e, batches in enumerate(epochs):
        for losses in batches:
            _, weights = combine(strategy, losses)
            if e < 2:
                np.testing.assert_allclose(weights, 1.0)
            else:
                ratio = means[-1] / means[-2]
                soft = np.exp(ratio / 2.0) / np.exp(ratio / 2.0).sum()
                np.testing.assert_allclose(weights, 3 * soft, rtol=1e-5)
        means.append(np.mean(batches, axis=0))
        strategy.end_epoch()
    # A task without labels in a batch: weight 0, the others share M = 2.
    _, weights = combine(strategy, [0.1, 0.5, 0.0], [1, 1, 0])
    ratio = (means[-1] / means[-2])[:2]
    soft = np.exp(ratio / 2.0) / np.exp(ratio / 2.0).sum()
    np.testing.assert_allclose(weights, np.r_[2 * soft, 0.0], rtol=1e-5)


def test_rlw_is_a_softmax_of_fresh_normal_draws():
    strategy = weighting.RLW(seed=1)
    strategy.setup(3)
    draws = [combine(strategy, [1.0, 2.0, 3.0])[1] for _ in range(3)]
    for w in draws:
        assert np.all(w > 0) and w.sum() == pytest.approx(1.0, abs=1e-6)
    assert not np.allclose(draws[0], draws[1])
    # The logits are the softmax's inverse up to a constant: normal draws.
    logits = np.log(np.array(draws))
    assert np.all(np.abs(logits - logits.mean(1, keepdims=True)) < 6.0)
    objective, w = combine(strategy, [1.0, 2.0, 5.0], [1, 0, 1])
    assert w[1] == 0 and w.sum() == pytest.approx(1.0, abs=1e-6)
    assert objective == pytest.approx(w[0] + 5 * w[2], rel=1e-5)


def test_gls_geometric_mean():
    strategy = weighting.GLS()
    strategy.setup(3)
    objective, weights = combine(strategy, [1.0, 2.0, 4.0])
    assert objective == pytest.approx(2.0, rel=1e-5)
    np.testing.assert_allclose(weights, 2.0 / (3 * np.array([1.0, 2.0, 4.0])))
    objective, _ = combine(strategy, [1.0, 9.0, 0.0], [1, 1, 0])
    assert objective == pytest.approx(3.0, rel=1e-5)


def famo_reference(history, learning_rate, decay, adam):
    """FAMO's logit updates and weights, in numpy (paper / released code)."""
    xi = np.zeros(3)
    m = v = np.zeros(3)
    previous, steps, out = None, 0, []
    for losses in history:
        losses = np.asarray(losses, "float64")
        if previous is not None:
            delta = np.log(previous + 1e-8) - np.log(losses + 1e-8)
            z = np.exp(xi) / np.exp(xi).sum()
            grad = z * (delta - z @ delta) + decay * xi
            if adam:
                steps += 1
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad**2
                m_hat, v_hat = m / (1 - 0.9**steps), v / (1 - 0.999**steps)
                xi = xi - learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
            else:
                xi = xi - learning_rate * grad
        z = np.exp(xi) / np.exp(xi).sum()
        c = np.sum(z / (losses + 1e-8))
        out.append(z / (c * (losses + 1e-8)))
        previous = losses
    return out


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_famo_weights_over_steps(optimizer):
    history = [[1.0, 2.0, 3.0], [0.5, 1.9, 3.1], [0.3, 1.8, 2.0], [0.2, 1.8, 1.5]]
    strategy = weighting.FAMO(learning_rate=0.5, optimizer=optimizer)
    strategy.setup(3)
    got = [combine(strategy, losses)[1] for losses in history]
    expected = famo_reference(history, 0.5, 0.001, optimizer == "adam")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert np.abs(numpy_of(strategy.logits)).max() > 0.1  # the logits moved


def gradnorm_reference(norms_history, losses_history, alpha, learning_rate):
    w = np.ones(3)
    initial, used = None, []
    for norms, losses in zip(norms_history, losses_history):
        norms, losses = np.asarray(norms), np.asarray(losses)
        initial = losses if initial is None else initial
        used.append(w.copy())
        scaled = w * norms
        ratio = (losses / initial) / np.mean(losses / initial)
        target = scaled.mean() * ratio**alpha
        w = np.maximum(w - learning_rate * np.sign(scaled - target) * norms, 0)
        w = w * 3 / w.sum()
    return used


def test_gradnorm_weights_over_steps():
    norms = [[1.0, 2.0, 0.5], [1.1, 1.5, 0.6], [0.9, 1.4, 0.7], [0.8, 1.2, 0.9]]
    losses = [[1.0, 2.0, 3.0], [0.6, 1.9, 2.9], [0.4, 1.8, 2.5], [0.3, 1.7, 2.4]]
    strategy = weighting.GradNorm(alpha=1.5, learning_rate=0.1)
    strategy.setup(3)
    got = []
    for norm, loss in zip(norms, losses):
        gram = np.diag(np.square(norm)).astype("float32")
        got.append(numpy_of(strategy.compute_weights(gram, ONES, np.float32(loss))))
    expected = gradnorm_reference(norms, losses, 1.5, 0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert not np.allclose(got[-1], 1.0)
    np.testing.assert_allclose(np.sum(got, axis=1), 3.0, rtol=1e-5)
