"""Reduce-on-plateau: divide the learning rate when a monitored metric stops improving.

The first schedule that feeds on a metric of the model rather than on the step: it names the
metric in ``monitors`` and the engine hands it the value after every epoch through ``observe``
(see :class:`gdsim.components.Schedule`), the same metric early stopping reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, Objective, Schedule, param
from gdsim.observers.recorder import check_metric, monitor_name
from gdsim.state import Params
from gdsim.validators import int_at_least, non_negative, number_in, one_of, positive


@attrs.frozen
class ReduceOnPlateau(Schedule):
    """Reduce-on-plateau: α ← max(f·α, α_min) after more than ``patience`` epochs without
    improvement of the monitored metric.

    After every ``every``-th epoch the metric m is compared with the best value so far b
    (``mode = "min"``; "max" mirrors it)::

        improves  ⇔  m < b·(1 − θ)   (threshold_mode = "rel")   or   m < b − θ   ("abs")

    An improvement sets b = m and resets the count of bad epochs; otherwise the count grows.
    During a cooldown the count stays at 0. When the count exceeds ``patience`` the rate becomes
    α' = max(f·α, α_min) — kept only if α − α' > ε — the count restarts and a cooldown of
    ``cooldown`` epochs begins. ``monitor = "auto"`` reads ``validation.loss`` on data-backed
    objectives and ``train.loss`` otherwise. With ``full_batch`` an epoch is one step.

    torch: ``ReduceLROnPlateau(mode, factor=f, patience, threshold=θ, threshold_mode,
    cooldown, min_lr=α_min, eps=ε)`` with ``scheduler.step(metric)`` after each epoch — the same
    decisions at the same epochs. optax: ``contrib.reduce_on_plateau`` is the same idea on a
    scale factor, with an averaging window and a relative plus absolute tolerance.
    """

    name: ClassVar[str] = "reduce_on_plateau"
    elementwise: ClassVar[bool] = False  # decides per run on one scalar metric

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α")
    monitor: str = param("auto", converter=monitor_name, doc="metric as 'split.metric', or 'auto'")
    mode: str = param("min", validator=one_of("min", "max"), doc="'min' or 'max': which is better")
    factor: float = param(
        0.1, validator=number_in(0.0, 1.0, low_open=True, high_open=True), doc="factor f < 1"
    )
    patience: int = param(10, validator=int_at_least(0), doc="bad epochs tolerated")
    threshold: float = param(1e-4, validator=non_negative(), doc="θ: smallest improvement")
    threshold_mode: str = param(
        "rel", validator=one_of("rel", "abs"), doc="'rel' (θ relative to b) or 'abs'"
    )
    cooldown: int = param(0, validator=int_at_least(0), doc="epochs ignored after a reduction")
    min_lr: float = param(0.0, validator=non_negative(), doc="floor α_min")
    eps: float = param(1e-8, validator=non_negative(), doc="ε: smaller reductions are skipped")
    every: int = param(1, validator=int_at_least(1), doc="evaluate after every N-th epoch")

    def metric(self, objective: Objective) -> str:
        """The metric actually monitored on ``objective`` (resolves ``auto``)."""
        if self.monitor != "auto":
            return self.monitor
        return "validation.loss" if objective.data_backed else "train.loss"

    def check(self, objective: Objective) -> None:
        check_metric(objective, self.metric(objective), "monitor")

    def monitors(self, objective: Objective) -> tuple[str, ...]:
        return (self.metric(objective),)

    def init(self) -> ComponentState:
        worst = math.inf if self.mode == "min" else -math.inf
        return {"lr": self.lr, "best": worst, "bad": 0, "cooldown": 0, "reductions": 0}

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        return state["lr"], state

    def improves(self, value: float, best: float) -> bool:
        """True when ``value`` beats ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def observe(
        self, state: ComponentState, epoch: int, metrics: Mapping[str, float]
    ) -> ComponentState:
        if epoch % self.every:
            return state
        name = self.monitor
        if name == "auto":  # the engine offers exactly what monitors() named
            name = "validation.loss" if "validation.loss" in metrics else "train.loss"
        value = float(metrics[name])
        lr, best, bad = state["lr"], state["best"], state["bad"]
        cooldown, reductions = state["cooldown"], state["reductions"]
        if self.improves(value, best):
            best, bad = value, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown -= 1
            bad = 0
        if bad > self.patience:
            reduced = max(lr * self.factor, self.min_lr)
            if lr - reduced > self.eps:
                lr, reductions = reduced, reductions + 1
            cooldown, bad = self.cooldown, 0
        return {"lr": lr, "best": best, "bad": bad, "cooldown": cooldown, "reductions": reductions}


PLATEAU_SCHEDULES: tuple[type, ...] = (ReduceOnPlateau,)
