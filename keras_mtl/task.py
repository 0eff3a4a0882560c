"""`Task`: what one output of a multi-task model predicts, and how it is scored."""

import re

import keras
import numpy as np

from keras_mtl.losses import CRFLoss, MaskedLoss
from keras_mtl.metrics import MaskedMetric

_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class Task:
    """One prediction target of a multi-task model.

    A task is a classification task (`num_classes >= 2`, softmax output,
    sparse integer labels) or a regression task (`num_classes=None`, one
    linear unit). `sequence=True` makes one prediction per time step
    (tagging). Labels follow the missing-label convention: a classification
    label `-1` or a regression label `NaN` marks an example (or a padded time
    step) that has no label for this task; it contributes nothing to the
    task's loss and metrics.

    Args:
        name: str. Unique name; the key of the task in the model's output and
            label dicts. Letters, digits and underscores, starting with a
            letter.
        num_classes: int or None. Number of classes (>= 2), or `None` for
            regression. Defaults to `None`.
        sequence: bool. Whether the task labels every time step of a token
            sequence. Defaults to `False`.
        loss: A Keras loss (name, function or `keras.losses.Loss`) computed on
            the labelled entries only. Defaults to sparse categorical
            cross-entropy for classification and mean squared error for
            regression.
        metrics: list of Keras metrics, each computed on the labelled entries
            only. Defaults to `["accuracy"]` for classification and
            `["mae"]` for regression.
        loss_weight: float. Weight of this task's loss in the total loss.
            Defaults to `1.0`.
        crf: bool. Tag with a linear-chain CRF (`keras_mtl.layers.LinearChainCRF`)
            instead of independent per-step softmaxes: the task is trained by
            the negative log-likelihood of its labelled sequences and
            predicts the Viterbi path (int32 tags, `-1` on padding). Needs a
            classification task with `sequence=True`; its loss is always the
            CRF negative log-likelihood. Defaults to `False`.
        crf_constraints: None or a dict of `LinearChainCRF` constraint
            arguments (`allowed_transitions`, `allowed_start`,
            `allowed_end`) for the task's CRF, e.g.
            `keras_mtl.layers.bio_constraints(tag_names)`: the CRF then never
            predicts a ruled-out transition. Only with `crf=True`. Defaults
            to `None`.

    Example:

    >>> pos = Task("pos", num_classes=45, sequence=True)
    >>> chunk = Task("chunk", num_classes=23, sequence=True, crf=True)
    >>> price = Task("price")
    """

    def __init__(
        self,
        name,
        num_classes=None,
        sequence=False,
        loss=None,
        metrics=None,
        loss_weight=1.0,
        crf=False,
        crf_constraints=None,
    ):
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise ValueError(
                "Task `name` must be a string of letters, digits and "
                f"underscores starting with a letter. Received: name={name!r}"
            )
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int):
                raise TypeError(
                    "Task `num_classes` must be an integer >= 2 or None. "
                    f"Received: num_classes={num_classes!r} for task {name!r}"
                )
            if num_classes < 2:
                raise ValueError(
                    "Task `num_classes` must be >= 2 (use None for regression). "
                    f"Received: num_classes={num_classes} for task {name!r}"
                )
        if not isinstance(sequence, bool):
            raise TypeError(
                f"Task `sequence` must be a bool. Received: sequence={sequence!r}"
            )
        if isinstance(loss_weight, bool) or not isinstance(loss_weight, (int, float)):
            raise TypeError(
                "Task `loss_weight` must be a number. "
                f"Received: loss_weight={loss_weight!r}"
            )
        if not loss_weight >= 0:
            raise ValueError(
                "Task `loss_weight` must be >= 0. "
                f"Received: loss_weight={loss_weight!r}"
            )
        _check_crf(name, crf, num_classes, sequence, loss)
        crf_constraints = _check_crf_constraints(
            name, crf, crf_constraints, num_classes
        )
        self.name = name
        self.num_classes = num_classes
        self.sequence = sequence
        self.loss = loss
        self.metrics = metrics
        self.loss_weight = float(loss_weight)
        self.crf = crf
        self.crf_constraints = crf_constraints

    @property
    def is_classification(self):
        return self.num_classes is not None

    @property
    def output_units(self):
        """Width of the task's output layer."""
        return self.num_classes if self.is_classification else 1

    def output_activation(self):
        if self.crf:
            return None  # the CRF reads unnormalised per-step tag scores
        return "softmax" if self.is_classification else None

    def masked_loss(self):
        """The task's loss, restricted to labelled entries.

        For a CRF task: the task's `CRFLoss` (by default one per labelled
        token), which its model binds to the task's `LinearChainCRF` layer.
        """
        if self.crf:
            if isinstance(self.loss, CRFLoss):
                return self.loss
            return CRFLoss(name=f"{self.name}_loss")
        default = "sparse_categorical_crossentropy" if self.is_classification else "mse"
        return MaskedLoss(
            self.loss or default,
            classification=self.is_classification,
            name=f"{self.name}_loss",
        )

    def masked_metrics(self):
        """The task's metrics, each restricted to labelled entries."""
        default = ["accuracy"] if self.is_classification else ["mae"]
        return [
            MaskedMetric(metric, classification=self.is_classification)
            for metric in (self.metrics or default)
        ]

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "sequence": self.sequence,
            "loss": _serialize_or_none(self.loss),
            "metrics": None
            if self.metrics is None
            else [keras.saving.serialize_keras_object(m) for m in self.metrics],
            "loss_weight": self.loss_weight,
            "crf": self.crf,
            "crf_constraints": self.crf_constraints,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("loss") is not None:
            config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        if config.get("metrics") is not None:
            config["metrics"] = [
                keras.saving.deserialize_keras_object(m) for m in config["metrics"]
            ]
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Task) and self.get_config() == other.get_config()

    def __repr__(self):
        kind = (
            f"num_classes={self.num_classes}"
            if self.is_classification
            else "regression"
        )
        crf = ", crf=True" if self.crf else ""
        return f"Task({self.name!r}, {kind}, sequence={self.sequence}{crf})"


def _check_crf(name, crf, num_classes, sequence, loss):
    """Raises unless `crf` is a bool and a CRF head fits the task."""
    if not isinstance(crf, bool):
        raise TypeError(
            f"Task `crf` must be a bool. Received: crf={crf!r} for task {name!r}"
        )
    if not crf:
        return
    if num_classes is None or not sequence:
        raise ValueError(
            f"Task {name!r} has crf=True, which needs a tagging task: "
            "num_classes >= 2 and sequence=True. Received: "
            f"num_classes={num_classes}, sequence={sequence}."
        )
    if loss is not None and not isinstance(loss, CRFLoss):
        raise ValueError(
            f"Task {name!r} has crf=True: its loss is the CRF negative "
            f"log-likelihood, so `loss` must be None or a `CRFLoss`. "
            f"Received: loss={loss!r}"
        )


def _check_crf_constraints(name, crf, constraints, num_classes):
    """The constraints as a dict of plain lists (or None); raises if misplaced."""
    if constraints is None:
        return None
    if not crf:
        raise ValueError(
            f"Task {name!r} has `crf_constraints` but crf=False: constraints "
            "apply to a CRF head only."
        )
    keys = ("allowed_transitions", "allowed_start", "allowed_end")
    if not isinstance(constraints, dict) or not set(constraints) <= set(keys):
        raise ValueError(
            f"Task {name!r}: `crf_constraints` must be a dict with keys among "
            f"{list(keys)} (e.g. keras_mtl.layers.bio_constraints(tag_names)). "
            f"Received: {constraints!r}"
        )
    checked = {}
    for key, value in constraints.items():
        shape = (num_classes,) * (2 if key == "allowed_transitions" else 1)
        if value is not None and np.shape(value) != shape:
            raise ValueError(
                f"Task {name!r}: `crf_constraints[{key!r}]` must have shape "
                f"{shape} (num_classes={num_classes}). Received shape "
                f"{np.shape(value)}."
            )
        checked[key] = None if value is None else np.asarray(value, bool).tolist()
    return checked


def _serialize_or_none(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def validate_tasks(tasks):
    """Checks a list of tasks and returns it as a list.

    Raises:
        TypeError: if `tasks` is not a sequence of `Task`.
        ValueError: if it is empty or names repeat.
    """
    if isinstance(tasks, Task):
        tasks = [tasks]
    if isinstance(tasks, (str, bytes)) or not hasattr(tasks, "__iter__"):
        raise TypeError(
            f"`tasks` must be a list of keras_mtl.Task. Received: tasks={tasks!r}"
        )
    tasks = list(tasks)
    if not tasks:
        raise ValueError("`tasks` must name at least one task. Received: tasks=[]")
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(
                "`tasks` must contain only keras_mtl.Task objects. "
                f"Received an element {task!r}"
            )
    names = [task.name for task in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"Task names in `tasks` must be unique. Repeated: {duplicates}"
        )
    return tasks
