"""The loss-target observer: after how many steps did the run first reach a given loss?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from gdsim.components import MemberObserver, MemberStep, Observer, param
from gdsim.hookspecs import hookimpl
from gdsim.validators import number_in

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.results import RunResult


@attrs.define
class LossTarget(Observer):
    """Records the first step count n at which the loss is <= ``loss`` (steps to tolerance).

    n counts steps taken: the loss at the initial parameters is reached after 0 steps. The
    engine reports a step's loss at the point the step started from, so the observer sees the
    loss after n steps in step n + 1 and checks the final loss when the run ends. The run is not
    stopped, so the final loss of all runs stays comparable. The result table shows n in its
    "to target" column ("-" when never reached). For a scalar loss only.
    """

    name: ClassVar[str] = "loss_target"

    loss: float = param(validator=number_in(), doc="target loss: count steps until loss <= this")
    _hit: int | None = attrs.field(init=False, default=None)

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[LossTarget]:
        """What ``gdsim check-plugin`` checks: a target the quartic run reaches midway."""
        return [cls(loss=4.0)]

    def step_completed(self, run: RunContext) -> None:
        if self._hit is None and run.loss <= self.loss:
            self._hit = run.step - 1

    def run_completed(self, run: RunContext, result: RunResult) -> None:
        # the trajectory's own end (the engine's), not a result that early stopping may have
        # restored to its best step before this observer is called
        final = run.final_loss
        if self._hit is None and final is not None and final <= self.loss:
            self._hit = run.final_step

    def outputs(self) -> dict[str, Any]:
        return {"loss_target": self.loss, "steps_to_target": self._hit}

    def for_members(self, size: int) -> MemberObserver | None:
        return MemberLossTarget(self.loss, size)

    def state_dict(self) -> dict[str, Any]:
        return {"hit": -1 if self._hit is None else self._hit}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        hit = int(np.asarray(state["hit"]))
        self._hit = None if hit < 0 else hit


class MemberLossTarget(MemberObserver):
    """The loss target of a whole ensemble: the first hit of every member, as one array."""

    def __init__(self, loss: float, size: int) -> None:
        self.loss = loss
        self.hit = np.full(size, -1, dtype=np.int64)

    def step_completed(self, view: MemberStep) -> None:
        idx = view.members[view.rows]
        new = (self.hit[idx] < 0) & (np.asarray(view.loss)[view.rows] <= self.loss)
        self.hit[idx[new]] = view.step - 1

    def state_dict(self) -> dict[str, Any]:
        return {"hit": self.hit.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hit = np.array(state["hit"], dtype=np.int64)

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        hit = int(self.hit[member])
        if hit < 0 and outcome.has_loss(member) and outcome.final_loss[member] <= self.loss:
            hit = outcome.final_step(member)
        return {"loss_target": self.loss, "steps_to_target": None if hit < 0 else hit}


@hookimpl
def gdsim_observers() -> list[type]:
    return [LossTarget]
