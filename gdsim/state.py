"""Parameter state: named float64 arrays plus the step and epoch counters and the RNG.

Parameters are a plain ``dict[str, numpy.ndarray]`` ("params"); the same shape is used for
gradients and for every per-parameter buffer a rule keeps. An optional leading *ensemble* axis
(``State.ensemble``) lets many runs step as one array: elementwise components never need to know
about it, components that reduce over a parameter must reduce over the trailing axes only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from gdsim import xp as _xp

Params = dict[str, np.ndarray]
"""Named parameter (or gradient, or buffer) arrays, float64."""

DTYPE = np.float64


def as_params(values: Mapping[str, Any]) -> Params:
    """Copy a mapping of numbers or nested lists into fresh float64 arrays."""
    return {name: np.array(value, dtype=DTYPE) for name, value in values.items()}


def tree_map(fn: Callable[..., np.ndarray], first: Params, *rest: Params) -> Params:
    """Apply ``fn`` name by name over one or more params dicts with the same names."""
    return {name: fn(value, *(other[name] for other in rest)) for name, value in first.items()}


def zeros_like(params: Params) -> Params:
    """A params dict of float64 zeros with the same names and shapes (and array library)."""
    return _xp.zeros_like(params)


global_norm = _xp.global_norm
"""The L2 norm over all arrays (per ensemble member when ``ensemble`` is true): one numpy run
gets a Python float, correctly rounded (numpy's bits); see :func:`gdsim.xp.global_norm`."""


def all_finite(tree: Params) -> bool:
    """True when every value of every array is finite."""
    return all(bool(np.all(np.isfinite(v))) for v in tree.values())


@attrs.define
class State:
    """Everything that changes during a run, besides the components' own state."""

    params: Params
    rng: np.random.Generator
    step: int = 0
    epoch: int = 0
    ensemble: int | None = None

    @classmethod
    def create(cls, params: Mapping[str, Any], seed: int, ensemble: int | None = None) -> State:
        """A fresh state at step 0 with its own seeded generator (PCG64)."""
        return cls(params=as_params(params), rng=np.random.default_rng(seed), ensemble=ensemble)
