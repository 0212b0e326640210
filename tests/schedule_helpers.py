"""Helpers for the schedule tests: step a schedule by hand and collect its rates."""

from __future__ import annotations

from typing import Any

import numpy as np

from gdsim.components import Schedule

GRADS = {"x": np.array(0.5)}


def rates(schedule: Schedule, steps: int, grads: Any = None, loss: float = 0.0) -> list[Any]:
    """The rates of steps 0 … steps − 1, the schedule driven as the engine drives it."""
    state = schedule.init()
    out = []
    for t in range(steps):
        lr, state = schedule.learning_rate(state, t, GRADS if grads is None else grads, loss)
        out.append(lr)
    return out


def bits(values: list[Any]) -> list[bytes]:
    """The float64 bits of each value (for bit-for-bit comparisons that also see -0.0)."""
    return [np.float64(v).tobytes() for v in values]
