"""KerasTuner HyperModels that search each builder's sharing hyperparameters."""

import importlib

import keras_tuner as kt

from keras_mtl.task import validate_tasks
from keras_mtl.tuning.scoring import MeanTaskScore

_SCALARS = (bool, int, float, str)


def _choice(*values):
    return ("choice", values)


def _int(low, high):
    return ("int", low, high)


def _log_float(low, high):
    return ("log_float", low, high)


# The usual width/depth/dropout/learning-rate space shared by every builder.
COMMON_SPACE = {
    "units": _choice(32, 64, 128),
    "num_layers": _int(1, 3),
    "dropout": _choice(0.0, 0.1, 0.3),
    "learning_rate": _log_float(1e-4, 1e-2),
    # The task-weighting strategy: only "equal" unless `ranges` names more
    # (e.g. `ranges={"weighting": ["equal", "uncertainty", "pcgrad"]}`).
    "weighting": _choice("equal"),
}


class MultiTaskHyperModel(kt.HyperModel):
    """Base of the `keras_mtl.tuning` HyperModels.

    `build(hp)` draws every hyperparameter of `space` and calls the builder
    with them and the fixed `builder_kwargs`; `fit` adds the
    `MeanTaskScore` callback, so `keras_mtl.tuning.objective(tasks)` is
    logged. Subclasses set `builder` (`"module:function"`, imported inside
    `build`) and `space`.

    Args:
        tasks: list of `keras_mtl.Task`.
        ranges: dict hyperparameter name → list of values to search instead
            of the default range. Defaults to the default ranges. The
            task-weighting strategy is searched when `ranges["weighting"]`
            lists names of `keras_mtl.weighting.STRATEGIES` (by default
            only `"equal"`).
        **builder_kwargs: Arguments passed to the builder as they are (e.g.
            `vocab_size`, `input_shape`, `seed`). Naming a searched
            hyperparameter here fixes it (recorded as `hp.Fixed`).
    """

    builder = None
    space = {}
    # builder argument → searched hyperparameters that it replaces.
    derived = {}

    def __init__(self, tasks, *, ranges=None, **builder_kwargs):
        super().__init__(name=type(self).__name__)
        self.tasks = validate_tasks(tasks)
        self.builder_kwargs = builder_kwargs
        self.ranges = self._check_ranges(ranges or {})

    def searched(self):
        """Names of the hyperparameters this HyperModel searches."""
        fixed = set(self.builder_kwargs)
        for argument, names in self.derived.items():
            if argument in self.builder_kwargs:
                fixed.update(names)
        return [name for name in self.full_space() if name not in fixed]

    def full_space(self):
        """Default search space: hyperparameter name → range spec."""
        return dict(self.space)

    def _check_ranges(self, ranges):
        if not isinstance(ranges, dict):
            raise TypeError(
                "`ranges` must be a dict hyperparameter name → list of values. "
                f"Received: ranges={ranges!r}"
            )
        space = self.full_space()
        for name, values in ranges.items():
            if name not in space:
                raise ValueError(
                    f"`ranges` names {name!r}, which {type(self).__name__} does "
                    f"not search. Expected names among {sorted(space)}."
                )
            if name not in self.searched():
                raise ValueError(
                    f"`ranges` gives values for {name!r}, which is fixed by the "
                    "builder arguments; give one or the other."
                )
            if isinstance(values, (str, bytes)) or not isinstance(
                values, (list, tuple)
            ):
                raise TypeError(
                    f"`ranges[{name!r}]` must be a list of values. Received: {values!r}"
                )
            if not values or not all(isinstance(v, _SCALARS) for v in values):
                raise ValueError(
                    f"`ranges[{name!r}]` must be a non-empty list of numbers, "
                    f"strings or bools. Received: {values!r}"
                )
        return {name: list(values) for name, values in ranges.items()}

    def _draw(self, hp, name, spec):
        if name in self.ranges:
            return hp.Choice(name, self.ranges[name])
        kind = spec[0]
        if kind == "choice":
            return hp.Choice(name, list(spec[1]))
        if kind == "int":
            return hp.Int(name, spec[1], spec[2])
        return hp.Float(name, spec[1], spec[2], sampling="log")

    def build(self, hp):
        space = self.full_space()
        values = {name: self._draw(hp, name, space[name]) for name in self.searched()}
        passed = {}
        for name, value in self.builder_kwargs.items():
            if name not in space:
                passed[name] = value
                continue
            values[name] = value
            if isinstance(value, _SCALARS):
                hp.Fixed(name, value)
        kwargs = {**self.builder_arguments(values), **passed}
        try:
            return self._builder()(self.tasks, **kwargs)
        except (TypeError, ValueError) as error:
            # A bad fixed argument fails every trial alike: stop the search
            # at once with the builder's message instead of retrying.
            fatal = kt.errors.FatalTypeError
            if isinstance(error, ValueError):
                fatal = kt.errors.FatalValueError
            raise fatal(f"{type(self).__name__}: {error}") from error

    def _builder(self):
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)

    def builder_arguments(self, values):
        """Maps drawn hyperparameters to builder arguments (identity here)."""
        return values

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        callbacks = [MeanTaskScore(self.tasks)] + list(callbacks or [])
        return model.fit(*args, callbacks=callbacks, **kwargs)


class HardSharingHyperModel(MultiTaskHyperModel):
    """Searches `hard_sharing`: width, depth, dropout and learning rate.

    Everything below the heads is shared, so there is no sharing choice
    beyond the shared encoder's size. See `MultiTaskHyperModel` for the
    arguments.

    Example:

    >>> hypermodel = HardSharingHyperModel([Task("a", 3), Task("b")], input_shape=(8,))
    >>> hypermodel.searched()
    ['units', 'num_layers', 'dropout', 'learning_rate', 'weighting']
    """

    builder = "keras_mtl.models.baselines:hard_sharing"
    space = dict(COMMON_SPACE)


class LowSupervisionHyperModel(MultiTaskHyperModel):
    """Searches `low_supervision`: which layer each task's head reads.

    Adds `supervise_at_<task>` (1..3, clipped to the drawn `num_layers`)
    per task to the common space; `supervise_at=...` fixes them all.
    """

    builder = "keras_mtl.models.baselines:low_supervision"
    space = dict(COMMON_SPACE)

    def full_space(self):
        space = dict(self.space)
        for task in self.tasks:
            space[f"supervise_at_{task.name}"] = _int(1, 3)
        return space

    @property
    def derived(self):
        return {"supervise_at": [f"supervise_at_{t.name}" for t in self.tasks]}

    def builder_arguments(self, values):
        values = dict(values)
        depth = values["num_layers"]
        supervise_at = {
            task.name: min(values.pop(f"supervise_at_{task.name}"), depth)
            for task in self.tasks
            if f"supervise_at_{task.name}" in values
        }
        if "supervise_at" not in self.builder_kwargs:
            values["supervise_at"] = supervise_at
        return values


class CrossStitchHyperModel(MultiTaskHyperModel):
    """Searches `cross_stitch`: the α initialisation plus the common space."""

    builder = "keras_mtl.models.sluice:cross_stitch"
    space = {
        **COMMON_SPACE,
        "alpha_init": _choice("imbalanced", "balanced", "identity"),
    }


class SluiceHyperModel(MultiTaskHyperModel):
    """Searches `sluice`: subspaces, α/β initialisation, orthogonality.

    `num_subspaces` is drawn from {1, 2, 4}, which divides every default
    `units` choice; with other `units`, restrict it through `ranges`.

    Example:

    >>> hypermodel = SluiceHyperModel([Task("a", 3), Task("b", 2)], vocab_size=500,
    ...                               units=64, ranges={"num_subspaces": [1, 2]})
    >>> model = hypermodel.build(kt.HyperParameters())
    >>> model.get_config()["num_subspaces"]
    1
    """

    builder = "keras_mtl.models.sluice:sluice"

    def __init__(self, tasks, *, ranges=None, **builder_kwargs):
        super().__init__(tasks, ranges=ranges, **builder_kwargs)
        self._check_subspaces()

    def _values(self, name):
        if name in self.builder_kwargs:
            return [self.builder_kwargs[name]]
        if name in self.ranges:
            return self.ranges[name]
        return list(self.space[name][1])

    def _check_subspaces(self):
        """Refuses `units`/`num_subspaces` values that some trial can't build."""
        encoder = self.builder_kwargs.get("encoder")
        tokens = self.builder_kwargs.get("vocab_size") is not None
        directions = 2 if encoder == "bilstm" or (encoder is None and tokens) else 1
        for units in self._values("units"):
            for subspaces in self._values("num_subspaces"):
                if not isinstance(units, int) or not isinstance(subspaces, int):
                    continue
                if subspaces > 0 and units % (subspaces * directions):
                    raise ValueError(
                        f"The search could draw units={units} with "
                        f"num_subspaces={subspaces}, but `units` must be "
                        f"divisible by {directions} x num_subspaces here. "
                        "Fix or restrict `units` / `num_subspaces`."
                    )

    space = {
        **COMMON_SPACE,
        "num_subspaces": _choice(1, 2, 4),
        "alpha_init": _choice("imbalanced", "balanced"),
        "beta_init": _choice("last", "balanced"),
        "orthogonality_weight": _choice(0.0, 0.01, 0.1, 1.0),
        "orthogonality": _choice("weights", "activations"),
    }


class MetaLSTMHyperModel(MultiTaskHyperModel):
    """Searches `meta_lstm`: the meta-LSTM width plus the common space."""

    builder = "keras_mtl.models.meta_lstm:meta_lstm"
    space = {
        **COMMON_SPACE,
        "num_layers": _int(1, 2),
        "meta_units": _choice(8, 16, 32, 64),
    }


class MRNHyperModel(MultiTaskHyperModel):
    """Searches `mrn`: prior weight, refresh period, which covariances."""

    builder = "keras_mtl.models.mrn:mrn"
    space = {
        **COMMON_SPACE,
        "num_layers": _int(0, 2),
        "prior_weight": _choice(0.0, 1e-4, 1e-3, 1e-2),
        "update_every": _choice(10, 50, 100),
        "covariances": _choice("all", "task"),
    }


class TreeHyperModel(MultiTaskHyperModel):
    """Searches `tree`: number of levels, the fusion weights and the ridge.

    The fusion weights are `fusion_root * fusion_decay^(h - H)` for levels
    `h = 1..H` (leaf first; the builder's default is root 1, decay 10);
    `fusion_weights=[...]` fixes both. `num_levels` is capped at the number
    of tasks. A `component_l2` > 0 builds `objective="ridge"` ("TAT + ridge",
    not in the paper), 0 the paper's objective (the builder reads it off).
    Tasks may be of any kinds and widths (the tree is then learned over a
    hidden layer, see `tree`).
    """

    builder = "keras_mtl.models.tree:tree"
    space = {
        **COMMON_SPACE,
        "num_layers": _int(0, 2),
        "num_levels": _int(2, 4),
        "fusion_root": _log_float(1e-3, 1.0),
        "fusion_decay": _choice(3.0, 10.0, 30.0),
        "component_l2": _choice(0.0, 1e-3, 1e-2),
    }
    derived = {"fusion_weights": ["fusion_root", "fusion_decay"]}

    def builder_arguments(self, values):
        values = dict(values)
        root = values.pop("fusion_root", None)
        decay = values.pop("fusion_decay", None)
        if "num_levels" in values and "num_levels" not in self.builder_kwargs:
            values["num_levels"] = min(values["num_levels"], len(self.tasks))
        if "fusion_weights" not in self.builder_kwargs:
            levels = values["num_levels"]
            values["fusion_weights"] = [
                root * decay ** (h - levels) for h in range(1, levels + 1)
            ]
        return values
