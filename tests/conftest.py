import os
import sys

# Test shapes are tiny: compile time dominates on JAX (XLA's CPU backend
# optimisations buy nothing here) and intra-op threads only contend with the
# second pytest worker on torch. Set before the backends are imported.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import keras  # noqa: E402
import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    keras.config.disable_interactive_logging()
    yield
    keras.config.set_dtype_policy("float32")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "backends(*names): run the test only on these Keras backends (for checks "
        "that do not depend on the backend, or whose backend-specific part other "
        "tests cover on every backend)",
    )


@pytest.fixture(autouse=True)
def _only_on_marked_backends(request):
    marker = request.node.get_closest_marker("backends")
    if marker and keras.backend.backend() not in marker.args:
        pytest.skip(f"runs on {', '.join(marker.args)} only")
