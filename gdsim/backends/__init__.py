"""Array backends: where an ensemble's unit of work runs.

A backend turns an ensemble's components into a unit of work with the contract of
:func:`gdsim.loop.make_unit` — ``unit(carry, stop) -> (carry, event)`` — so that
:func:`gdsim.ensemble.simulate` keeps every fate decision, observer call and checkpoint on the
host whatever the backend. ``"numpy"`` is the default and always present (the loop of
:mod:`gdsim.loop`); ``"jax"`` compiles the unit with JAX when JAX is installed
(:mod:`gdsim.backends.jax_backend`, ``pip install "gdsim[jax]"``).

The backend in force is a context value: :func:`using_backend` sets it around a scenario's
runs (the scenario's ``backend`` key, or ``gdsim run --backend``), and ``simulate`` uses it
unless given one explicitly. Runs stepped one by one by the engine ask the backend in force
for their unit too (``run_unit``: :mod:`gdsim.backends.jax_run` on JAX; numpy's loop when it
returns None), see ``docs/backends.md``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import attrs

from gdsim.errors import GdsimError, did_you_mean, with_hint

NAMES = ("numpy", "jax")
"""Every backend gdsim knows; ``available()`` says which are installed."""
DEFAULT = "numpy"

PROMISED_RTOL = {"numpy": 0.0, "jax": 1e-12}
"""How close each backend promises to come to the numpy backend's bits, relative, on the final
parameters of a run that is not chaotic at the rounding level (``docs/backends.md``). numpy
promises the bits themselves (the lecture's printed values); a compiled backend rounds its
fused multiply-adds differently."""


def promised_rtol(name: str | None = None) -> float:
    """The relative agreement with numpy that backend ``name`` (None: the one in force)
    promises: the smallest ``rtol`` an expectation can ask of it."""
    return PROMISED_RTOL[current() if name is None else name]


class BackendError(GdsimError):
    """A backend that does not exist, is not installed, or cannot run a component."""


class NotTraceable(BackendError):
    """A component's code cannot run on a compiled backend (it calls numpy on the backend's
    arrays, or branches on their values)."""


@attrs.frozen
class LiveMembers:
    """The live members of an ensemble, as a backend steps them: the components (holding the
    live members' hyperparameters), their tolerances (scalars or one value per live member),
    how many of the ensemble's ``size`` members live, and their parameters."""

    objective: Any
    rule: Any
    schedule: Any
    transforms: Sequence[Any]
    max_loss: Any
    grad_tol: Any
    step_tol: Any
    size: int
    live: int
    params: Any
    outputs_read: bool = True
    """Does some observer read the steps' losses and gradients? If not, a unit may leave them
    out of the carry when no event happened (None, as after a compaction)."""

    @property
    def components(self) -> tuple[Any, ...]:
        """The objective, rule, schedule and transforms."""
        return (self.objective, self.rule, self.schedule, *self.transforms)


class Backend(Protocol):
    """What :func:`gdsim.ensemble.simulate` needs of a backend."""

    name: str

    def ensemble_unit(self, members: LiveMembers) -> Any:
        """The unit of work of an ensemble's live members."""

    def run_unit(self, ctx: Any, stop_at_epoch: bool) -> Any:
        """The unit of work of a run that steps alone (:class:`gdsim.engine.RunContext`), or
        None for :func:`gdsim.loop.make_unit` with :func:`gdsim.loop.scalar_checks`."""


_current: contextvars.ContextVar[str] = contextvars.ContextVar("gdsim_backend", default=DEFAULT)


def current() -> str:
    """The name of the backend in force (``"numpy"`` unless :func:`using_backend` set one)."""
    return _current.get()


@contextlib.contextmanager
def using_backend(name: str | None) -> Iterator[None]:
    """Run the enclosed ensembles on backend ``name`` (None: leave the current one)."""
    if name is None:
        yield
        return
    get_backend(name)  # fail here, before any run, when it cannot be used
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def available() -> list[str]:
    """The backends usable in this environment."""
    names = []
    for name in NAMES:
        try:
            get_backend(name)
        except BackendError:
            continue
        names.append(name)
    return names


def check_name(name: Any) -> str | None:
    """Why ``name`` is not a backend's name (None when it is one): for scenario messages."""
    if isinstance(name, str) and name in NAMES:
        return None
    known = ", ".join(NAMES)
    hint = did_you_mean(name, NAMES) if isinstance(name, str) else None
    return with_hint(f"unknown backend {name!r} (known: {known})", hint)


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (None: the current one); a clear error when it is unknown
    or its library is not installed."""
    name = current() if name is None else name
    if name == "numpy":
        from gdsim.backends.numpy_backend import NUMPY

        return NUMPY
    if name == "jax":
        try:
            from gdsim.backends.jax_backend import jax_backend
        except ImportError as exc:
            raise BackendError(
                f"backend 'jax' needs JAX, which is not installed ({exc}): "
                'pip install "gdsim[jax]", or use backend = "numpy"'
            ) from None
        return jax_backend()
    raise BackendError(check_name(name) or f"unknown backend {name!r}")
