"""Lets KerasTuner run on the TensorFlow backend without TensorBoard installed.

KerasTuner 1.4 imports `tensorboard` in every trial on the TensorFlow backend
(`Tuner._configure_tensorboard_dir`), although it only needs it to patch a
`keras.callbacks.TensorBoard` callback; TensorFlow >= 2.21 no longer installs
TensorBoard. `patch_tensorboard_import()` makes that step a no-op when no
TensorBoard callback is given and TensorBoard is missing, and leaves it
unchanged otherwise.
"""

import importlib.util

from keras_tuner.src.engine import tuner as tuner_module


def patch_tensorboard_import():
    """Skips KerasTuner's TensorBoard set-up when it is unused and missing."""
    original = tuner_module.Tuner._configure_tensorboard_dir
    if getattr(original, "_keras_mtl_patched", False):
        return
    if importlib.util.find_spec("tensorboard") is not None:
        return

    def configure(self, callbacks, trial, execution=0):
        if any(type(c).__name__ == "TensorBoard" for c in callbacks):
            return original(self, callbacks, trial, execution)
        return None

    configure._keras_mtl_patched = True
    tuner_module.Tuner._configure_tensorboard_dir = configure
