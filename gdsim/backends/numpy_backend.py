"""The numpy backend: the loop of :mod:`gdsim.loop`, stepping numpy arrays in Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from gdsim import loop
from gdsim.estimators import FullBatch


@attrs.frozen
class NumpyBackend:
    """The default backend: every component's own numpy code, one step at a time."""

    name: str = "numpy"

    def ensemble_unit(
        self,
        objective: Any,
        rule: Any,
        schedule: Any,
        transforms: Sequence[Any],
        max_loss: Any,
        grad_tol: Any,
        step_tol: Any,
        size: int,
        live: int,
        params: Any,
        outputs_read: bool = True,
    ) -> loop.Unit:
        """:func:`gdsim.loop.make_unit` with the member checks of the ``live`` members (the
        steps' outputs are kept whether read or not: they cost nothing here)."""
        checks = loop.member_checks(live, params, max_loss, grad_tol, step_tol)
        return loop.make_unit(objective, FullBatch(), rule, schedule, transforms, None, checks)

    def run_unit(self, ctx: Any, stop_at_epoch: bool) -> loop.Unit | None:
        """None: a run that steps alone uses :func:`gdsim.loop.make_unit` as it is."""
        return None


NUMPY = NumpyBackend()
