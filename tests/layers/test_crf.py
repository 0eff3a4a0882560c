"""`LinearChainCRF` against brute-force enumeration of every tag path."""

import itertools

import keras
import numpy as np
import pytest
from testing import assert_allclose, to_numpy

from keras_mtl.layers import LinearChainCRF, bio_constraints
from keras_mtl.losses import CRFLoss

NUM_TAGS = 3
# Full, prefix, with a hole, empty, leading padding.
MASK = np.array(
    [
        [1, 1, 1, 1],
        [1, 1, 0, 0],
        [1, 0, 1, 1],
        [0, 0, 0, 0],
        [0, 1, 1, 1],
    ],
    dtype=bool,
)


def random_crf(seed=0):
    """A built CRF with random transitions, start and end scores."""
    crf = LinearChainCRF(
        transitions_initializer=keras.initializers.RandomNormal(seed=seed),
        boundary_initializer=keras.initializers.RandomNormal(seed=seed + 1),
    )
    crf.build((None, None, NUM_TAGS))
    return crf


def weights(crf):
    return (
        to_numpy(crf.transitions),
        to_numpy(crf.start_scores),
        to_numpy(crf.end_scores),
    )


def emissions(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=MASK.shape + (NUM_TAGS,)).astype("float32")


def path_scores(crf, scores, row):
    """Every tag path over the unmasked steps of `row` and its score."""
    transitions, start, end = weights(crf)
    steps = np.flatnonzero(MASK[row])
    paths = list(itertools.product(range(NUM_TAGS), repeat=len(steps)))
    values = []
    for path in paths:
        value = start[path[0]] + end[path[-1]] if path else 0.0
        value += sum(scores[row, t, tag] for t, tag in zip(steps, path))
        value += sum(transitions[a, b] for a, b in zip(path[:-1], path[1:]))
        values.append(value)
    return paths, np.array(values, dtype="float64")


def logsumexp(values):
    top = values.max()
    return top + np.log(np.exp(values - top).sum())


def brute_force_nll(crf, scores, labels, row):
    """-log of the total probability of the paths that agree with the labels."""
    steps = np.flatnonzero(MASK[row])
    paths, values = path_scores(crf, scores, row)
    agree = [
        all(labels[row, t] < 0 or labels[row, t] == tag for t, tag in zip(steps, p))
        for p in paths
    ]
    return logsumexp(values) - logsumexp(values[np.array(agree)])


def test_log_partition_and_viterbi_match_enumeration():
    crf, scores = random_crf(), emissions()
    log_z = to_numpy(crf.log_partition(scores, MASK))
    tags, best = (to_numpy(v) for v in crf.viterbi(scores, MASK))
    for row in range(len(MASK)):
        paths, values = path_scores(crf, scores, row)
        if not MASK[row].any():
            assert log_z[row] == 0.0 and best[row] == 0.0
            assert (tags[row] == -1).all()
            continue
        np.testing.assert_allclose(log_z[row], logsumexp(values), rtol=1e-5)
        np.testing.assert_allclose(best[row], values.max(), rtol=1e-5)
        expected = np.full(MASK.shape[1], -1)
        expected[MASK[row]] = paths[int(values.argmax())]
        np.testing.assert_array_equal(tags[row], expected)


def test_call_returns_emissions_and_viterbi_path():
    crf, scores = random_crf(), emissions()
    outputs = crf(scores, mask=MASK)
    assert tuple(outputs.shape) == MASK.shape + (NUM_TAGS + 1,)
    assert_allclose(LinearChainCRF.emissions(outputs), scores)
    tags = to_numpy(LinearChainCRF.decoded_tags(outputs))
    assert tags.dtype == np.int32
    np.testing.assert_array_equal(tags, to_numpy(crf.viterbi(scores, MASK)[0]))


def test_negative_log_likelihood_matches_enumeration_with_partial_labels():
    crf, scores = random_crf(seed=4), emissions(seed=5)
    rng = np.random.default_rng(6)
    labels = rng.integers(0, NUM_TAGS, MASK.shape)
    labels[rng.random(MASK.shape) < 0.3] = -1  # unlabelled steps
    labels[1] = -1  # a sequence without labels
    outputs = crf(scores, mask=MASK)
    nll = to_numpy(crf.negative_log_likelihood(labels, outputs))
    for row in range(len(MASK)):
        expected = brute_force_nll(crf, scores, labels, row) if MASK[row].any() else 0
        np.testing.assert_allclose(nll[row], expected, rtol=1e-5, atol=1e-5)
    assert nll[1] == 0.0
    # Full labels: log p(path) = score(path) - log Z.
    full = rng.integers(0, NUM_TAGS, MASK.shape)
    log_p = to_numpy(crf.log_likelihood(scores, full, MASK))
    paths, values = path_scores(crf, scores, 0)
    index = paths.index(tuple(full[0]))
    np.testing.assert_allclose(log_p[0], values[index] - logsumexp(values), rtol=1e-5)


def test_crf_loss_sums_over_labelled_sequences_per_token_or_per_sequence():
    crf, scores = random_crf(seed=2), emissions(seed=3)
    labels = np.random.default_rng(1).integers(0, NUM_TAGS, MASK.shape)
    labels[2] = -1
    labels[0, 1] = -1  # one unlabelled step: marginalised, not counted
    outputs = crf(scores, mask=MASK)
    per_sequence = to_numpy(crf.negative_log_likelihood(labels, outputs))
    counted = [0, 1, 4]  # row 2 is unlabelled, row 3 empty
    tokens = ((labels >= 0) & MASK).sum(-1)[counted]
    by_sequence = CRFLoss(crf=crf, normalize="sequence")(labels, outputs)
    np.testing.assert_allclose(
        to_numpy(by_sequence), per_sequence[counted].mean(), rtol=1e-5
    )
    by_token = CRFLoss(crf=crf)(labels, outputs)
    expected = per_sequence[counted].sum() / tokens.sum()
    np.testing.assert_allclose(to_numpy(by_token), expected, rtol=1e-5)
    weights = np.arange(5.0)
    weighted = CRFLoss(crf=crf, normalize="sequence")(labels, outputs, weights)
    expected = (per_sequence[counted] * weights[counted]).sum() / 5
    np.testing.assert_allclose(to_numpy(weighted), expected, rtol=1e-5)
    weighted = CRFLoss(crf=crf)(labels, outputs, sample_weight=weights)
    expected = (per_sequence[counted] * weights[counted]).sum() / (
        weights[counted] * tokens
    ).sum()
    np.testing.assert_allclose(to_numpy(weighted), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="not bound"):
        CRFLoss()(labels, outputs)
    with pytest.raises(ValueError, match="normalize"):
        CRFLoss(normalize="batch")


def test_a_task_keeps_its_crf_loss_through_compile_and_config():
    from keras_mtl import Task

    loss = CRFLoss(name="tag_loss", normalize="sequence")
    task = Task("tag", NUM_TAGS, sequence=True, crf=True, loss=loss)
    assert task.masked_loss().bind(random_crf(seed=0)).normalize == "sequence"
    restored = Task.from_config(task.get_config())
    assert restored.masked_loss().normalize == "sequence"


# Tags 0 = B-X, 1 = I-X, 2 = O: I-X only after B-X or I-X, never first.
BIO = bio_constraints(["B-X", "I-X", "O"])


def test_bio_constraints_follow_the_scheme():
    rules = bio_constraints(["O", "B-NP", "I-NP", "B-VP", "I-VP"])
    allowed = np.array(rules["allowed_transitions"])
    # I-NP (2) only after B-NP (1) or I-NP (2); I-VP (4) only after 3 or 4.
    np.testing.assert_array_equal(allowed[:, 2], [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(allowed[:, 4], [0, 0, 0, 1, 1])
    assert allowed[:, [0, 1, 3]].all()
    assert rules["allowed_start"] == [True, True, False, True, False]
    with pytest.raises(ValueError, match="tag_names"):
        bio_constraints(["O", "NP"])


def test_constrained_crf_matches_enumeration_over_the_allowed_paths():
    crf = LinearChainCRF(
        transitions_initializer=keras.initializers.RandomNormal(seed=8),
        boundary_initializer=keras.initializers.RandomNormal(seed=9),
        allowed_end=[True, False, True],  # may not end on I-X either
        **BIO,
    )
    crf.build((None, None, NUM_TAGS))
    # Emissions that favour the ruled-out tag I-X everywhere.
    scores = emissions(seed=10) + np.array([0.0, 4.0, 0.0], "float32")
    allowed = np.array(BIO["allowed_transitions"])
    log_z = to_numpy(crf.log_partition(scores, MASK))
    tags, best = (to_numpy(v) for v in crf.viterbi(scores, MASK))
    for row in range(len(MASK)):
        paths, values = path_scores(crf, scores, row)
        keep = [
            bool(p)
            and p[0] != 1
            and p[-1] != 1
            and all(allowed[a, b] for a, b in zip(p[:-1], p[1:]))
            for p in paths
        ]
        if not any(keep):  # the empty row
            assert log_z[row] == 0.0 and best[row] == 0.0
            continue
        values = np.array(values)[keep]
        kept = [p for p, k in zip(paths, keep) if k]
        np.testing.assert_allclose(log_z[row], logsumexp(values), rtol=1e-5)
        np.testing.assert_allclose(best[row], values.max(), rtol=1e-5)
        assert tuple(tags[row][MASK[row]]) == kept[int(values.argmax())]
    config = crf.get_config()
    assert config["allowed_transitions"] == BIO["allowed_transitions"]
    assert LinearChainCRF.from_config(config).allowed_end == [True, False, True]


def test_bad_constraints_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="allowed_start"):
        LinearChainCRF(allowed_start=[1, 0, 1])  # ints, not booleans
    with pytest.raises(ValueError, match="allowed_transitions"):
        LinearChainCRF(allowed_transitions=[[False, False], [True, True]])
    with pytest.raises(ValueError, match="allowed_transitions"):
        LinearChainCRF(**BIO).build((None, None, 4))  # 3 × 3 rules, 4 tags


def test_zero_initialised_crf_decodes_the_per_step_argmax():
    crf, scores = LinearChainCRF(), emissions(seed=7)
    tags = to_numpy(LinearChainCRF.decoded_tags(crf(scores)))
    np.testing.assert_array_equal(tags, scores.argmax(-1))


def test_gradients_are_finite_with_padding_and_missing_labels():
    from keras_mtl import Task
    from keras_mtl.models import MultiTaskModel

    inputs = keras.Input((MASK.shape[1], 2))
    masked = keras.layers.Masking(0.0)(inputs)
    scores = keras.layers.Dense(NUM_TAGS, name="tag_emissions")(masked)
    outputs = {"tag": LinearChainCRF(name="tag")(scores)}
    task = Task("tag", NUM_TAGS, sequence=True, crf=True)
    model = MultiTaskModel(inputs, outputs, tasks=[task])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).normal(size=MASK.shape + (2,)).astype("float32")
    x[~MASK] = 0.0  # padding, including an empty sequence
    labels = np.where(MASK, np.arange(MASK.shape[1]) % NUM_TAGS, -1)
    labels[2] = -1
    for _ in range(3):
        logs = model.train_on_batch(x, {"tag": labels}, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] > 0
    for variable in model.trainable_variables:
        assert np.isfinite(to_numpy(variable)).all()
    assert np.abs(to_numpy(model.get_layer("tag").transitions)).max() > 0


def test_mixed_precision_computes_in_float32():
    keras.config.set_dtype_policy("mixed_float16")
    crf = LinearChainCRF()
    outputs = crf(emissions().astype("float16"), mask=MASK)
    assert crf.transitions.dtype == "float32"
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    nll = crf.negative_log_likelihood(np.zeros(MASK.shape, "int32"), outputs)
    assert keras.backend.standardize_dtype(nll.dtype) == "float32"
    assert np.isfinite(to_numpy(nll)).all()


def test_bad_emission_shape_is_refused():
    with pytest.raises(ValueError, match="num_tags >= 2"):
        LinearChainCRF()(np.zeros((2, 3)))


class _TwoWidths(keras.utils.PyDataset):
    """Token batches of two widths, so the time axis is unknown when traced."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        width = (4, 6)[index]
        rng = np.random.default_rng(index)
        tokens = rng.integers(1, 9, (3, width)).astype("int32")
        return tokens, {"tag": rng.integers(0, NUM_TAGS, (3, width))}


def test_trains_on_batches_of_unknown_length():
    # Keras's TensorFlow scan failed on several inputs of unknown length.
    from keras_mtl import Task, models

    task = Task("tag", NUM_TAGS, sequence=True, crf=True)
    model = models.hard_sharing(
        [task], vocab_size=9, embedding_dim=4, units=4, num_layers=1, seed=0
    )
    history = model.fit(_TwoWidths(), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
