"""Arithmetic that must round the same for one run and for a vectorised ensemble of runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_pow = np.frompyfunc(math.pow, 2, 1)


def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` rounded by the C library's ``pow``, for numbers and arrays alike.

    A single run computes ``beta ** t`` on Python floats (libm's ``pow``); numpy's array power may
    use SIMD kernels that round differently in the last bit. Rules that raise a hyperparameter
    (which an ensemble sweeps as an array) to a power call this, so a run gives the same bits
    alone and inside an ensemble. Arrays cost one ``pow`` call per element. Arrays of another
    library (JAX, traced) get that library's ``pow``: see :func:`gdsim.xp.power`.
    """
    if not (_on_host(base) and _on_host(exponent)):
        from gdsim.xp import namespace

        return namespace(base, exponent).pow(base, exponent)
    return host_power(base, exponent)


def host_power(base: Any, exponent: Any) -> Any:
    """:func:`power` for Python numbers and numpy arrays only (no check of the library)."""
    if np.ndim(base) == 0 and np.ndim(exponent) == 0:
        return float(base) ** exponent
    return _pow(base, exponent).astype(np.float64)


_HOST = frozenset({float, int, np.float64, np.ndarray})


def _on_host(value: Any) -> bool:
    return type(value) in _HOST or isinstance(value, int | float | np.ndarray | np.generic)
