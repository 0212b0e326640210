"""Warm-ups: the first steps of any schedule, damped by a factor that rises to 1.

A warm-up wraps an ``inner`` schedule (``constant`` by default) and multiplies the rate the inner
schedule gives by a factor ω(t) ∈ [0, 1]. The inner schedule runs on the run's own step count
from step 0 (so a cosine over 1000 steps still ends at step 1000) and is called at every step,
so stateful inner schedules keep their meaning. This is the convention of pytorch_warmup
(``with warmup.dampening(): scheduler.step()``) and of torch's ``ChainedScheduler([LinearLR,
…])``. To start a schedule only after the warm-up, with its own step count, use ``sequence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, Objective, Schedule, param
from gdsim.errors import ParamError
from gdsim.schedules.lecture import Constant
from gdsim.state import Params
from gdsim.validators import int_at_least, number_in
from gdsim.xp import exp, is_concrete, select


class Wrapper(Schedule):
    """A schedule built around one ``inner`` schedule: state, metrics and checks go through."""

    inner: Schedule

    @property
    def array_api(self) -> bool:  # type: ignore[override]
        return self.inner.array_api

    @property
    def elementwise(self) -> bool:  # type: ignore[override]
        return self.inner.elementwise

    def check(self, objective: Objective) -> None:
        try:
            self.inner.check(objective)
        except ParamError as exc:
            raise ParamError(f"inner.{exc.field}", exc.message) from None

    def init(self) -> ComponentState:
        return {"inner": self.inner.init()}

    def monitors(self, objective: Objective) -> tuple[str, ...]:
        return self.inner.monitors(objective)

    def observe(
        self, state: ComponentState, epoch: int, metrics: Mapping[str, float]
    ) -> ComponentState:
        return {**state, "inner": self.inner.observe(state["inner"], epoch, metrics)}

    def multiplier(self, step: int) -> Any:
        """The factor applied to the inner schedule's rate at ``step``; None for none."""
        raise NotImplementedError

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        lr, inner = self.inner.learning_rate(state["inner"], step, grads, loss)
        factor = self.multiplier(step)
        return (lr if factor is None else lr * factor), {"inner": inner}


@attrs.frozen
class LinearWarmup(Wrapper):
    """Linear warm-up: the inner rate times ω(t) = s + (1 − s)·t/W for t < W, then unchanged.

    The factor rises in a straight line from s at step 0 to 1 at step W. W = 0 is the inner
    schedule itself. torch: ``LinearLR(start_factor=s, end_factor=1, total_iters=W)``, chained
    with the inner scheduler by ``ChainedScheduler``; optax: ``linear_schedule(s·α, α, W)``
    for a constant inner rate α (``warmup_constant_schedule``).
    """

    name: ClassVar[str] = "linear_warmup"

    steps: int = param(5, validator=int_at_least(0), doc="warm-up length W in steps")
    start: float = param(0.0, validator=number_in(0.0, 1.0), doc="factor s at step 0, in [0, 1]")
    inner: Schedule = param(  # noqa: RUF009
        Constant(), doc="the schedule being warmed up (default: constant)"
    )

    def multiplier(self, step: int) -> Any:
        done = step >= self.steps
        if not is_concrete(done):  # traced: ×1.0 after the warm-up leaves the rate's bits
            ramp = self.start + (1.0 - self.start) * step / max(self.steps, 1)
            return select(done, 1.0, ramp)
        if done:
            return None
        return self.start + (1.0 - self.start) * step / self.steps


@attrs.frozen
class ExponentialWarmup(Wrapper):
    """Exponential warm-up: the inner rate times ω(t) = 1 − exp(−(t + 1)/τ).

    Ma & Yarats (2021), "On the adequacy of untuned warmup for adaptive optimization", who
    suggest τ = 2/(1 − β₂) for Adam (τ = 2000 for β₂ = 0.999). The factor never switches off; it
    is 1 − e⁻¹ ≈ 0.63 after τ steps and exactly 1.0 in float64 after about 37τ. τ = 0 is the
    inner schedule itself. pytorch_warmup: ``ExponentialWarmup(warmup_period=τ)``; torch and
    optax have no counterpart.
    """

    name: ClassVar[str] = "exponential_warmup"

    tau: int = param(100, validator=int_at_least(0), doc="time constant τ in steps")
    inner: Schedule = param(  # noqa: RUF009
        Constant(), doc="the schedule being warmed up (default: constant)"
    )

    def multiplier(self, step: int) -> Any:
        if self.tau == 0:
            return None
        return 1.0 - exp(-(step + 1) / self.tau)


WARMUP_SCHEDULES: tuple[type, ...] = (LinearWarmup, ExponentialWarmup)
