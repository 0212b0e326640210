"""Learning-rate schedules: the lecture's three, the decays users know from torch and optax,
warm-ups, and schedules composed of others.

A schedule is a stateful component (:class:`gdsim.components.Schedule`): ``init() -> state`` and
``learning_rate(state, step, grads, loss) -> (lr, state)``, so that rules feeding back on the
gradient fit the same contract as fixed timetables; schedules that read a metric of the model
(reduce-on-plateau) declare it with ``monitors`` and receive it through ``observe``.
``docs/schedules.md`` gives every formula with its torch and optax counterparts.

Modules: :mod:`~gdsim.schedules.lecture` (constant, exponential, grad_control),
:mod:`~gdsim.schedules.decay` (step, multistep, inverse_time, polynomial, cosine,
cosine_restarts), :mod:`~gdsim.schedules.cyclic` (one_cycle, cyclic),
:mod:`~gdsim.schedules.plateau` (reduce_on_plateau), :mod:`~gdsim.schedules.warmup`
(linear_warmup, exponential_warmup), :mod:`~gdsim.schedules.compose` (sequence, scale).
"""

from __future__ import annotations

from gdsim.hookspecs import hookimpl
from gdsim.schedules.compose import COMPOSITE_SCHEDULES, Scale, Sequence
from gdsim.schedules.cyclic import CYCLIC_SCHEDULES, Cyclic, OneCycle
from gdsim.schedules.decay import (
    DECAY_SCHEDULES,
    Cosine,
    CosineRestarts,
    InverseTime,
    MultiStep,
    Polynomial,
    StepDecay,
)
from gdsim.schedules.lecture import Constant, Exponential, GradControl
from gdsim.schedules.plateau import PLATEAU_SCHEDULES, ReduceOnPlateau
from gdsim.schedules.warmup import WARMUP_SCHEDULES, ExponentialWarmup, LinearWarmup

LECTURE_SCHEDULES: tuple[type, ...] = (Constant, Exponential, GradControl)

__all__ = [
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "ExponentialWarmup",
    "GradControl",
    "InverseTime",
    "LinearWarmup",
    "MultiStep",
    "OneCycle",
    "Polynomial",
    "ReduceOnPlateau",
    "Scale",
    "Sequence",
    "StepDecay",
]


@hookimpl
def gdsim_schedules() -> list[type]:
    return [
        *LECTURE_SCHEDULES,
        *DECAY_SCHEDULES,
        *CYCLIC_SCHEDULES,
        *PLATEAU_SCHEDULES,
        *WARMUP_SCHEDULES,
        *COMPOSITE_SCHEDULES,
    ]
