"""Smoke test of `benchmarks/run.py --quick` (no timing asserts)."""

import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run as suite  # noqa: E402

REQUIRED = (
    "model",
    "baseline",
    "backend",
    "batch_size",
    "examples_per_s",
    "baseline_examples_per_s",
    "ratio",
)


# The benchmarks run on the device backends (JAX, torch; no TensorFlow there).
@pytest.mark.backends("jax", "torch")
def test_quick_run_writes_the_records_of_api_md(tmp_path):
    output = tmp_path / "bench.json"
    backend = keras.backend.backend()
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"]
    command += ["--only", "sharing", "--batch-size", "8", "--output", str(output)]
    command += ["--backend", backend]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONPATH", None)  # run.py must find the package by itself
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    records = json.loads(output.read_text())
    assert {r["model"] for r in records} == {"sluice", "cross_stitch", "hard_sharing"}
    for rec in records:
        assert set(REQUIRED) <= set(rec)
        assert rec["backend"] == backend and rec["batch_size"] == 8
        assert rec["baseline"] == "single_task"
        assert rec["examples_per_s"] > 0 and rec["baseline_examples_per_s"] > 0
        assert rec["ratio"] == pytest.approx(
            rec["examples_per_s"] / rec["baseline_examples_per_s"]
        )
    assert "| sluice" in done.stdout  # the table


def test_a_failing_module_is_recorded_and_the_run_goes_on(monkeypatch):
    import benchmarks.sharing

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(benchmarks.sharing, "run", broken)
    (rec,) = suite.run_suite("sharing", quick=True, batch_size=4)
    assert rec["model"] == "sharing" and rec["ratio"] is None
    assert rec["error"] == "RuntimeError: boom"


def test_an_unavailable_module_is_recorded_as_skipped(monkeypatch):
    import benchmarks.sharing

    def unavailable(**kwargs):
        raise unittest.SkipTest("no peer here")

    monkeypatch.setattr(benchmarks.sharing, "run", unavailable)
    (rec,) = suite.run_suite("sharing", quick=True, batch_size=None)
    assert rec["skipped"] == "no peer here" and "error" not in rec


def test_targets_of_the_issue():
    assert suite.target_of({"model": "sluice", "baseline": "single_task"}) == 0.85
    assert suite.target_of({"model": "meta_lstm", "baseline": "lstm"}) == 0.5
    assert suite.target_of({"model": "hard_sharing", "baseline": "single_task"}) is None


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        suite.parse_args(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        suite.parse_args(["--batch-size", "0"])
    args = suite.parse_args(["--quick", "--only", "sharing,tree"])
    assert args.only == ["sharing", "tree"] and args.quick
