"""The shared benchmark helpers (no timing asserts)."""

import sys
import textwrap
import unittest
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import libmtl_peer, timing  # noqa: E402


def _script(tmp_path, body):
    path = tmp_path / "module.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_records_from_child_reads_the_json_the_child_wrote(tmp_path):
    script = _script(
        tmp_path,
        """
        import json, os, sys
        args = sys.argv[1:]
        out = args[args.index("--output") + 1]
        record = {"backend": os.environ["KERAS_BACKEND"], "args": args}
        json.dump([record], open(out, "w"))
        """,
    )
    (rec,) = timing.records_from_child(script, "jax", True, 8, ("--keras-side",))
    assert rec["backend"] == "jax"
    assert rec["args"][0] == "--keras-side"
    assert "--quick" in rec["args"] and rec["args"][-2:] == ["--batch-size", "8"]


def test_records_from_child_turns_exit_statuses_into_skip_and_error(tmp_path):
    exit_skipped = f"sys.exit({timing.SKIPPED})"
    skipping = _script(
        tmp_path, f"import sys; print('no peer', file=sys.stderr); {exit_skipped}"
    )
    with pytest.raises(unittest.SkipTest, match="no peer"):
        timing.records_from_child(skipping, "torch", False, None)
    failing = _script(tmp_path, "raise ValueError('boom')")
    with pytest.raises(RuntimeError, match="boom"):
        timing.records_from_child(failing, "torch", False, None)


@pytest.mark.backends("jax", "torch")  # the device backends
def test_keras_side_of_the_peer_times_every_builder():
    speeds = libmtl_peer.keras_side(quick=True, batch_size=8)
    assert set(speeds) == set(libmtl_peer.BUILDERS)
    for side in speeds.values():
        assert side["train"] > 0 and side["step"] > 0 and side["infer"] > 0
        assert side["params"] > 0 and side["peak_rss_mb"] > 0
    keras.backend.clear_session()
