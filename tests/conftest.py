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
