"""`MultiTaskModel`: a functional model that knows its tasks."""

import keras

from keras_mtl.models.data_checks import check_fit_data
from keras_mtl.task import Task, validate_tasks


def token_embedding(model):
    """The model's token `Embedding` layer, or `None` if it reads features."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            return layer
    return None


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultiTaskModel(keras.Model):
    """A functional Keras model with one output per `Task`.

    It behaves as any functional model; in addition it keeps its `tasks`
    (serialized with the model) and checks the data given to `fit` and
    `evaluate` before any training step: label dicts must have exactly the
    task names as keys, labels must follow the missing-label convention, and
    inputs must be finite (token ids within the vocabulary).

    Args:
        inputs: The model's input tensor(s).
        outputs: dict of output tensors keyed by task name.
        name: str. Model name.
        tasks: list of `Task` (or their configs), in output order.

    Example:

    >>> inputs = keras.Input((3,))
    >>> outputs = {"y": keras.layers.Dense(1, name="y")(inputs)}
    >>> model = MultiTaskModel(inputs, outputs, tasks=[Task("y")])
    """

    def __init__(self, inputs, outputs, name=None, **kwargs):
        tasks = kwargs.pop("tasks", None)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        tasks = [t if isinstance(t, Task) else Task.from_config(t) for t in tasks]
        self.tasks = validate_tasks(tasks)

    def _vocab_size(self):
        embedding = token_embedding(self)
        return None if embedding is None else embedding.input_dim

    def _check(self, x, y, validation_data=None):
        vocab = self._vocab_size()
        check_fit_data(self.tasks, x, y, vocab_size=vocab)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
            check_fit_data(
                self.tasks,
                validation_data[0],
                validation_data[1],
                prefix="validation_data ",
                vocab_size=vocab,
            )

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check(x, y, kwargs.get("validation_data"))
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check(x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["tasks"] = [task.get_config() for task in self.tasks]
        return config
