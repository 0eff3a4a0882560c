"""Callbacks for multi-task training."""

import keras


class CompactProgbarLogger(keras.callbacks.ProgbarLogger):
    """A progress bar that shows the aggregate entries only.

    With many tasks every progress line would carry a loss and metrics per
    task (about 280 entries for School's 139 tasks). This logger shows the
    entries that are not per-task (`loss`, `regularization_loss`,
    `mean_task_score`, and their `val_` forms); the History, and every other
    callback, still gets every per-task value. `MultiTaskModel.fit` uses it
    by itself for models with more than
    `MultiTaskModel.COMPACT_PROGRESS_TASKS` tasks; pass your own
    `keras.callbacks.ProgbarLogger()` to see everything.

    Args:
        tasks: list of `keras_mtl.Task` whose per-task entries are hidden.
    """

    def __init__(self, tasks):
        super().__init__()
        self.prefixes = tuple(f"{t.name}_" for t in tasks)
        self.prefixes += tuple(f"val_{p}" for p in self.prefixes)

    def _short(self, logs):
        return {
            k: v for k, v in (logs or {}).items() if not k.startswith(self.prefixes)
        }

    def _update_progbar(self, batch, logs=None):
        super()._update_progbar(batch, self._short(logs))

    def _finalize_progbar(self, logs):
        super()._finalize_progbar(self._short(logs))
