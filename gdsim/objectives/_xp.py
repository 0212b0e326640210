"""The array namespace of the network objective's arguments (until ``gdsim.xp`` provides it).

numpy arrays get ``numpy`` itself, so the numpy path calls exactly the functions it always did
(same bits, no wrapper cost); any other array (jax, also as a tracer under ``jax.jit``) gets
its array API namespace from ``array_api_compat``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from array_api_compat import array_namespace


def namespace(x: Any) -> Any:
    """The array library of ``x``: ``numpy`` for numpy arrays, the array API namespace otherwise."""
    if type(x) is np.ndarray:
        return np
    return array_namespace(x)


def ignore_overflow(xp: Any) -> contextlib.AbstractContextManager[Any]:
    """numpy's ``errstate(over="ignore")``; other libraries do not warn, so nothing to enter."""
    return np.errstate(over="ignore") if xp is np else contextlib.nullcontext()
