"""gdsim's schedules against optax's (skipped when optax is not installed).

Modelled on optax's own equivalence tests: build the optax schedule with the argument mapping
the gdsim schedule's docstring gives, evaluate it at counts 0 … n − 1 in float64 (jax's x64
mode), compare. Step, multi-step, polynomial, cosine and SGDR agree bit for bit (with
optax 0.2.8); a linear warm-up is written s + (1 − s)·t/W times α here (torch's form) and
α_0 + (α − α_0)·t/W in optax, so those agree within 1e-15 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from schedule_helpers import rates

from gdsim.schedules import (
    Constant,
    Cosine,
    CosineRestarts,
    LinearWarmup,
    MultiStep,
    Polynomial,
    Sequence,
    StepDecay,
)

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

RTOL = 1e-15


def optax_rates(schedule, steps: int) -> np.ndarray:
    return np.array([float(schedule(np.int64(t))) for t in range(steps)], dtype=np.float64)


def assert_close(ours, theirs, exact=True):
    """Bit for bit, or (``exact=False``) within 1e-15 relative."""
    ours = np.array(ours, dtype=np.float64)
    if exact:
        assert ours.tobytes() == theirs.tobytes(), np.flatnonzero(ours != theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


def test_constant():
    assert_close(rates(Constant(lr=0.3), 5), optax_rates(optax.constant_schedule(0.3), 5))


@pytest.mark.parametrize(("s", "gamma"), [(1, 0.97), (7, 0.5)])
def test_step_is_staircase_exponential_decay(s, gamma):
    theirs = optax.exponential_decay(0.3, transition_steps=s, decay_rate=gamma, staircase=True)
    assert_close(rates(StepDecay(lr=0.3, step_size=s, gamma=gamma), 60), optax_rates(theirs, 60))


def test_multistep_is_piecewise_constant():
    theirs = optax.piecewise_constant_schedule(0.2, {5: 0.3, 20: 0.3, 40: 0.3})
    ours = rates(MultiStep(lr=0.2, milestones=(5, 20, 40), gamma=0.3), 60)
    assert_close(ours, optax_rates(theirs, 60))


@pytest.mark.parametrize(("power", "end"), [(1.0, 0.0), (2.0, 0.01), (0.5, 0.001)])
def test_polynomial(power, end):
    theirs = optax.polynomial_schedule(0.4, end, power, transition_steps=30)
    ours = rates(Polynomial(lr=0.4, steps=30, power=power, end_lr=end), 40)
    assert_close(ours, optax_rates(theirs, 40))


@pytest.mark.parametrize("floor", [0.0, 0.01])
def test_cosine(floor):
    theirs = optax.cosine_decay_schedule(0.5, decay_steps=50, alpha=floor / 0.5)
    assert_close(
        rates(Cosine(lr=0.5, steps=50, min_lr=floor), 60), optax_rates(theirs, 60), 0.5e-15
    )


def test_cosine_restarts_is_sgdr():
    cycle = dict(init_value=0.5, peak_value=0.5, warmup_steps=0, decay_steps=10, end_value=0.01)
    theirs = optax.sgdr_schedule([cycle] * 6)
    ours = rates(CosineRestarts(lr=0.5, period=10, mult=1, min_lr=0.01), 60)
    assert_close(ours, optax_rates(theirs, 60))


@pytest.mark.parametrize("start", [0.0, 0.25])
def test_linear_warmup_of_a_constant_is_linear_schedule(start):
    theirs = optax.linear_schedule(start * 0.3, 0.3, transition_steps=20)
    ours = rates(LinearWarmup(steps=20, start=start, inner=Constant(lr=0.3)), 30)
    assert_close(ours, optax_rates(theirs, 30), exact=False)


def test_warmup_then_cosine_is_warmup_cosine_decay_schedule():
    theirs = optax.warmup_cosine_decay_schedule(0.0, 0.3, warmup_steps=10, decay_steps=60)
    ours = rates(
        Sequence(
            pieces=(LinearWarmup(steps=10, inner=Constant(lr=0.3)), Cosine(lr=0.3, steps=50)),
            boundaries=(10,),
        ),
        70,
    )
    assert_close(ours, optax_rates(theirs, 70), exact=False)
