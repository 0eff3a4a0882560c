"""Adam for a network, plain SGD for the tree parameters it holds."""

import keras
from keras import ops

from keras_mtl.arguments import check_learning_rate


@keras.saving.register_keras_serializable(package="keras_mtl")
class TreeProximalAdam(keras.optimizers.Adam):
    """Adam, except plain gradient steps on `TreeGroupedDense` parameters.

    `TreeGroupedDense` applies a proximal step with thresholds
    `step_size · λ_h` after each optimizer step. That is proximal gradient
    only when the step taken on its parameters is `−step_size · gradient`;
    Adam's per-coordinate steps would minimise a different objective. This
    optimizer therefore updates the variables named `kernel_updates` by SGD
    at `tree_learning_rate` (give it the layer's `step_size`) and every other
    variable by Adam.

    Args:
        learning_rate: float. Adam's learning rate. Defaults to `1e-3`.
        tree_learning_rate: float. SGD step of the tree parameters.
            Defaults to `1e-3`.
        **kwargs: Further `keras.optimizers.Adam` arguments.

    Example:

    >>> optimizer = TreeProximalAdam(1e-3, tree_learning_rate=0.05)
    >>> optimizer.tree_learning_rate
    0.05
    """

    def __init__(self, learning_rate=1e-3, tree_learning_rate=1e-3, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.tree_learning_rate = check_learning_rate(
            tree_learning_rate, "tree_learning_rate"
        )

    def update_step(self, gradient, variable, learning_rate):
        # TensorFlow hands over its own variable ("scope/kernel_updates:0").
        if variable.name.split("/")[-1].split(":")[0] == "kernel_updates":
            gradient = ops.cast(gradient, variable.dtype)
            self.assign_sub(variable, ops.multiply(gradient, self.tree_learning_rate))
            return
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["tree_learning_rate"] = self.tree_learning_rate
        return config
