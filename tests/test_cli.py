import json

import keras
import pytest

from keras_mtl.cli import main
from keras_mtl.plotting import plot_sluice_weights


def test_train_sluice_end_to_end(tmp_path, capsys):
    out = tmp_path / "scores.json"
    model_path = tmp_path / "model.keras"
    code = main(
        [
            "train",
            "sluice",
            "--data",
            "conll2000",
            "--epochs",
            "1",
            "--units",
            "8",
            "--embedding-dim",
            "8",
            "--max-train-sentences",
            "64",
            "--verbose",
            "0",
            "--json",
            str(out),
            "--save",
            str(model_path),
        ]
    )
    assert code == 0
    scores = json.loads(out.read_text())
    assert 0 <= scores["POS acc"] <= 100 and 0 <= scores["chunk F1"] <= 100
    assert "chunk F1" in capsys.readouterr().out
    model = keras.saving.load_model(model_path)
    png = tmp_path / "weights.png"
    plot_sluice_weights(model, png)
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("seed", range(10))
def test_train_runs_for_seeds_0_to_9(seed, capsys):
    code = main(
        [
            "train",
            "hard_sharing",
            "--max-train-sentences",
            "200",
            "--epochs",
            "1",
            "--num-layers",
            "1",
            "--units",
            "8",
            "--embedding-dim",
            "8",
            "--verbose",
            "0",
            "--seed",
            str(seed),
        ]
    )
    assert code == 0
    assert "chunk F1" in capsys.readouterr().out


def test_every_option_has_a_help_text():
    import argparse

    from keras_mtl.cli import build_parser

    commands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"keras-mtl {name} {action.dest} has no help text"


@pytest.mark.backends("torch")
def test_train_a_bundled_feature_dataset_writes_per_task_scores(tmp_path):
    out = tmp_path / "scores.json"
    argv = ["train", "mrn", "--data", "office_caltech", "--epochs", "1"]
    argv += ["--units", "4", "--max-examples", "64", "--verbose", "0"]
    assert main(argv + ["--json", str(out)]) == 0
    scores = json.loads(out.read_text())["scores"]
    assert sorted(scores) == ["amazon", "caltech", "dslr", "webcam"]
    assert all("accuracy" in metrics for metrics in scores.values())


@pytest.mark.backends("torch")
def test_own_column_files_then_evaluate(tmp_path, capsys):
    lines = ["the DT B-NP", "cat NN I-NP", "sat VBD B-VP", ""] * 6
    (tmp_path / "train.txt").write_text("\n".join(lines))
    model_path, out = tmp_path / "m.keras", tmp_path / "eval.json"
    own = ["--data", str(tmp_path / "train.txt"), "--columns", "token,pos,chunk"]
    argv = ["train", "hard_sharing", *own, "--epochs", "1", "--units", "4"]
    assert main(argv + ["--verbose", "0", "--save", str(model_path)]) == 0
    assert main(["evaluate", str(model_path), *own, "--json", str(out)]) == 0
    scores = json.loads(out.read_text())["scores"]
    assert sorted(scores) == ["chunk", "pos"] and "accuracy" in scores["pos"]


@pytest.mark.backends("torch")
def test_own_csv_file(tmp_path, capsys):
    rows = ["a,b,kind,score"] + [f"{i},{i % 3},{i % 2},{i / 10}" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    argv = ["train", "hard_sharing", "--data", str(tmp_path / "t.csv")]
    argv += ["--inputs", "a,b", "--labels", "kind,score", "--epochs", "1"]
    assert main(argv + ["--units", "4", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "kind" in out and "score" in out


def test_unknown_data_is_an_error_naming_the_option(capsys):
    assert main(["train", "hard_sharing", "--data", "nope.txt"]) == 2
    assert "--data" in capsys.readouterr().err
