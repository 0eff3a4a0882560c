import os
import sys

import keras
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
