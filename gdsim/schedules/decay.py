"""Decay schedules that are functions of the step alone: step, multi-step, inverse-time,
polynomial, cosine annealing and cosine annealing with warm restarts (SGDR).

Each computes the published closed form at step t (0-based, the step about to be taken), so the
rate of a step never depends on rounding accumulated over earlier steps, and keeps no state.
Float parameters enter only through elementwise arithmetic and :func:`gdsim.xp.power`, so
a sweep over them steps as one vectorised ensemble with the bits of runs stepped alone.

All are written against the array API (:mod:`gdsim.xp`): the step may be a traced integer
inside a compiled loop (``min``, ``bisect`` and the restarts' loop become ``xp`` operations
there; numpy keeps them).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, Schedule, param
from gdsim.state import Params
from gdsim.validators import increasing_ints, int_at_least, non_negative, positive
from gdsim.xp import cos, is_concrete, minimum, namespace, power


@attrs.frozen
class StepDecay(Schedule):
    """Step decay: α·γ^⌊t/s⌋ (the rate is multiplied by γ every s steps, first at step s).

    torch: ``StepLR(step_size=s, gamma=γ)`` (``ExponentialLR(gamma=γ)`` is s = 1);
    optax: ``exponential_decay(lr, transition_steps=s, decay_rate=γ, staircase=True)``.
    """

    name: ClassVar[str] = "step"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    step_size: int = param(30, validator=int_at_least(1), doc="steps s between two decays")
    gamma: float = param(0.1, validator=positive(), doc="decay factor γ")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        return self.lr * power(self.gamma, step // self.step_size), state


@attrs.frozen
class MultiStep(Schedule):
    """Multi-step decay: α·γ^k, k the number of milestones m with m ≤ t.

    torch: ``MultiStepLR(milestones, gamma=γ)``; optax: ``piecewise_constant_schedule(lr,
    {m: γ for m in milestones})``.
    """

    name: ClassVar[str] = "multistep"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    milestones: tuple[int, ...] = param(
        (30, 60, 90),
        converter=increasing_ints("milestones", low=1),
        doc="steps at which the rate is multiplied by γ, increasing",
    )
    gamma: float = param(0.1, validator=positive(), doc="decay factor γ")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        if is_concrete(step):
            passed = bisect.bisect_right(self.milestones, step)
        else:  # a traced step: count the milestones m ≤ t
            xp = namespace(step)
            passed = xp.sum(xp.asarray(self.milestones) <= step)
        return self.lr * power(self.gamma, passed), state


@attrs.frozen
class InverseTime(Schedule):
    """Inverse-time decay: α / (1 + d·t).

    torch: ``Adagrad(lr=α, lr_decay=d)`` decays its rate exactly so (``lr / (1 + (step − 1) ·
    lr_decay)`` with its step counted from 1); Keras: ``InverseTimeDecay(α, decay_steps=1,
    decay_rate=d)``. optax has no such schedule.
    """

    name: ClassVar[str] = "inverse_time"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    decay: float = param(0.01, validator=non_negative(), doc="decay d per step")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        return self.lr / (1 + step * self.decay), state


@attrs.frozen
class Polynomial(Schedule):
    """Polynomial decay: (α − α_end)·(1 − min(t, T)/T)^p + α_end, then α_end from step T on.

    torch: ``PolynomialLR(total_iters=T, power=p)`` (α_end = 0 only);
    optax: ``polynomial_schedule(α, α_end, p, transition_steps=T)`` (p = 1:
    ``linear_schedule``).
    """

    name: ClassVar[str] = "polynomial"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    steps: int = param(100, validator=int_at_least(1), doc="steps T to reach the end rate")
    power: float = param(1.0, validator=positive(), doc="exponent p (1: linear)")
    end_lr: float = param(0.0, validator=non_negative(), doc="final learning rate α_end")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        frac = 1.0 - minimum(step, self.steps) / self.steps
        if not is_concrete(frac):  # XLA divides by T as × (1/T): T/T may round to 1 − 2⁻⁵³
            frac = namespace(frac).maximum(frac, 0.0)
        return (self.lr - self.end_lr) * power(frac, self.power) + self.end_lr, state


def _cosine(lr: Any, min_lr: Any, t: int, period: int) -> Any:
    """η_min + (α − η_min)·(1 + cos(π t/T))/2, in torch's order of operations."""
    return min_lr + (lr - min_lr) * (1 + cos(math.pi * t / period)) / 2


@attrs.frozen
class Cosine(Schedule):
    """Cosine annealing: η_min + (α − η_min)·(1 + cos(π·min(t, T)/T))/2; η_min from step T on.

    torch: ``CosineAnnealingLR(T_max=T, eta_min=η_min)`` for t ≤ T (its rate climbs again
    after T; this one stays at η_min); optax: ``cosine_decay_schedule(α, decay_steps=T,
    alpha=η_min/α)``. Loshchilov & Hutter (2017).
    """

    name: ClassVar[str] = "cosine"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    steps: int = param(100, validator=int_at_least(1), doc="steps T to reach the minimum")
    min_lr: float = param(0.0, validator=non_negative(), doc="minimum learning rate η_min")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        return _cosine(self.lr, self.min_lr, minimum(step, self.steps), self.steps), state


def restart_position(step: int, period: int, mult: int) -> tuple[int, int]:
    """``(t_cur, t_i)``: steps since the last restart and the length of the current cycle,
    when cycles last T₀, T₀·m, T₀·m², … steps."""
    if not is_concrete(step):  # traced: the same subtraction, over enough cycles, by where
        xp = namespace(step)
        if mult == 1:
            return step % period, period
        length = xp.asarray(period, dtype=xp.int64)
        for _ in range(64):  # m ≥ 2: 63 doublings pass any int64 step
            over = step >= length
            step = xp.where(over, step - length, step)
            length = xp.where(over, length * mult, length)
        return step, length
    length = period
    while step >= length:
        step -= length
        length *= mult
    return step, length


@attrs.frozen
class CosineRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR): η_min + (α − η_min)·(1 + cos(π t_cur/T_i))/2.

    t_cur counts the steps since the last restart; the cycles last T_i = T₀, T₀·m, T₀·m², …
    steps, and each starts again at α. torch: ``CosineAnnealingWarmRestarts(T_0=T₀,
    T_mult=m, eta_min=η_min)``; optax: ``sgdr_schedule`` with one cosine cycle per restart.
    Loshchilov & Hutter (2017).
    """

    name: ClassVar[str] = "cosine_restarts"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="learning rate α at each restart")
    period: int = param(50, validator=int_at_least(1), doc="steps T₀ of the first cycle")
    mult: int = param(1, validator=int_at_least(1), doc="factor m by which cycles lengthen")
    min_lr: float = param(0.0, validator=non_negative(), doc="minimum learning rate η_min")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        t_cur, t_i = restart_position(step, self.period, self.mult)
        return _cosine(self.lr, self.min_lr, t_cur, t_i), state


DECAY_SCHEDULES: tuple[type, ...] = (
    StepDecay,
    MultiStep,
    InverseTime,
    Polynomial,
    Cosine,
    CosineRestarts,
)
