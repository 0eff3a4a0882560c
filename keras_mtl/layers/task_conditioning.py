"""Appends each example's task code to every step of a sequence."""

import keras
from keras import ops

from keras_mtl.arguments import check_int


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskConditioning(keras.layers.Layer):
    """Appends a one-hot code of each example's task to every time step.

    This is how a multi-task `MetaLSTMCell` learns which task's `P`, `Q`,
    `B` to use: the cell reads the last `num_tasks` features of every step
    as the task code. A task id outside `0..num_tasks - 1` gives an all-zero
    code (no task); `keras_mtl.models.meta_lstm` models reject such ids in
    `fit`, `evaluate` and `predict`.

    Args:
        num_tasks: int. Number of tasks (width of the code). At least 1.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: list `[sequence, task_id]`: `sequence` of shape
            `(batch, time, features)` and integer `task_id` of shape
            `(batch,)` or `(batch, 1)`.
        mask: optional list of masks; the sequence mask is passed through.

    Returns:
        `(batch, time, features + num_tasks)`.

    Example:

    >>> layer = TaskConditioning(3)
    >>> tuple(layer([np.zeros((2, 4, 5)), np.array([0, 2])]).shape)
    (2, 4, 8)
    """

    def __init__(self, num_tasks, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_int(num_tasks, "num_tasks")
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "TaskConditioning expects a list [sequence, task_id]. "
                f"Received input_shape={input_shape}"
            )
        sequence, task_id = (tuple(s) for s in input_shape)
        if len(sequence) != 3:
            raise ValueError(
                "TaskConditioning expects a sequence of shape (batch, time, "
                f"features). Received shape {sequence}"
            )
        if len(task_id) not in (1, 2) or (len(task_id) == 2 and task_id[1] != 1):
            raise ValueError(
                "TaskConditioning expects `task_id` of shape (batch,) or "
                f"(batch, 1). Received shape {task_id}"
            )

    def call(self, inputs, mask=None):
        sequence, task_id = inputs
        task_id = ops.reshape(ops.cast(task_id, "int32"), (-1, 1))
        code = ops.equal(task_id, ops.arange(self.num_tasks, dtype="int32")[None])
        code = ops.cast(code, sequence.dtype)[:, None, :]
        steps = ops.shape(sequence)[1]
        code = ops.broadcast_to(code, (ops.shape(sequence)[0], steps, self.num_tasks))
        return ops.concatenate([sequence, code], axis=-1)

    def compute_output_shape(self, input_shape):
        sequence = tuple(input_shape[0])
        width = None if sequence[-1] is None else sequence[-1] + self.num_tasks
        return sequence[:-1] + (width,)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def get_config(self):
        config = super().get_config()
        config["num_tasks"] = self.num_tasks
        return config
