"""Task weighting and gradient combination for multi-task training.

Loss-based strategies combine the task losses (`Equal`, `Uncertainty`,
`DWA`, `RLW`, `GLS`, `FAMO`); gradient-based ones combine per-task
gradients of the shared parameters (`MGDA`, `PCGrad`, `CAGrad`, `IMTL`,
`NashMTL`, `AlignedMTL`, `UPGrad`, and `GradNorm`, which needs per-task
gradient norms). Get one by name with `get`; train with it through
`WeightedTrainingMixin` (`compile(weighting=...)`). A gradient-based
strategy built with `rep_grad=True` combines the gradients of the shared
representation instead of the shared parameters (LibMTL's `rep_grad`).

Example:

>>> strategy = get("pcgrad")
>>> keras.ops.convert_to_numpy(strategy.aggregate(np.eye(2))).shape
(2,)
"""

import keras

from keras_mtl.weighting.aligned_mtl import AlignedMTL
from keras_mtl.weighting.base import GradientWeighting, LossWeighting, Weighting
from keras_mtl.weighting.cagrad import CAGrad
from keras_mtl.weighting.dwa import DWA
from keras_mtl.weighting.equal import Equal
from keras_mtl.weighting.famo import FAMO
from keras_mtl.weighting.gls import GLS
from keras_mtl.weighting.gradnorm import GradNorm
from keras_mtl.weighting.imtl import IMTL
from keras_mtl.weighting.mgda import MGDA
from keras_mtl.weighting.nash_mtl import NashMTL
from keras_mtl.weighting.pcgrad import PCGrad
from keras_mtl.weighting.rlw import RLW
from keras_mtl.weighting.training import WeightedTrainingMixin
from keras_mtl.weighting.uncertainty import Uncertainty
from keras_mtl.weighting.upgrad import UPGrad

STRATEGIES = {
    "equal": Equal,
    "uncertainty": Uncertainty,
    "dwa": DWA,
    "rlw": RLW,
    "gls": GLS,
    "famo": FAMO,
    "gradnorm": GradNorm,
    "mgda": MGDA,
    "pcgrad": PCGrad,
    "cagrad": CAGrad,
    "imtl": IMTL,
    "nash_mtl": NashMTL,
    "aligned_mtl": AlignedMTL,
    "upgrad": UPGrad,
}


def get(identifier, argument="weighting"):
    """A strategy object from a name, a strategy, a config dict or `None`.

    Args:
        identifier: a name among `STRATEGIES` (a new object with the paper's
            defaults), a `Weighting` (returned as is), a dict from
            `serialize`, or `None` (`"equal"`).
        argument: str. The argument name used in error messages.

    Returns:
        A `Weighting`.
    """
    if identifier is None:
        return Equal()
    if isinstance(identifier, Weighting):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in STRATEGIES:
            raise ValueError(
                f"Unknown `{argument}` {identifier!r}. Expected one of "
                f"{sorted(STRATEGIES)} or a `keras_mtl.weighting.Weighting`."
            )
        return STRATEGIES[key]()
    raise TypeError(
        f"`{argument}` must be a strategy name or a `keras_mtl.weighting."
        f"Weighting`. Received: {argument}={identifier!r}"
    )


def serialize(strategy):
    """The Keras-serialized config of a strategy (a JSON-ready dict)."""
    return keras.saving.serialize_keras_object(strategy)


def deserialize(config):
    """The strategy of a `serialize` config (its state is not restored)."""
    strategy = keras.saving.deserialize_keras_object(config)
    if not isinstance(strategy, Weighting):
        raise ValueError(
            f"`config` does not describe a task-weighting strategy: {config!r}"
        )
    return strategy


__all__ = [
    "STRATEGIES",
    "AlignedMTL",
    "CAGrad",
    "DWA",
    "Equal",
    "FAMO",
    "GLS",
    "GradNorm",
    "GradientWeighting",
    "IMTL",
    "LossWeighting",
    "MGDA",
    "NashMTL",
    "PCGrad",
    "RLW",
    "Uncertainty",
    "UPGrad",
    "WeightedTrainingMixin",
    "Weighting",
    "deserialize",
    "get",
    "serialize",
]
