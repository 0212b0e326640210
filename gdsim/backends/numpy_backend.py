"""The numpy backend: the loop of :mod:`gdsim.loop`, stepping numpy arrays in Python."""

from __future__ import annotations

from typing import Any

import attrs

from gdsim import loop
from gdsim.backends import LiveMembers
from gdsim.estimators import FullBatch


@attrs.frozen
class NumpyBackend:
    """The default backend: every component's own numpy code, one step at a time."""

    name: str = "numpy"

    def ensemble_unit(self, members: LiveMembers) -> loop.Unit:
        """:func:`gdsim.loop.make_unit` with the member checks of the live members (the
        steps' outputs are kept whether read or not: they cost nothing here)."""
        m = members
        checks = loop.member_checks(m.live, m.params, m.max_loss, m.grad_tol, m.step_tol)
        return loop.make_unit(
            m.objective, FullBatch(), m.rule, m.schedule, m.transforms, None, checks
        )

    def run_unit(self, ctx: Any, stop_at_epoch: bool) -> loop.Unit | None:
        """None: a run that steps alone uses :func:`gdsim.loop.make_unit` as it is."""
        return None


NUMPY = NumpyBackend()
