"""Array-API helpers: write a component once, run it on numpy and on ``jax.numpy``.

A component that is *array-API clean* (``array_api = True``, see
:class:`gdsim.components.Component`) never imports an array library for its arithmetic: it
asks :func:`namespace` for the one its arguments live in and calls that (``xp.sqrt``,
``xp.where``, …). Under numpy that is ``array_api_compat.numpy``, whose functions are numpy's
own (the same bits, no wrapper on the hot path); under JAX it is ``jax.numpy``, and the same code
traces and compiles.

The helpers here cover what the array API standard leaves out or what must round as gdsim's
numpy code always did:

- :func:`namespace` — the namespace of some arrays or params dicts, numpy for Python numbers;
- :func:`errstate` — numpy's floating-point error context, a no-op on other libraries;
- :func:`select` — ``a if cond else b`` for a Python/numpy boolean, ``xp.where`` for arrays
  (numpy keeps its branch; a traced condition gets no Python ``if``);
- :func:`power` — ``base ** exponent`` correctly rounded by libm on numpy
  (:func:`gdsim.numerics.power`), ``xp.pow`` elsewhere;
- :func:`zeros_like`, :func:`global_norm` — the params-dict helpers of :mod:`gdsim.state`,
  for any namespace;
- :func:`check_traceable` — whether a component's methods trace under JAX, and if not, the
  file and line of the first numpy call or value branch (:mod:`gdsim.tracing`).

Nothing here imports JAX: it is an optional extra (``pip install "gdsim[jax]"``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import array_api_compat
import array_api_compat.numpy as _np_namespace
import numpy as np

from gdsim.numerics import host_power as _libm_power

__all__ = [
    "NUMPY",
    "check_traceable",
    "cos",
    "errstate",
    "exp",
    "floor",
    "global_norm",
    "is_concrete",
    "is_numpy",
    "minimum",
    "namespace",
    "power",
    "select",
    "zeros_like",
]

NUMPY: Any = _np_namespace
"""The numpy namespace :func:`namespace` returns (``array_api_compat.numpy``: numpy's own
ufuncs, with the standard's missing names added)."""

_SCALARS = (bool, int, float, complex, type(None), str)
_NUMPY_ARRAYS = (np.ndarray, np.generic)
_NUMPY_TYPES = frozenset({np.ndarray, np.float64, np.int64, np.bool_})
_HOST_TYPES = _NUMPY_TYPES | {float, int}
_CONCRETE = _SCALARS + _NUMPY_ARRAYS


def _leaves(tree: Any) -> Iterator[Any]:
    """The array leaves of nested dicts/lists/tuples, skipping Python numbers and None."""
    if isinstance(tree, _SCALARS):
        return
    if isinstance(tree, Mapping):
        for value in tree.values():
            yield from _leaves(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _leaves(value)
    else:
        yield tree


def is_concrete(value: Any) -> bool:
    """True for a value known on the host (a Python number or a numpy array or scalar): code
    may branch on it with ``if``. False for a traced (JAX) value."""
    return type(value) in _HOST_TYPES or isinstance(value, _CONCRETE)


def namespace(*trees: Any) -> Any:
    """The array namespace of ``trees``: arrays, numbers, or nested dicts/lists of them.

    numpy arrays and scalars, Python numbers and empty trees give numpy's namespace
    (never an error for scalars, unlike ``array_api_compat.array_namespace``); the first
    numpy leaf decides at once, so a numpy run pays a dict lookup and an ``isinstance`` (and
    a mix is not detected there). When the first array leaf is of another library (JAX arrays
    and tracers) every leaf goes to ``array_api_compat.array_namespace``, which raises
    ``TypeError`` on a mix of libraries.
    """
    if trees:  # the common cases first: a numpy array, a dict of numpy arrays
        first = trees[0]
        kind = type(first)
        if kind in _NUMPY_TYPES:
            return _np_namespace
        if kind is dict:
            for value in first.values():
                if type(value) in _NUMPY_TYPES:
                    return _np_namespace
                break
    for tree in trees:
        for leaf in _leaves(tree):
            if isinstance(leaf, _NUMPY_ARRAYS):
                return _np_namespace
            return array_api_compat.array_namespace(*(x for t in trees for x in _leaves(t)))
    return _np_namespace


def is_numpy(xp: Any) -> bool:
    """True for numpy's namespace (``numpy`` itself or ``array_api_compat.numpy``)."""
    return xp is _np_namespace or xp is np


def errstate(xp: Any, **kwargs: Any) -> contextlib.AbstractContextManager[Any]:
    """``numpy.errstate(**kwargs)`` under numpy; a context that does nothing otherwise."""
    if is_numpy(xp):
        return np.errstate(**kwargs)
    return contextlib.nullcontext()


def select(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` holds, else ``b``.

    A Python or numpy boolean scalar takes a Python branch (numpy's hot path and exact
    values are those of the ``if`` it replaces); an array or traced condition is
    ``xp.where(cond, a, b)``, elementwise and branch-free, so that it compiles.
    """
    if isinstance(cond, bool | np.bool_):
        return a if cond else b
    if isinstance(cond, np.ndarray) and cond.ndim == 0:
        return a if bool(cond) else b
    return namespace(cond, a, b).where(cond, a, b)


def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent``: libm's correctly rounded ``pow`` on numpy, ``xp.pow`` otherwise.

    On numpy this is :func:`gdsim.numerics.power` (a run alone and the same run inside an
    ensemble get the same bits). Under JAX, XLA's ``pow`` may differ from libm in the last
    bit (about 1% of arguments): within the 1e-12 agreement the compiled backend promises.
    """
    if is_concrete(base) and is_concrete(exponent):
        return _libm_power(base, exponent)
    xp = namespace(base, exponent)
    if is_numpy(xp):
        return _libm_power(base, exponent)
    return xp.pow(base, exponent)


def minimum(a: Any, b: Any) -> Any:
    """``min(a, b)`` for host numbers (a Python number, as before), ``xp.minimum`` for traced
    values (a step count inside a compiled loop)."""
    if is_concrete(a) and is_concrete(b):
        return min(a, b)
    return namespace(a, b).minimum(a, b)


def cos(x: Any) -> Any:
    """``math.cos`` for a Python number (libm's bits, as the schedules always had), the
    namespace's ``cos`` for arrays and traced values."""
    return math.cos(x) if isinstance(x, int | float) else namespace(x).cos(x)


def exp(x: Any) -> Any:
    """``math.exp`` for a Python number, the namespace's ``exp`` otherwise."""
    return math.exp(x) if isinstance(x, int | float) else namespace(x).exp(x)


def floor(x: Any) -> Any:
    """``math.floor`` (an int) for a Python number, the namespace's ``floor`` otherwise."""
    return math.floor(x) if isinstance(x, int | float) else namespace(x).floor(x)


def check_traceable(component: Any) -> None:
    """Raise :class:`gdsim.tracing.NotTraceable` (a ``TypeError``) naming ``component`` and the
    file:line of the first numpy call or value branch, unless its methods trace under JAX.
    Needs JAX; see :func:`gdsim.tracing.check_traceable`."""
    from gdsim.tracing import check_traceable as check

    check(component)


def zeros_like(params: Mapping[str, Any]) -> dict[str, Any]:
    """A params dict of float64 zeros with the same names and shapes, in the same namespace."""
    xp = namespace(params)
    if is_numpy(xp):
        return {name: np.zeros_like(value, dtype=np.float64) for name, value in params.items()}
    return {name: xp.zeros_like(value, dtype=xp.float64) for name, value in params.items()}


def global_norm(tree: Mapping[str, Any], ensemble: bool = False) -> Any:
    """The L2 norm over all arrays of ``tree`` (per ensemble member when ``ensemble``).

    numpy keeps :func:`gdsim.state.global_norm`'s exact operations (a Python float for one
    run); other namespaces return a 0-d array (or one value per member).
    """
    for value in tree.values():  # a numpy run's hot path: no namespace lookup
        if type(value) in _HOST_TYPES:
            return _numpy_global_norm(tree, ensemble)
        break
    xp = namespace(tree)
    if is_numpy(xp):
        return _numpy_global_norm(tree, ensemble)
    if ensemble:
        total = sum(
            xp.sum(xp.reshape(xp.square(v), (v.shape[0], -1)), axis=1) for v in tree.values()
        )
        return xp.sqrt(total)
    total = sum(xp.sum(xp.square(v)) for v in tree.values())
    return xp.sqrt(xp.asarray(total, dtype=xp.float64))


def _numpy_global_norm(tree: Mapping[str, Any], ensemble: bool) -> Any:
    if ensemble:
        total = sum(np.sum(np.square(v).reshape(v.shape[0], -1), axis=1) for v in tree.values())
        return np.sqrt(total)
    total = 0.0
    for v in tree.values():
        total += _squared_sum(v)
    return math.sqrt(total)  # correctly rounded, as numpy's sqrt: the same bits


def _squared_sum(value: Any) -> float:
    """Σ v², as ``numpy.sum(numpy.square(v))`` rounds it; a scalar skips numpy (same bits)."""
    if isinstance(value, float) or getattr(value, "ndim", 1) == 0:
        f = float(value)
        return f * f
    return float(np.sum(np.square(value)))
