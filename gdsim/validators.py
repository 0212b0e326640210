"""attrs validators for component parameters that say what was expected in plain words.

Every validator raises :class:`gdsim.errors.ParamError` naming the field, so the scenario loader
can report ``runs[2].rule.mu: expected a number in [0, 1), got 1.5``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from gdsim.errors import ParamError, did_you_mean

Validator = Callable[[Any, Any, Any], None]


def _fmt(value: Any) -> str:
    return repr(value)


def number_in(
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Validator:
    """A finite number within the interval; ``*_open`` excludes that end."""
    left = "(" if low_open or low == -math.inf else "["
    right = ")" if high_open or high == math.inf else "]"
    lo = "-inf" if low == -math.inf else f"{low:g}"
    hi = "inf" if high == math.inf else f"{high:g}"
    interval = f"{left}{lo}, {hi}{right}"

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            ok = math.isfinite(value)
            ok = ok and (value > low if low_open else value >= low)
            ok = ok and (value < high if high_open else value <= high)
        if not ok:
            raise ParamError(attribute.name, f"expected a number in {interval}, got {_fmt(value)}")

    return check


def positive() -> Validator:
    """A finite number > 0."""
    return number_in(0.0, low_open=True)


def non_negative() -> Validator:
    """A finite number >= 0."""
    return number_in(0.0)


def unit_interval_open_right() -> Validator:
    """A number in [0, 1): momentum and averaging coefficients."""
    return number_in(0.0, 1.0, high_open=True)


def int_at_least(low: int) -> Validator:
    """An integer >= low."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ParamError(attribute.name, f"expected an integer >= {low}, got {_fmt(value)}")

    return check


def one_of(*choices: str) -> Validator:
    """One of a fixed set of strings."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            hint = did_you_mean(value, choices) if isinstance(value, str) else None
            raise ParamError(
                attribute.name,
                f"expected one of {listed}, got {_fmt(value)}"
                + (f" (did you mean '{hint}'?)" if hint else ""),
            )

    return check


def optional(validator: Validator) -> Validator:
    """Allow None, else apply ``validator``."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


def increasing_ints(field: str, low: int = 0) -> Callable[[Any], tuple[int, ...]]:
    """A converter: a list of strictly increasing integers >= ``low`` becomes a tuple.

    Used for step boundaries and milestones; ``field`` names the parameter in the error.
    """

    def convert(value: Any) -> tuple[int, ...]:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ParamError(field, f"expected a list of integers, got {_fmt(value)}")
        for item in value:
            if not isinstance(item, int) or isinstance(item, bool) or item < low:
                raise ParamError(field, f"expected integers >= {low}, got {_fmt(item)}")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ParamError(field, f"expected strictly increasing integers, got {list(value)}")
        return tuple(int(v) for v in value)

    return convert
