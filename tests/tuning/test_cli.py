"""Tests of `keras-mtl tune` (keras_mtl.tuning.cli) on synthetic data."""

import argparse

import pytest

from keras_mtl.tuning.cli import add_tune_parser, main

TINY = [
    "--embedding-dim",
    "4",
    "--range",
    "units=[8]",
    "--range",
    "num_layers=[1]",
    "--data",
    "synthetic",
]


def _parse(argv):
    parser = argparse.ArgumentParser(prog="keras-mtl")
    add_tune_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_parser_wires_tune_main():
    args = _parse(["tune", "sluice", "--max-trials", "3", "--directory", "d"])
    assert args.run.__name__ == "tune_main"
    assert (args.builder, args.data, args.max_trials) == ("sluice", "conll2000", 3)
    with pytest.raises(SystemExit):
        _parse(["tune", "no_such_builder"])


def test_tune_prints_best_trials_and_resumes(tmp_path, capsys):
    argv = ["tune", "hard_sharing", "--directory", str(tmp_path), *TINY]
    assert main([*argv, "--max-trials", "1", "--fix", "dropout=0.0"]) == 0
    first = capsys.readouterr().out
    assert "Best trials of hard_sharing on synthetic" in first
    for column in ("val_tag_accuracy", "val_parity_accuracy", "learning_rate", "score"):
        assert column in first
    assert "Resuming" not in first

    assert main([*argv, "--max-trials", "2", "--fix", "dropout=0.0"]) == 0
    second = capsys.readouterr().out
    assert "1 trial(s) done" in second
    trials = sorted(p.name for p in (tmp_path / "hard_sharing_synthetic").iterdir())
    assert [t for t in trials if t.startswith("trial_")] == ["trial_0", "trial_1"]


def test_bad_arguments(tmp_path):
    argv = ["tune", "sluice", "--directory", str(tmp_path), *TINY]
    with pytest.raises(ValueError, match="--fix"):
        main([*argv, "--fix", "dropout"])
    with pytest.raises(ValueError, match="Expected names"):
        main([*argv, "--range", "no_such_hp=[1]"])
    with pytest.raises(ValueError, match="max-trials"):
        main([*argv, "--max-trials", "0"])
