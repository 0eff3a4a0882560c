"""Argument checks that raise errors naming the argument and what was expected."""

import math

import numpy as np


def check_int(value, name, minimum=1):
    """Returns `value` as an int, or raises naming `name`.

    Raises:
        TypeError: if `value` is not an integer (bools are refused).
        ValueError: if `value < minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")
    return int(value)


def check_float(value, name, minimum=0.0, below=None):
    """Returns `value` as a finite float >= `minimum` (and < `below` if given)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum:
        raise ValueError(
            f"`{name}` must be a finite number >= {minimum}. Received: {name}={value}"
        )
    if below is not None and value >= below:
        raise ValueError(f"`{name}` must be < {below}. Received: {name}={value}")
    return value


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`, else raises naming `name`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}"
        )
    return value


def check_learning_rate(value, name="learning_rate"):
    """Returns `value` as a float > 0 (a rate of 0 would never train)."""
    value = check_float(value, name)
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value}")
    return value


def check_bool(value, name):
    """Returns `value` if it is a bool, else raises naming `name`."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return value
