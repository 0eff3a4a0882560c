"""Every docstring example in the package runs (and shows what it says)."""

import doctest
import importlib
import os
import pkgutil

import keras
import numpy as np
import pytest

import keras_mtl
from keras_mtl import Task

SKIPPED = ("keras_mtl.tuning.compat",)  # patches KerasTuner; no examples
# The examples run on one backend (the rest of the suite tests every
# backend); set KERAS_MTL_DOCTEST_BACKENDS="tensorflow,jax,torch" for more.
DOCTEST_BACKENDS = os.environ.get("KERAS_MTL_DOCTEST_BACKENDS", "tensorflow")
# Modules whose examples need a backend feature (data parallelism: JAX, TF).
BACKENDS = {"keras_mtl.distribution": ("jax", "tensorflow")}


def _modules():
    names = []
    for info in pkgutil.walk_packages(keras_mtl.__path__, "keras_mtl."):
        if info.name not in SKIPPED:
            names.append(info.name)
    return sorted(names)


def _examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(module, module_name, globs=vars(module).copy())
    return [test for test in tests if test.examples]


CASES = [(name, test.name) for name in _modules() for test in _examples(name)]


@pytest.mark.parametrize("module_name, test_name", CASES, ids=[c[1] for c in CASES])
def test_docstring_example_runs(module_name, test_name, tmp_path, monkeypatch):
    if keras.backend.backend() not in DOCTEST_BACKENDS.split(","):
        pytest.skip(f"docstring examples run on {DOCTEST_BACKENDS}")
    backends = BACKENDS.get(module_name)
    if backends and keras.backend.backend() not in backends:
        pytest.skip(f"{module_name} runs on {backends} only")
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    (test,) = [t for t in _examples(module_name) if t.name == test_name]
    test.globs.update({"np": np, "keras": keras, "keras_mtl": keras_mtl, "Task": Task})
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    report = []
    keras.utils.set_random_seed(0)
    runner.run(test, out=report.append)
    assert not runner.failures, "".join(report)
