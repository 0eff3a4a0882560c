"""Routes a batch to the tasks of a multi-task model, with or without task ids."""

import keras
from keras import ops

from keras_mtl.arguments import check_int


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskRouting(keras.layers.Layer):
    """Pairs every example with the task(s) that should read it.

    With task ids (data where each example belongs to one task) the batch
    passes unchanged with its ids. Without them (`task_id=None`: ordinary
    multi-output data) the batch is tiled once per task, task 0's copy
    first, and the ids say which task each copy belongs to; `TaskSplit`
    cuts the result back into one batch per task. Call it on token ids, so
    that an `Embedding(mask_zero=True)` after it masks the tiled batch.

    Args:
        num_tasks: int. Number of tasks M. At least 1.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: tensor `(batch, ...)`.
        task_id: int tensor `(batch,)` or None.

    Returns:
        `(inputs, task_id)` unchanged, or `(tiled (M * batch, ...), ids
        (M * batch,))` when `task_id` is None.

    Example:

    >>> tokens, ids = TaskRouting(2)(np.array([[3, 4], [5, 0]]))
    >>> keras.ops.convert_to_numpy(ids).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, num_tasks, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_int(num_tasks, "num_tasks")

    def call(self, inputs, task_id=None):
        if task_id is not None:
            return inputs, ops.reshape(ops.cast(task_id, "int32"), (-1,))
        first = ops.reshape(inputs, (ops.shape(inputs)[0], -1))[:, 0]
        ones = ops.ones_like(ops.cast(first, "int32"))
        tasks = ops.arange(self.num_tasks, dtype="int32")
        ids = ops.reshape(tasks[:, None] * ones[None, :], (-1,))
        return ops.concatenate([inputs] * self.num_tasks, axis=0), ids

    def compute_output_spec(self, inputs, task_id=None):
        batch = inputs.shape[0]
        if task_id is None and batch is not None:
            batch = batch * self.num_tasks
        shape = (batch,) + tuple(inputs.shape[1:])
        return (
            keras.KerasTensor(shape, dtype=inputs.dtype),
            keras.KerasTensor((batch,), dtype="int32"),
        )

    def get_config(self):
        config = super().get_config()
        config["num_tasks"] = self.num_tasks
        return config
