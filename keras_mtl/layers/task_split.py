"""Cuts a batch routed by `TaskRouting` back into one batch per task."""

import keras
from keras import ops

from keras_mtl.arguments import check_int


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskSplit(keras.layers.Layer):
    """The inverse of `TaskRouting`: one tensor per task.

    Without task ids (`task_id=None`) the input holds `num_tasks` copies of
    the batch, task 0's first, and task m gets copy m. With task ids every
    task gets the whole batch (its loss reads only its own examples, by the
    missing-label convention). A mask on the input (e.g. of padded tokens)
    is cut the same way.

    Args:
        num_tasks: int. Number of tasks M. At least 1.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: tensor `(M * batch, ...)` (no ids) or `(batch, ...)`.
        task_id: int tensor `(batch,)` or None, as given to `TaskRouting`.

    Returns:
        tuple of `num_tasks` tensors `(batch, ...)`.

    Example:

    >>> parts = TaskSplit(2)(np.arange(4.0).reshape(4, 1))
    >>> [keras.ops.convert_to_numpy(p).ravel().tolist() for p in parts]
    [[0.0, 1.0], [2.0, 3.0]]
    """

    def __init__(self, num_tasks, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_int(num_tasks, "num_tasks")
        self.supports_masking = True

    def call(self, inputs, task_id=None, mask=None):
        if task_id is not None:
            return (inputs,) * self.num_tasks
        parts = tuple(ops.split(inputs, self.num_tasks, axis=0))
        if mask is not None:  # `compute_mask` cannot tell whether ids were given
            masks = ops.split(mask, self.num_tasks, axis=0)
            for part, part_mask in zip(parts, masks):
                keras.src.backend.set_keras_mask(part, part_mask)
        return parts

    def compute_output_spec(self, inputs, task_id=None, mask=None):
        batch = inputs.shape[0]
        if task_id is None and batch is not None:
            batch = batch // self.num_tasks
        spec = keras.KerasTensor((batch,) + tuple(inputs.shape[1:]), inputs.dtype)
        return (spec,) * self.num_tasks

    def compute_mask(self, inputs, mask=None):
        return None  # `call` sets each part's mask

    def get_config(self):
        config = super().get_config()
        config["num_tasks"] = self.num_tasks
        return config
