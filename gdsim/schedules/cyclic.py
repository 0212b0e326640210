"""Schedules that climb and fall again: the one-cycle policy and cyclical learning rates.

Both compute torch's closed forms at step t (0-based) operation by operation. They schedule only
the learning rate: torch's ``cycle_momentum`` (momentum moving against the rate) has no
counterpart here, so compare with ``cycle_momentum=False``.

Both are written against the array API (:mod:`gdsim.xp`): with a traced step (a compiled loop)
the phase and the rising/falling half are chosen with ``where``; numpy keeps its branches.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, Schedule, param
from gdsim.errors import ParamError
from gdsim.state import Params
from gdsim.validators import int_at_least, number_in, one_of, optional, positive
from gdsim.xp import cos, floor, is_concrete, minimum, power, select


def _anneal_cos(start: Any, end: Any, pct: float) -> Any:
    """From ``start`` (pct 0) to ``end`` (pct 1) along half a cosine."""
    return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)


def _anneal_linear(start: Any, end: Any, pct: float) -> Any:
    """From ``start`` (pct 0) to ``end`` (pct 1) along a straight line."""
    return (end - start) * pct + start


def _phases_fit(instance: Any, attribute: Any, value: Any) -> None:
    ends = [end for end, _, _ in instance.phases()]
    if not all(a < b for a, b in itertools.pairwise([-1.0, *ends])):
        raise ParamError(
            attribute.name,
            f"pct_start = {instance.pct_start!r} leaves a phase without steps in a cycle of "
            f"{instance.steps} steps (the phases would end at steps "
            f"{', '.join(f'{e:g}' for e in ends)}; they must increase from -1)",
        )


@attrs.frozen
class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin, 2019): up from α_max/d to α_max, then down to
    α_max/(d·d_f).

    Phase ends at steps e₁ = p·T − 1 and T − 1 (three phases: p·T − 1, 2p·T − 2, T − 1, the
    second coming back to α_max/d). Within a phase from step s to e, with rates a → b and
    x = (t − s)/(e − s)::

        anneal = "cos":     b + (a − b)/2 · (cos(π x) + 1)
        anneal = "linear":  (b − a)·x + a

    From step T − 1 on the rate stays at α_max/(d·d_f). torch: ``OneCycleLR(max_lr,
    total_steps=T, pct_start=p, anneal_strategy, div_factor=d, final_div_factor=d_f,
    three_phase, cycle_momentum=False)``. optax: ``cosine_onecycle_schedule(T, α_max, p, d,
    d_f)`` and ``linear_onecycle_schedule`` are the same idea with the phase ends at int(p·T)
    and T, so their rates differ slightly.
    """

    name: ClassVar[str] = "one_cycle"
    array_api: ClassVar[bool] = True

    max_lr: float = param(0.1, validator=positive(), doc="peak learning rate α_max")
    steps: int = param(100, validator=int_at_least(2), doc="length T of the cycle in steps")
    pct_start: float = param(
        0.3,
        validator=[number_in(0.0, 1.0, low_open=True, high_open=True), _phases_fit],
        static=True,  # it places the phase boundaries
        doc="fraction p of the cycle spent climbing",
    )
    anneal: str = param("cos", validator=one_of("cos", "linear"), doc="'cos' or 'linear'")
    div_factor: float = param(25.0, validator=positive(), doc="d: the start rate is α_max/d")
    final_div_factor: float = param(
        1e4, validator=positive(), doc="d_f: the final rate is α_max/(d·d_f)"
    )
    three_phase: bool = param(False, doc="come back to α_max/d before the final descent")

    def phases(self) -> list[tuple[float, str, str]]:
        """``(end step, start rate, end rate)`` of each phase, as torch lays them out."""
        up = float(self.pct_start * self.steps) - 1
        if self.three_phase:
            down = float(2 * self.pct_start * self.steps) - 2
            return [
                (up, "initial", "max"),
                (down, "max", "initial"),
                (self.steps - 1, "initial", "min"),
            ]
        return [(up, "initial", "max"), (self.steps - 1, "max", "min")]

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        initial = self.max_lr / self.div_factor
        rates = {"initial": initial, "max": self.max_lr, "min": initial / self.final_div_factor}
        anneal = _anneal_cos if self.anneal == "cos" else _anneal_linear
        t = minimum(step, self.steps - 1)
        start = 0.0
        phases = self.phases()
        if not is_concrete(t):  # traced: every phase's value, the right one chosen by where
            values = []
            for end, a, b in phases:
                values.append((end, anneal(rates[a], rates[b], (t - start) / (end - start))))
                start = end
            lr = values[-1][1]
            for end, value in reversed(values[:-1]):
                lr = select(t <= end, value, lr)
            return lr, state
        for i, (end, a, b) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                return anneal(rates[a], rates[b], (t - start) / (end - start)), state
            start = end
        raise AssertionError("unreachable: the last phase takes every step")


@attrs.frozen
class Cyclic(Schedule):
    """Cyclical learning rates (Smith, 2017): triangles between α_base and α_max.

    A cycle is u steps up and v steps down (L = u + v). With c = ⌊1 + t/L⌋ (the cycle,
    from 1) and x = 1 + t/L − c::

        h = x/(u/L)             if x ≤ u/L   (rising)
        h = (x − 1)/(u/L − 1)   otherwise    (falling)
        α_t = α_base + (α_max − α_base)·h·s

    with s = 1 (``triangular``), 1/2^(c−1) (``triangular2``: each cycle half as high) or γ^t
    (``exp_range``). torch: ``CyclicLR(base_lr, max_lr, step_size_up=u, step_size_down=v,
    mode, gamma=γ, cycle_momentum=False)``. optax has no counterpart.
    """

    name: ClassVar[str] = "cyclic"
    array_api: ClassVar[bool] = True

    base_lr: float = param(0.001, validator=positive(), doc="lowest learning rate α_base")
    max_lr: float = param(0.01, validator=positive(), doc="highest learning rate α_max")
    step_size_up: int = param(20, validator=int_at_least(1), doc="steps u of the rising half")
    step_size_down: int | None = param(
        None, validator=optional(int_at_least(1)), doc="steps v of the falling half (default u)"
    )
    mode: str = param(
        "triangular",
        validator=one_of("triangular", "triangular2", "exp_range"),
        doc="'triangular', 'triangular2' or 'exp_range'",
    )
    gamma: float = param(1.0, validator=positive(), doc="γ of 'exp_range': s = γ^t")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        total = up + down
        ratio = up / total
        cycle = floor(1 + step / total)
        x = 1.0 + step / total - cycle
        height = select(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        base_height = (self.max_lr - self.base_lr) * height
        if self.mode == "triangular":
            scale: Any = 1.0
        elif self.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = power(self.gamma, step)
        return self.base_lr + base_height * scale, state


CYCLIC_SCHEDULES: tuple[type, ...] = (OneCycle, Cyclic)
