"""The JAX backend: an ensemble's unit of work compiled (:mod:`gdsim.backends.jax_unit`).

Importing this module imports JAX (``pip install "gdsim[jax]"``). Everything it runs is
float64: JAX's 64-bit mode is switched on around each compiled call only (``jax.enable_x64``
as a context), so other JAX code in the same process keeps its own setting, and every
parameter leaving a unit is checked to still be float64. The device is JAX's default one
(``jax.devices()[0]``: a GPU when JAX sees one, else the CPU); ``JAX_PLATFORMS=cpu`` in the
environment keeps JAX on the CPU.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import attrs
import jax

from gdsim import loop
from gdsim.backends import LiveMembers, jax_run, jax_unit

_FELL_BACK: set[str] = set()
"""Why runs alone stepped on numpy in this process (each reason is warned about once)."""


@attrs.frozen
class JaxBackend:
    """Ensembles stepped by compiled blocks of steps on one JAX device."""

    device: Any
    name: str = "jax"

    def ensemble_unit(self, members: LiveMembers) -> loop.Unit:
        """The compiled unit of the ``live`` members (see :func:`jax_unit.make_unit`), or
        numpy's when a component is written for numpy only (said on stderr)."""
        reason = jax_run.numpy_only(members.components)
        if reason is not None:
            from gdsim.backends.numpy_backend import NUMPY

            fell_back(f"an ensemble of {members.live} runs steps on numpy: {reason}", reason)
            return NUMPY.ensemble_unit(members)
        return jax_unit.make_unit(members, self.device)

    def run_unit(self, ctx: Any, stop_at_epoch: bool) -> loop.Unit | None:
        """The compiled unit of a run that steps alone (:func:`jax_run.make_unit`), or None
        when the run must step on numpy (:func:`jax_run.why_not`, said on stderr)."""
        from gdsim.backends import jax_run

        reason = jax_run.why_not(ctx.objective, ctx.rule, ctx.schedule, ctx.transforms)
        if reason is not None:
            fell_back(f"run '{ctx.spec.name}' steps on numpy: {reason}", reason)
            return None
        tolerance = ctx.spec.tolerance
        return jax_run.make_unit(
            ctx.objective,
            ctx.estimator,
            ctx.rule,
            ctx.schedule,
            ctx.transforms,
            ctx.state.rng,
            ctx.spec.max_loss,
            tolerance.grad_norm,
            tolerance.step_size,
            stop_at_epoch,
            self.device,
        )


def fell_back(what: str, reason: str) -> None:
    """Say that runs step on numpy instead: a warning (``gdsim run`` shows it) the first time
    ``reason`` occurs in a process, then only with ``-v``, so a sweep says it once."""
    first = reason not in _FELL_BACK
    _FELL_BACK.add(reason)
    logging.getLogger("gdsim").log(
        logging.WARNING if first else logging.INFO,
        "backend 'jax': %s%s",
        what,
        " (-v lists every run that does)" if first else "",
    )


@functools.cache
def jax_backend() -> JaxBackend:
    """The JAX backend on JAX's default device."""
    return JaxBackend(device=jax.devices()[0])
