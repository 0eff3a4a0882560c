import json

import keras
import numpy as np
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


# The crash for some shuffle seeds was in Keras's TensorFlow data adapter; the
# other train tests run the command on every backend.
@pytest.mark.backends("tensorflow")
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
    assert all(np.isfinite(metrics["accuracy"]) for metrics in scores.values())


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


SMALL = ["--epochs", "1", "--units", "4", "--embedding-dim", "4", "--verbose", "0"]


@pytest.mark.backends("jax")
def test_train_on_fdu_mtl_with_task_ids_writes_per_domain_scores(tmp_path):
    out = tmp_path / "scores.json"
    argv = ["train", "meta_lstm", "--data", "fdu_mtl", "--max-tasks", "2"]
    assert main(argv + ["--max-examples", "32", *SMALL, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["builder"] == "meta_lstm" and record["data"] == "fdu_mtl"
    assert sorted(record["scores"]) == ["apparel", "baby"]
    assert all(np.isfinite(m["accuracy"]) for m in record["scores"].values())


@pytest.mark.backends("jax")
@pytest.mark.parametrize("builder", ["mrn", "tree"])
def test_feature_builders_read_token_data_through_an_encoder(builder, tmp_path):
    out = tmp_path / "scores.json"
    argv = ["train", builder, "--data", "fdu_mtl", "--max-tasks", "2"]
    assert main(argv + ["--max-examples", "32", *SMALL, "--json", str(out)]) == 0
    scores = json.loads(out.read_text())["scores"]
    assert sorted(scores) == ["apparel", "baby"]  # both domains scored, not NaN
    assert all(np.isfinite(metrics["accuracy"]) for metrics in scores.values())


@pytest.mark.backends("jax")
def test_train_on_school_then_evaluate_the_saved_model(tmp_path, capsys):
    model_path, out = tmp_path / "school.keras", tmp_path / "eval.json"
    data = ["--data", "school", "--max-tasks", "3", "--max-examples", "64"]
    argv = ["train", "hard_sharing", *data, *SMALL, "--num-layers", "1"]
    assert main(argv + ["--save", str(model_path)]) == 0
    assert "school_000" in capsys.readouterr().out
    assert main(["evaluate", str(model_path), *data, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["model"] == str(model_path)
    assert sorted(record["scores"]) == ["school_000", "school_001", "school_002"]


@pytest.mark.backends("jax")
def test_bench_runs_the_benchmark_script_of_a_checkout(monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda command: calls.append(command) or 0)
    argv = ["bench", "--quick", "--backend", "jax", "--only", "tree"]
    assert main(argv + ["--output", "b.json"]) == 0
    (command,) = calls
    assert command[1].endswith("benchmarks/run.py") and command[0]
    assert ["--only", "tree"] == command[command.index("--only") :][:2]
    assert "--quick" in command and command[command.index("--backend") + 1] == "jax"


@pytest.mark.backends("jax")
def test_bench_outside_a_checkout_says_so(monkeypatch, tmp_path, capsys):
    # An installed wheel has keras_mtl/ in site-packages and no benchmarks/.
    import keras_mtl.cli as cli

    monkeypatch.setattr(cli, "__file__", str(tmp_path / "keras_mtl" / "cli.py"))
    monkeypatch.setattr("subprocess.call", lambda command: pytest.fail(command))
    assert main(["bench", "--quick"]) == 2
    assert "source checkout" in capsys.readouterr().err
