"""The output of a sequence at its last unmasked step."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_mtl")
class LastStep(keras.layers.Layer):
    """Reads each sequence at its last unmasked step (an RNN's final state).

    With a mask (e.g. from `Embedding(mask_zero=True)`), example i gives
    `inputs[i, t_i]` with `t_i` its last unmasked step (step 0 when every
    step is masked); without one, the last step.

    Call arguments:
        inputs: `(batch, time, features)`.
        mask: optional boolean `(batch, time)`.

    Returns:
        `(batch, features)`.

    Example:

    >>> x = np.arange(12.0).reshape(2, 3, 2)
    >>> mask = np.array([[True, True, False], [True, True, True]])
    >>> keras.ops.convert_to_numpy(LastStep()(x, mask=mask)).tolist()
    [[2.0, 3.0], [10.0, 11.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs[:, -1]
        steps = ops.shape(inputs)[1]
        positions = ops.arange(steps, dtype="int32")[None, :]
        last = ops.max(ops.where(mask, positions, 0), axis=1)
        select = ops.one_hot(last, steps, dtype=inputs.dtype)
        return ops.einsum("bt,btd->bd", select, inputs)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "LastStep expects inputs of shape (batch, time, features). "
                f"Received: input_shape={input_shape}"
            )
        return (input_shape[0], input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None
