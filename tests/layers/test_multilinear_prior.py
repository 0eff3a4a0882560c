import keras
import numpy as np
import pytest
from testing import (
    assert_allclose,
    assert_layer_config_roundtrip,
    assert_model_roundtrip,
    to_numpy,
)

from keras_mtl.layers.multilinear_prior import MultilinearPriorLayer

RNG = np.random.default_rng(0)


def unfold(w, mode):
    """Mode-k unfolding W_(k), column-major over the other modes (Kolda)."""
    return np.moveaxis(w, mode, 0).reshape(w.shape[mode], -1, order="F")


def kron_prior(w, p1, p2, p3, weight):
    """½ λ vec(W)ᵀ (Ω3 ⊗ Ω2 ⊗ Ω1) vec(W) with an explicit Kronecker product."""
    vec = w.reshape(-1, order="F").astype("float64")
    return 0.5 * weight * vec @ np.kron(p3, np.kron(p2, p1)) @ vec


def closed_form_cov(gram, count, eps, rescale=True, floor=False):
    """`gram / count + εI` (trace = dim), its inverse; `floor`: eigenvalues ≥ ε."""
    dim = gram.shape[0]
    cov = gram / count + eps * np.eye(dim)
    if rescale:
        cov = cov * dim / np.trace(cov)
    if not floor:
        return cov, np.linalg.inv(cov)
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, eps)
    return (vectors * values) @ vectors.T, (vectors / values) @ vectors.T


def flip_flop_numpy(w, p2, p3, eps, task_scale="mle", floor=False):
    d1, d2, t = w.shape
    w = w.astype("float64")
    c1, p1 = closed_form_cov(
        unfold(w, 0) @ np.kron(p3, p2) @ unfold(w, 0).T, d2 * t, eps, floor=floor
    )
    c2, p2 = closed_form_cov(
        unfold(w, 1) @ np.kron(p3, p1) @ unfold(w, 1).T, d1 * t, eps, floor=floor
    )
    c3, p3 = closed_form_cov(
        unfold(w, 2) @ np.kron(p2, p1) @ unfold(w, 2).T,
        d1 * d2,
        eps,
        rescale=task_scale == "trace",
        floor=floor,
    )
    return {"feature": (c1, p1), "class": (c2, p2), "task": (c3, p3)}


def random_spd(dim):
    a = RNG.normal(size=(dim, dim))
    return (a @ a.T / dim + 0.5 * np.eye(dim)).astype("float32")


def variable(layer, name):
    return next(v for v in layer.weights if v.name == name)


def built_layer(d1=4, d2=3, tasks=2, **kwargs):
    layer = MultilinearPriorLayer(d2, tasks, **kwargs)
    layer.build((None, d1))
    kernel = RNG.normal(size=(d1, d2, tasks)).astype("float32")
    layer.kernel.assign(kernel)
    return layer, kernel


def test_outputs_equal_per_task_dense_maps():
    layer, kernel = built_layer(activation="relu")
    layer.bias.assign(RNG.normal(size=(2, 3)).astype("float32"))
    bias = to_numpy(layer.bias)
    x = RNG.normal(size=(5, 4)).astype("float32")
    xs = [x, RNG.normal(size=(5, 4)).astype("float32")]
    shared, separate = layer(x), layer(xs)
    for t in range(2):
        assert_allclose(
            shared[t], np.maximum(x @ kernel[..., t] + bias[t], 0), atol=1e-5
        )
        assert_allclose(
            separate[t], np.maximum(xs[t] @ kernel[..., t] + bias[t], 0), atol=1e-5
        )


def test_symbolic_call_and_output_shape():
    layer = MultilinearPriorLayer(7, 3)
    outputs = layer(keras.Input((5,)))
    assert [tuple(o.shape) for o in outputs] == [(None, 7)] * 3
    assert layer.compute_output_shape([(None, 5)] * 3) == ((None, 7),) * 3


def test_prior_equals_explicit_kronecker_computation():
    layer, kernel = built_layer(d1=4, d2=3, tasks=3, prior_weight=0.7)
    precisions = {
        k: random_spd(d) for k, d in (("feature", 4), ("class", 3), ("task", 3))
    }
    for kind, value in precisions.items():
        variable(layer, f"{kind}_precision").assign(value)
    layer(np.ones((2, 4), "float32"))
    expected = kron_prior(
        kernel, precisions["feature"], precisions["class"], precisions["task"], 0.7
    )
    assert len(layer.losses) == 1
    assert_allclose(layer.losses[0], expected, rtol=1e-4)


def test_prior_at_identity_is_half_weighted_squared_norm():
    layer, kernel = built_layer(prior_weight=0.3)
    layer(np.ones((2, 4), "float32"))
    assert_allclose(
        layer.losses[0], 0.15 * np.sum(kernel.astype("float64") ** 2), rtol=1e-5
    )


def test_task_mode_prior_uses_identity_feature_and_class_covariances():
    layer, kernel = built_layer(tasks=3, prior_weight=2.0, covariances="task")
    omega = random_spd(3)
    variable(layer, "task_precision").assign(omega)
    layer(np.ones((2, 4), "float32"))
    expected = kron_prior(kernel, np.eye(4), np.eye(3), omega, 2.0)
    assert_allclose(layer.losses[0], expected, rtol=1e-4)
    assert not any(v.name.startswith("feature") for v in layer.weights)


@pytest.mark.parametrize("task_scale", ["mle", "trace"])
def test_flip_flop_update_equals_numpy_closed_form(task_scale):
    layer, kernel = built_layer(
        d1=5, d2=3, tasks=4, update_every=1, epsilon=1e-3, task_scale=task_scale
    )
    p2, p3 = random_spd(3), random_spd(4)
    variable(layer, "class_precision").assign(p2)
    variable(layer, "task_precision").assign(p3)
    layer(np.ones((2, 5), "float32"), training=True)
    expected = flip_flop_numpy(kernel, p2, p3, 1e-3, task_scale)
    for kind, (cov, prec) in expected.items():
        assert_allclose(
            layer.statistic(f"{kind}_covariance"), cov, atol=1e-4, rtol=1e-4
        )
        assert_allclose(
            layer.statistic(f"{kind}_precision"), prec, atol=1e-3, rtol=1e-3
        )
        if kind != "task" or task_scale == "trace":
            assert_allclose(
                np.trace(layer.statistic(f"{kind}_covariance")),
                cov.shape[0],
                rtol=1e-5,
            )
    assert_allclose(layer.task_covariance(), expected["task"][0], atol=1e-4)
    # the loss of the updating step uses the refreshed precisions
    refreshed = [expected[k][1] for k in ("feature", "class", "task")]
    expected_prior = kron_prior(kernel, *refreshed, layer.prior_weight)
    assert_allclose(layer.losses[0], expected_prior, rtol=1e-3)


def test_task_mode_update_follows_released_code():
    layer, kernel = built_layer(d1=4, d2=2, tasks=3, update_every=1, covariances="task")
    kernel[..., 2] = kernel[..., 1] + 1e-3  # a near-duplicate task: one tiny eigenvalue
    layer.kernel.assign(kernel)
    layer(np.ones((2, 4), "float32"), training=True)
    w3 = unfold(kernel.astype("float64"), 2)
    cov = w3 @ w3.T + 1e-5 * np.eye(3)
    values, vectors = np.linalg.eigh(cov)
    assert values.min() < 0.1 < values.max()
    # The released select_func: 1/x if x > 0.1 else x (small ones kept as is).
    inverse = np.where(values > 0.1, 1.0 / values, values)
    assert_allclose(layer.task_covariance(), cov, atol=1e-4, rtol=1e-5)
    assert_allclose(
        layer.statistic("task_precision"),
        (vectors * inverse) @ vectors.T,
        atol=1e-4,
        rtol=1e-4,
    )
    assert_allclose(layer.feature_covariance(), np.eye(4))


def test_inference_does_not_touch_statistics():
    layer, _ = built_layer(update_every=1)
    layer(np.ones((2, 4), "float32"), training=False)
    layer(np.ones((2, 4), "float32"))
    assert_allclose(layer.task_covariance(), np.eye(2))
    assert float(to_numpy(layer.steps_since_update)) == 0.0


def _one_step_model(layer, d1=4):
    inputs = keras.Input((d1,))
    outputs = layer(inputs)
    model = keras.Model(inputs, {f"t{i}": o for i, o in enumerate(outputs)})
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def test_updates_run_inside_fit_exactly_every_update_every_steps():
    # Independent task slices keep Σ3 well conditioned for the float32 vs
    # float64 comparison (equal slices make it singular up to ε).
    layer = MultilinearPriorLayer(
        3, 2, update_every=3, prior_weight=0.1, epsilon=1e-3, shared_init=False
    )
    model = _one_step_model(layer)
    x = RNG.normal(size=(8, 4)).astype("float32")
    y = {f"t{i}": RNG.normal(size=(8, 3)).astype("float32") for i in range(2)}
    kernels, stats = [to_numpy(layer.kernel)], [layer.statistic("task_covariance")]
    precisions = [(np.eye(3), np.eye(2))]
    for _ in range(7):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        kernels.append(to_numpy(layer.kernel))
        stats.append(layer.statistic("task_covariance"))
        precisions.append(
            (layer.statistic("class_precision"), layer.statistic("task_precision"))
        )
    changed = [
        step
        for step in range(1, 8)
        if not np.allclose(stats[step], stats[step - 1], atol=0)
    ]
    assert changed == [3, 6]
    for step in changed:
        # step k's forward pass sees the kernel after k - 1 gradient steps
        expected = flip_flop_numpy(kernels[step - 1], *precisions[step - 1], 1e-3)
        assert_allclose(stats[step], expected["task"][0], atol=1e-4, rtol=1e-4)
    assert float(to_numpy(layer.steps_since_update)) == 1.0


@pytest.mark.parametrize("covariances", ["all", "task"])
def test_learned_task_correlation_separates_planted_groups(covariances):
    rng = np.random.default_rng(3)
    d1, tasks, n = 8, 4, 256
    group_a, group_b = rng.normal(size=d1), rng.normal(size=d1)
    group_b -= group_b @ group_a / (group_a @ group_a) * group_a  # orthogonal groups
    truth = [group_a, group_a, group_b, group_b]
    layer = MultilinearPriorLayer(
        1,
        tasks,
        update_every=5,
        covariances=covariances,
        use_bias=False,
    )
    model = _one_step_model(layer, d1)
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x = rng.normal(size=(n, d1)).astype("float32")
    y = {
        f"t{t}": (x @ truth[t] + 0.1 * rng.normal(size=n)).astype("float32")[:, None]
        for t in range(tasks)
    }
    model.fit(x, y, batch_size=32, epochs=12, verbose=0)
    corr = layer.task_correlation()
    assert corr[0, 1] > 0.9 and corr[2, 3] > 0.9
    assert np.abs(corr[:2, 2:]).max() < 0.3


def test_no_nan_with_near_singular_weights_and_large_learning_rate():
    layer = MultilinearPriorLayer(
        3, 3, update_every=10, prior_weight=0.1, kernel_initializer="ones"
    )
    model = _one_step_model(layer, 4)
    # torch runs one step per call; the others loop 100 steps in one call
    steps = 1 if keras.backend.backend() == "torch" else 100
    model.compile(keras.optimizers.Adam(0.1), "mse", steps_per_execution=steps)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 4)).astype("float32")
    y = {f"t{i}": np.repeat(x[:, :1], 3, axis=1) for i in range(3)}  # identical tasks
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)  # 2,000 steps
    assert np.isfinite(history.history["loss"]).all()
    for weight in layer.weights:
        assert np.isfinite(to_numpy(weight)).all(), weight.name
    assert not np.allclose(layer.task_covariance(), np.eye(3))


def test_save_load_keeps_weights_and_precisions():
    layer = MultilinearPriorLayer(3, 2, update_every=1, name="mrn")
    model = _one_step_model(layer)
    x = RNG.normal(size=(8, 4)).astype("float32")
    y = {f"t{i}": RNG.normal(size=(8, 3)).astype("float32") for i in range(2)}
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    restored = assert_model_roundtrip(model, x).get_layer("mrn")
    for before, after in zip(layer.weights, restored.weights):
        assert before.name == after.name
        np.testing.assert_array_equal(to_numpy(before), to_numpy(after))
    assert not np.allclose(restored.statistic("feature_precision"), np.eye(4))


def kron_gradient(w, p1, p2, p3, weight):
    """The gradient of `kron_prior` in W: λ (Ω3 ⊗ Ω2 ⊗ Ω1) vec(W), as (D1, D2, T)."""
    vec = w.reshape(-1, order="F").astype("float64")
    grad = weight * np.kron(p3, np.kron(p2, p1)) @ vec
    return grad.reshape(w.shape, order="F")


def test_factored_prior_and_updates_equal_the_explicit_kronecker_form():
    # 2·D2·T = 12 < D1 = 16: Ω1 is kept as a I + U diag(values − a) Uᵀ.
    d1, d2, tasks, eps, weight, lr = 16, 2, 3, 1e-3, 0.3, 0.1
    rng = np.random.default_rng(7)
    layer = MultilinearPriorLayer(
        d2, tasks, prior_weight=weight, update_every=2, epsilon=eps, use_bias=False
    )
    inputs = keras.Input((d1,))
    outputs = layer(inputs)
    model = keras.Model(inputs, {f"t{i}": o for i, o in enumerate(outputs)})
    # zero-weighted data losses: an SGD step is exactly −lr · ∇prior
    names = [f"t{i}" for i in range(tasks)]
    model.compile(
        keras.optimizers.SGD(lr),
        {n: "mse" for n in names},
        loss_weights={n: 0.0 for n in names},
    )
    assert layer.factored and not any(
        v.name == "feature_precision" for v in layer.weights
    )
    initial = [to_numpy(v) for v in layer.non_trainable_weights]
    x = rng.normal(size=(4, d1)).astype("float32")
    y = {n: np.zeros((4, d2), "float32") for n in names}

    def step():
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
        return to_numpy(layer.kernel).astype("float64")

    # ε-floor active on Ω1's complement / inactive / rank-deficient W (equal slices)
    for scale, shared in [(1.0, False), (0.01, False), (1.0, True)]:
        for v, value in zip(layer.non_trainable_weights, initial):
            v.assign(value)  # Σ = I, step counter 0
        kernel = scale * rng.normal(size=(d1, d2, tasks))
        if shared:
            kernel[..., 1:] = kernel[..., :1]
        kernel = kernel.astype("float32")
        p2, p3 = random_spd(d2), random_spd(tasks)
        layer.kernel.assign(kernel)
        variable(layer, "class_precision").assign(p2)
        variable(layer, "task_precision").assign(p3)
        # step 1: no refresh, Ω1 = I
        first = step()
        expected = kernel - lr * kron_gradient(kernel, np.eye(d1), p2, p3, weight)
        assert_allclose(first, expected, atol=1e-5 * scale, rtol=1e-5)
        # step 2: the flip-flop refresh from (Ω2, Ω3), then the step with it
        second = step()
        refreshed = flip_flop_numpy(first, p2, p3, eps, floor=True)
        for kind, (cov, prec) in refreshed.items():
            for role, value in (("covariance", cov), ("precision", prec)):
                assert_allclose(
                    layer.statistic(f"{kind}_{role}"),
                    value,
                    atol=1e-5 * np.abs(value).max(),
                    rtol=1e-4,
                )
        omegas = [refreshed[k][1] for k in ("feature", "class", "task")]
        # float32 rounding of Ω1 W is relative to max|Ω1| · max|W| (up to 1/ε);
        # at the refresh W lies in U's span, where a float32 U is least exact;
        # with equal slices Σ1, Σ3 are singular up to ε: float32 can't tell
        if not shared:
            gradient = kron_gradient(first, *omegas, weight)
            # Ω2, Ω3 scale the rounding too: take the larger of the two bounds
            size = max(
                weight * np.abs(omegas[0]).max() * np.abs(first).max(),
                np.abs(gradient).max(),
            )
            assert_allclose(
                (first - second) / lr, gradient, atol=1e-4 * size, rtol=1e-4
            )
        # step 3, no refresh: the cached factors on a W with components outside U
        other = rng.normal(size=(d1, d2, tasks)).astype("float32")
        layer.kernel.assign(other)
        layer(x)
        expected = kron_prior(other, *omegas, weight)
        assert_allclose(layer.losses[0], expected, rtol=1e-4)
        third = step()
        gradient = kron_gradient(other, *omegas, weight)
        atol = 1e-4 * np.abs(gradient).max()
        assert_allclose((other - third) / lr, gradient, atol=atol, rtol=1e-4)


def test_factored_layer_fits_and_round_trips():
    layer = MultilinearPriorLayer(2, 3, update_every=2, prior_weight=0.1, name="mrn")
    model = _one_step_model(layer, 16)
    x = RNG.normal(size=(8, 16)).astype("float32")
    y = {f"t{i}": RNG.normal(size=(8, 2)).astype("float32") for i in range(3)}
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)  # 2 refreshes
    assert layer.factored and np.isfinite(history.history["loss"]).all()
    precision = layer.statistic("feature_precision")
    assert not np.allclose(precision, np.eye(16))
    # the dense readouts are inverses (to float32 accuracy of the factors)
    assert np.abs(precision @ layer.feature_covariance() - np.eye(16)).max() < 1e-2
    restored = assert_model_roundtrip(model, x).get_layer("mrn")
    for before, after in zip(layer.weights, restored.weights):
        assert before.name == after.name
        np.testing.assert_array_equal(to_numpy(before), to_numpy(after))


def test_config_roundtrip():
    layer = MultilinearPriorLayer(
        5,
        3,
        prior_weight=0.2,
        update_every=7,
        covariances="task",
        activation="relu",
        epsilon=1e-4,
    )
    clone = assert_layer_config_roundtrip(layer)
    assert clone.covariances == "task" and clone.update_every == 7


def test_large_widths_never_form_the_kronecker_product():
    # vec(W) has 2**16 entries: a Kronecker precision would need 2**32 floats.
    layer = MultilinearPriorLayer(64, 8, update_every=1)
    layer(np.ones((1, 128), "float32"), training=True)
    assert np.isfinite(to_numpy(layer.losses[0]))


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = MultilinearPriorLayer(3, 2, update_every=1)
    outputs = layer(np.ones((2, 4), "float32"), training=True)
    assert keras.backend.standardize_dtype(outputs[0].dtype) == "bfloat16"
    assert layer.statistic("task_precision").dtype == np.float32
    assert keras.backend.standardize_dtype(layer.losses[0].dtype) == "float32"
    assert np.isfinite(layer.task_covariance()).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"update_every": 0}, "update_every"),
        ({"update_every": -3}, "update_every"),
        ({"covariances": "class"}, "covariances"),
        ({"prior_weight": -0.1}, "prior_weight"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"units": 0}, "units"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = {"units": 3, "num_tasks": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        MultilinearPriorLayer(**arguments)


def test_update_every_must_be_an_integer():
    with pytest.raises(TypeError, match="update_every"):
        MultilinearPriorLayer(3, 2, update_every=2.5)


def test_num_tasks_mismatch():
    layer = MultilinearPriorLayer(3, num_tasks=3)
    with pytest.raises(ValueError, match="num_tasks=3"):
        layer([np.ones((2, 4), "float32")] * 2)
