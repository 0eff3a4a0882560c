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
