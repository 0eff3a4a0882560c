"""Every Python block of the README runs as written (with small sizes)."""

import os
import pathlib
import re
import subprocess
import sys

import keras
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)

# Sizes only: each pattern must occur in the README (checked below), so a
# rewrite of the README cannot silently make the test slow or vacuous.
SMALL = [
    (r"conll2000\(\)", "conll2000(max_train_sentences=64)"),
    (r"epochs=\d+", "epochs=1"),
    (r"\bunits=(32|64)\b", "units=8"),
    (r"fdu_mtl\(max_length=100", 'fdu_mtl(["books", "dvd"], max_length=20'),
    (r"max_trials=10", "max_trials=1"),
]


def _small(code):
    for pattern, replacement in SMALL:
        code = re.sub(pattern, replacement, code)
    return code


def _block_id(index):
    first = BLOCKS[index].strip().splitlines()[-1]
    return f"{index}:{first[:40]}"


def test_the_readme_has_its_tour_and_every_size_pattern_is_used():
    assert len(BLOCKS) >= 6
    for pattern, _ in SMALL:
        assert any(re.search(pattern, block) for block in BLOCKS), pattern


@pytest.mark.parametrize(
    "index", range(len(BLOCKS)), ids=[_block_id(i) for i in range(len(BLOCKS))]
)
def test_readme_block_runs(index, tmp_path, monkeypatch):
    code = _small(BLOCKS[index])
    parallel = "data_parallel" in code
    if parallel and keras.backend.backend() == "torch":
        pytest.skip("data_parallel supports JAX and TensorFlow")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "readme"})
    if parallel and keras.backend.backend() == "jax":
        _run_on_two_virtual_devices(code, tmp_path)


def _run_on_two_virtual_devices(code, tmp_path):
    """The data-parallel block as the README says to run it on a CPU."""
    script = tmp_path / "train.py"
    check = "\nimport jax\nassert len(jax.devices()) == 2, jax.devices()\n"
    script.write_text(code + check)
    env = dict(os.environ, KERAS_BACKEND="jax")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
