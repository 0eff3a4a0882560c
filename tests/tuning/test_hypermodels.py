"""Tests of the keras_mtl.tuning HyperModels (tiny synthetic data)."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from keras_mtl import tuning
from keras_mtl.task import Task

RNG = np.random.default_rng(0)
X = RNG.random((16, 6)).astype("float32")
TASKS = [Task("a", 3), Task("b")]
Y = {"a": RNG.integers(0, 3, 16), "b": RNG.random(16).astype("float32")}
TINY = {"units": [4], "num_layers": [1]}


def _search(hypermodel, tasks, x, y, directory, max_trials=2, **kwargs):
    tuner = kt.RandomSearch(
        hypermodel,
        objective=tuning.objective(tasks),
        max_trials=max_trials,
        directory=str(directory),
        overwrite=kwargs.pop("overwrite", True),
        seed=0,
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0, **kwargs)
    return tuner


def _meta_lstm_case():
    tasks = [Task("a", 2), Task("c", 2)]
    ids = RNG.integers(0, 2, 16)
    labels = RNG.integers(0, 2, 16)
    x = {"tokens": RNG.integers(1, 20, (16, 4)), "task_id": ids}
    y = {"a": np.where(ids == 0, labels, -1), "c": np.where(ids == 1, labels, -1)}
    hypermodel = tuning.MetaLSTMHyperModel(
        tasks, vocab_size=20, embedding_dim=4, ranges={**TINY, "meta_units": [2]}
    )
    return hypermodel, tasks, x, y, ["meta_units"]


def _case(name):
    features = {"input_shape": (6,), "ranges": TINY}
    if name == "meta_lstm":
        return _meta_lstm_case()
    if name == "mrn":
        tasks = [Task("a", 3), Task("c", 3)]
        y = {"a": Y["a"], "c": Y["a"][::-1].copy()}
        hypermodel = tuning.MRNHyperModel(tasks, **features)
        return hypermodel, tasks, X, y, ["prior_weight", "covariances"]
    if name == "tree":
        tasks = [Task(f"t{i}") for i in range(3)]
        y = {t.name: RNG.random(16).astype("float32") for t in tasks}
        hypermodel = tuning.TreeHyperModel(tasks, **features)
        return hypermodel, tasks, X, y, ["num_levels", "fusion_root"]
    classes = {
        "hard_sharing": (tuning.HardSharingHyperModel, ["units"]),
        "low_supervision": (tuning.LowSupervisionHyperModel, ["supervise_at_a"]),
        "cross_stitch": (tuning.CrossStitchHyperModel, ["alpha_init"]),
        "sluice": (tuning.SluiceHyperModel, ["num_subspaces", "beta_init"]),
    }
    cls, names = classes[name]
    return cls(TASKS, **features), TASKS, X, Y, names


@pytest.mark.parametrize(
    "name",
    [
        "hard_sharing",
        "low_supervision",
        "cross_stitch",
        "sluice",
        "meta_lstm",
        "mrn",
        "tree",
    ],
)
def test_random_search_two_trials(name, tmp_path):
    hypermodel, tasks, x, y, sharing = _case(name)
    tuner = _search(hypermodel, tasks, x, y, tmp_path)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"] * 2
    best = tuner.oracle.get_best_trials(1)[0]
    assert 0.0 <= best.score <= 1.0
    assert best.score == max(t.score for t in trials)
    for hp_name in sharing:
        assert hp_name in best.hyperparameters.values


def test_the_weighting_strategy_is_searched_when_ranges_name_it():
    hypermodel = tuning.HardSharingHyperModel(
        TASKS, input_shape=(6,), ranges={"weighting": ["uncertainty", "pcgrad"]}
    )
    drawn = set()
    for seed in range(6):
        hp = kt.HyperParameters()
        hp.Choice(
            "weighting",
            ["uncertainty", "pcgrad"],
            default=["uncertainty", "pcgrad"][seed % 2],
        )
        model = hypermodel.build(hp)
        drawn.add(type(model.weighting).__name__)
    assert drawn == {"Uncertainty", "PCGrad"}
    default = tuning.HardSharingHyperModel(TASKS, input_shape=(6,))
    hp = kt.HyperParameters()
    assert type(default.build(hp).weighting).__name__ == "Equal"
    assert hp.values["weighting"] == "equal"


def test_builder_kwargs_fix_hyperparameters():
    hypermodel = tuning.SluiceHyperModel(
        TASKS, input_shape=(6,), units=8, num_subspaces=2, ranges={"num_layers": [1]}
    )
    assert "num_subspaces" not in hypermodel.searched()
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.values["num_subspaces"] == 2
    assert hp.values["num_layers"] == 1
    assert model.get_layer("sluice_unit_1").num_subspaces == 2


def test_tree_fusion_weights_from_root_and_decay():
    tasks = [Task("t0"), Task("t1"), Task("t2")]
    hypermodel = tuning.TreeHyperModel(
        tasks, input_shape=(3,), num_layers=0, num_levels=3, fusion_root=0.5
    )
    hp = kt.HyperParameters()
    hp.Fixed("fusion_decay", 10.0)
    head = hypermodel.build(hp).get_layer("tree_head")
    np.testing.assert_allclose(head.fusion_weights, [0.005, 0.05, 0.5])
    fixed = tuning.TreeHyperModel(tasks, input_shape=(3,), fusion_weights=[1, 2, 3])
    assert "fusion_root" not in fixed.searched()
    assert "fusion_decay" not in fixed.searched()


def test_tree_hypermodel_takes_tasks_of_any_kind_and_caps_levels():
    tasks = [Task("r"), Task("c", num_classes=3), Task("b", num_classes=2)]
    hypermodel = tuning.TreeHyperModel(tasks, input_shape=(3,), num_layers=0, units=4)
    hp = kt.HyperParameters()
    hp.Fixed("num_levels", 4)
    hp.Fixed("component_l2", 1e-2)
    head = hypermodel.build(hp).get_layer("tree_head")
    assert head.num_levels == 3 and head.units == 4 and head.component_l2 == 1e-2


def test_low_supervision_layer_clipped_to_depth():
    hypermodel = tuning.LowSupervisionHyperModel(
        TASKS, input_shape=(6,), units=4, num_layers=1, supervise_at_a=3
    )
    model = hypermodel.build(kt.HyperParameters())
    assert set(model.output) == {"a", "b"}


def test_bad_ranges_raise():
    with pytest.raises(ValueError, match="num_subspace.*Expected names"):
        tuning.SluiceHyperModel(TASKS, input_shape=(6,), ranges={"num_subspace": [1]})
    with pytest.raises(TypeError, match="ranges\\['units'\\]"):
        tuning.SluiceHyperModel(TASKS, input_shape=(6,), ranges={"units": 8})
    with pytest.raises(ValueError, match="ranges\\['units'\\]"):
        tuning.SluiceHyperModel(TASKS, input_shape=(6,), ranges={"units": []})
    with pytest.raises(ValueError, match="fixed"):
        tuning.SluiceHyperModel(TASKS, input_shape=(6,), units=8, ranges={"units": [8]})
    with pytest.raises(TypeError, match="ranges"):
        tuning.HardSharingHyperModel(TASKS, input_shape=(6,), ranges=[("units", 8)])
    with pytest.raises(ValueError, match="divisible"):
        tuning.SluiceHyperModel(TASKS, input_shape=(6,), units=6)
    with pytest.raises(TypeError, match="tasks"):
        tuning.HardSharingHyperModel("a", input_shape=(6,))


def test_bad_fixed_value_stops_search_with_builder_message(tmp_path):
    hypermodel = tuning.SluiceHyperModel(
        TASKS, input_shape=(6,), units=8, num_subspaces=0
    )
    with pytest.raises(ValueError, match="num_subspaces"):
        hypermodel.build(kt.HyperParameters())
    hypermodel = tuning.HardSharingHyperModel(
        TASKS, input_shape=(6,), ranges=TINY, dropout=1.5
    )
    with pytest.raises(ValueError, match="dropout"):
        _search(hypermodel, TASKS, X, Y, tmp_path, max_trials=3)
    hypermodel = tuning.HardSharingHyperModel(TASKS, input_shape=(6,), unit=8)
    with pytest.raises(TypeError, match="unit"):
        hypermodel.build(kt.HyperParameters())


class _InterruptSecondFit(keras.callbacks.Callback):
    fits = 0

    def on_train_begin(self, logs=None):
        type(self).fits += 1
        if type(self).fits == 2:
            raise KeyboardInterrupt


def test_interrupted_search_resumes_without_losing_or_repeating(tmp_path):
    hypermodel = tuning.HardSharingHyperModel(TASKS, input_shape=(6,), ranges=TINY)
    run = dict(overwrite=False, callbacks=[_InterruptSecondFit()])
    with pytest.raises(KeyboardInterrupt):
        _search(hypermodel, TASKS, X, Y, tmp_path, **run)
    tuner = _search(hypermodel, TASKS, X, Y, tmp_path, **run)
    trials = tuner.oracle.trials
    assert sorted(trials) == ["0", "1"]
    assert all(t.status == "COMPLETED" for t in trials.values())
    # Trial 0 ran once, trial 1 was interrupted once and re-run once.
    assert _InterruptSecondFit.fits == 3
    draws = [t.hyperparameters.values["learning_rate"] for t in trials.values()]
    assert len(set(draws)) == 2
