"""CRF tagging (`Task(..., crf=True)`) in every builder on token sequences."""

import keras
import numpy as np
import pytest
from testing import assert_model_roundtrip, to_numpy

from keras_mtl import Task, models

TASKS = [
    Task("chunk", num_classes=3, sequence=True, crf=True),
    Task("pos", num_classes=4, sequence=True),
]
SMALL = {"vocab_size": 12, "embedding_dim": 4, "units": 4, "seed": 0}
LSTM = {"encoder": "lstm"}


def token_data(n=8, length=5, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, length + 1, n)
    x = rng.integers(1, 12, (n, length)).astype("int32")
    x[np.arange(length)[None, :] >= lengths[:, None]] = 0
    chunk = np.where(x > 0, x % 3, -1)
    chunk[1] = -1  # a sentence without chunk labels
    return x, {"chunk": chunk, "pos": np.where(x > 0, x % 4, -1)}


def build(builder, tasks=TASKS, **kwargs):
    if builder == "meta_lstm":
        kwargs.update(meta_units=4)
    else:
        kwargs.update(num_layers=2 if builder == "low_supervision" else 1)
    if builder == "low_supervision":
        kwargs.update(supervise_at={"pos": 1})
    return getattr(models, builder)(tasks, **SMALL, **kwargs)


# Each builder's model is also used for one more check (one build each).
BUILDER_CHECKS = {
    "hard_sharing": "evaluate",
    "single_task": "mixed_precision",
    "cross_stitch": None,
    "low_supervision": None,
    "sluice": "round_trip",
    "meta_lstm": None,
}


# The CRF head is the same in every builder (`task_head`): three builders
# run on every backend, the others on torch (the fastest here) only.
EVERY_BACKEND = ("hard_sharing", "sluice", "meta_lstm")


@pytest.mark.parametrize("builder", sorted(BUILDER_CHECKS))
def test_every_sequence_builder_trains_and_decodes_a_crf_task(builder):
    if builder not in EVERY_BACKEND and keras.backend.backend() != "torch":
        pytest.skip("the shared CRF head runs on every backend in other builders")
    check = BUILDER_CHECKS[builder]
    tasks = TASKS[:1] if check == "mixed_precision" else TASKS
    if check == "mixed_precision":
        keras.config.set_dtype_policy("mixed_float16")
    x, y = token_data()
    y = {t.name: y[t.name] for t in tasks}
    model = build(builder, tasks, **({} if builder == "meta_lstm" else LSTM))
    crf = model.crf_layer("chunk")
    before = to_numpy(crf.transitions).copy()
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["chunk_loss"]).all()
    assert not np.allclose(to_numpy(crf.transitions), before)
    tags = model.predict(x, verbose=0)["chunk"]
    assert tags.dtype == np.int32 and tags.shape == x.shape
    assert tags.max() < 3
    np.testing.assert_array_equal(tags < 0, x == 0)  # -1 exactly on padding
    if check == "evaluate":
        check_evaluate(model, x, y, tags)
    if check == "round_trip":
        restored = assert_model_roundtrip(model, x)
        assert restored.get_config()["tasks"][0]["crf"] is True
        assert restored.tasks[0].crf and not restored.tasks[1].crf
    if check == "mixed_precision":
        dtype = model(x)["chunk"].dtype
        assert keras.backend.standardize_dtype(dtype) == "float32"


def check_evaluate(model, x, y, tags):
    """`evaluate`: the CRF NLL as the task loss, metrics on the Viterbi tags."""
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    outputs = model(x)
    nll = to_numpy(
        model.crf_layer("chunk").negative_log_likelihood(y["chunk"], outputs["chunk"])
    )
    mask = y["chunk"] >= 0  # the NLL per labelled token
    np.testing.assert_allclose(logs["chunk_loss"], nll.sum() / mask.sum(), rtol=1e-4)
    accuracy = np.mean(tags[mask] == y["chunk"][mask])
    np.testing.assert_allclose(logs["chunk_accuracy"], accuracy, rtol=1e-5)
    # The total loss is the weighted sum of the per-task losses, and a
    # sentence without chunk labels (row 1) contributes nothing.
    values = [to_numpy(v) for v in model.compute_task_losses(y, outputs)]
    total = to_numpy(model.compute_loss(x, y, outputs, training=False))
    np.testing.assert_allclose(values[0], logs["chunk_loss"], rtol=1e-4)
    np.testing.assert_allclose(values[1], logs["pos_loss"], rtol=1e-4)
    np.testing.assert_allclose(total, sum(values), rtol=1e-5)
    assert not mask[1].any() and nll[1] == 0.0


def test_crf_on_a_sentence_or_regression_task_is_refused():
    with pytest.raises(ValueError, match="'sent' has crf=True"):
        Task("sent", num_classes=2, crf=True)
    with pytest.raises(ValueError, match="'price' has crf=True"):
        Task("price", sequence=True, crf=True)
    with pytest.raises(TypeError, match="crf"):
        Task("t", 2, sequence=True, crf="yes")


def test_out_of_range_crf_tags_are_refused_naming_the_task():
    x, y = token_data()
    model = build("hard_sharing")
    y["chunk"] = np.where(y["chunk"] >= 0, 3, -1)
    with pytest.raises(ValueError, match=r"y\['chunk'\].*0\.\.2"):
        model.fit(x, y, verbose=0)


@pytest.mark.backends("torch")
def test_gold_tags_that_the_crf_constraints_forbid_are_refused():
    from keras_mtl.layers import bio_constraints

    rules = bio_constraints(["B-NP", "I-NP", "O"])
    tasks = [Task("chunk", 3, sequence=True, crf=True, crf_constraints=rules)]
    model = build("hard_sharing", tasks)
    x = np.ones((2, 4), "int32")
    good = np.array([[0, 1, 2, 0], [2, 0, 1, -1]])
    model.fit(x, {"chunk": good}, verbose=0)
    for bad, message in [
        ([[0, 1, 2, 1], [2, 0, 1, -1]], "from tag 2 to tag 1 at step 3"),
        ([[0, 1, 2, 0], [1, 1, 2, -1]], "example 1 starts with tag 1"),
    ]:
        with pytest.raises(ValueError, match=rf"y\['chunk'\].*{message}"):
            model.fit(x, {"chunk": np.array(bad)}, verbose=0)


def test_replacing_the_crf_loss_is_refused():
    model = build("hard_sharing")
    with pytest.raises(ValueError, match="'chunk' has a CRF head"):
        model.compile(loss={"chunk": "sparse_categorical_crossentropy"})
    model.compile(loss={"pos": "sparse_categorical_crossentropy"})  # others may


def test_architectures_on_features_refuse_crf_tasks_naming_them():
    with pytest.raises(ValueError, match="chunk"):
        models.tree(TASKS[:1], input_shape=(5, 3))
    with pytest.raises(ValueError, match="'chunk' has sequence=True"):
        models.mrn(TASKS[:1], input_shape=(5,))


def test_a_constrained_crf_task_never_predicts_a_ruled_out_transition():
    from keras_mtl.layers import bio_constraints

    rules = bio_constraints(["B-X", "I-X", "O"])
    chunk = Task("chunk", 3, sequence=True, crf=True, crf_constraints=rules)
    model = build("hard_sharing", [chunk], **LSTM)
    assert model.crf_layer("chunk").allowed_transitions == rules["allowed_transitions"]
    x, y = token_data()
    chunk_tags = np.where(x > 0, 1, -1)  # mostly I-X: B-X first, then I-X
    chunk_tags[:, 0] = 0
    model.fit(x, {"chunk": chunk_tags}, epochs=3, batch_size=8, verbose=0)
    tags = model.predict(x, verbose=0)["chunk"]
    for row in tags:
        row = row[row >= 0]
        assert row[0] != 1  # never starts on I-X
        assert all(b != 1 or a in (0, 1) for a, b in zip(row[:-1], row[1:]))
    restored = assert_model_roundtrip(model, x)
    assert restored.tasks[0].crf_constraints == chunk.crf_constraints


def test_misplaced_crf_constraints_are_refused():
    from keras_mtl.layers import bio_constraints

    rules = bio_constraints(["B-X", "I-X", "O"])
    with pytest.raises(ValueError, match="crf=False"):
        Task("chunk", 3, sequence=True, crf_constraints=rules)
    with pytest.raises(ValueError, match=r"allowed_transitions.*num_classes=4"):
        Task("chunk", 4, sequence=True, crf=True, crf_constraints=rules)
    with pytest.raises(ValueError, match="keys among"):
        Task("chunk", 3, sequence=True, crf=True, crf_constraints={"bio": True})
