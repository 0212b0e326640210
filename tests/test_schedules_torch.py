"""gdsim's schedules against torch.optim.lr_scheduler (skipped when torch is not installed).

Each case builds the torch scheduler with the argument mapping the schedule's docstring gives,
reads the rate the optimizer uses at each step (``param_groups[0]["lr"]`` before
``optimizer.step()``, then ``scheduler.step()``), and compares it with gdsim's rate of the same
0-based step. Schedulers whose rate torch computes by its closed form agree bit for bit; those
torch updates recursively (each rate from the previous one) agree to 1e-15 relative over the
horizons used here — the closed form gdsim computes is the published formula, which the other
test modules check exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from schedule_helpers import rates

from gdsim.schedules import (
    Constant,
    Cosine,
    CosineRestarts,
    Cyclic,
    InverseTime,
    LinearWarmup,
    MultiStep,
    OneCycle,
    Polynomial,
    ReduceOnPlateau,
    Sequence,
    StepDecay,
)

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

RTOL = 1e-15


def torch_rates(make, lr: float, steps: int) -> tuple[list[float], list[float] | None]:
    """The rates torch's optimizer uses at steps 0 … steps − 1, and the scheduler's own closed
    form at the same steps (None when it has none)."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    scheduler = make(opt)
    closed = getattr(scheduler, "_get_closed_form_lr", None)
    used, formula = [], []
    for _ in range(steps):
        used.append(float(opt.param_groups[0]["lr"]))
        if closed is not None:
            formula.append(float(closed()[0]))
        opt.step()
        scheduler.step()
    return used, (formula if closed is not None else None)


def assert_matches(ours, make, lr, exact=False):
    """``ours`` equals torch's closed form bit for bit; the rates torch's optimizer actually
    used agree bit for bit (``exact``) or within the rounding its recursive update accumulates:
    up to two roundings per step, so t·2⁻⁵² relative at step t (1e-15 for the first 4 steps)."""
    used, formula = torch_rates(make, lr, len(ours))
    ours = np.array(ours, dtype=np.float64)
    used = np.array(used, dtype=np.float64)
    if formula is not None:
        assert ours.tobytes() == np.array(formula).tobytes(), "differs from torch's closed form"
    if exact:
        assert ours.tobytes() == used.tobytes(), np.flatnonzero(ours != used)
        return
    bound = np.maximum(RTOL, 2.0 * np.arange(1, len(ours) + 1) * 2.0**-53)
    assert np.all(np.abs(ours - used) <= bound * np.abs(used)), np.flatnonzero(
        np.abs(ours - used) > bound * np.abs(used)
    )


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.9), (7, 0.5), (30, 0.1)])
def test_step(step_size, gamma):
    ours = rates(StepDecay(lr=0.3, step_size=step_size, gamma=gamma), 200)
    assert_matches(ours, lambda o: lr_scheduler.StepLR(o, step_size, gamma), 0.3)


def test_exponential_lr_is_step_with_step_size_one():
    ours = rates(StepDecay(lr=0.3, step_size=1, gamma=0.97), 100)
    assert_matches(ours, lambda o: lr_scheduler.ExponentialLR(o, 0.97), 0.3)


def test_multistep():
    ours = rates(MultiStep(lr=0.2, milestones=(5, 20, 21, 60), gamma=0.3), 100)
    assert_matches(ours, lambda o: lr_scheduler.MultiStepLR(o, [5, 20, 21, 60], 0.3), 0.2)


@pytest.mark.parametrize("decay", [0.0, 0.01, 0.37])
def test_inverse_time_is_adagrads_lr_decay(decay):
    """torch's Adagrad steps with clr = lr / (1 + (step − 1)·lr_decay). With g = 1 (G = t + 1)
    and ε = 0, a step from 0 lands on −clr/√(t + 1); where t + 1 is a power of 4 the division
    is exact, so clr is read back exactly there."""
    lr, steps = 0.1, 64
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.Adagrad([param], lr=lr, lr_decay=decay, eps=0.0, foreach=False)
    ours = rates(InverseTime(lr=lr, decay=decay), steps)
    checked = 0
    for t in range(steps):
        with torch.no_grad():
            param.zero_()
        param.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        root = math.isqrt(t + 1)
        if root * root == t + 1 and root & (root - 1) == 0:
            assert -float(param.detach()[0]) * root == ours[t], t
            checked += 1
    assert checked == 4  # t = 0, 3, 15, 63


@pytest.mark.parametrize(("total", "power"), [(10, 1.0), (37, 2.0), (50, 0.5)])
def test_polynomial(total, power):
    ours = rates(Polynomial(lr=0.4, steps=total, power=power), total + 10)
    assert_matches(ours, lambda o: lr_scheduler.PolynomialLR(o, total, power), 0.4)


@pytest.mark.parametrize(("total", "min_lr"), [(10, 0.0), (100, 0.001)])
def test_cosine(total, min_lr):
    ours = rates(Cosine(lr=0.5, steps=total, min_lr=min_lr), total + 1)
    assert_matches(ours, lambda o: lr_scheduler.CosineAnnealingLR(o, total, min_lr), 0.5)


@pytest.mark.parametrize(("period", "mult"), [(10, 1), (5, 2), (3, 3)])
def test_cosine_restarts(period, mult):
    ours = rates(CosineRestarts(lr=0.5, period=period, mult=mult, min_lr=0.01), 150)
    assert_matches(
        ours,
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, period, mult, 0.01),
        0.5,
        exact=True,
    )


@pytest.mark.parametrize("start", [0.1, 1 / 3, 0.5])
def test_linear_warmup(start):
    ours = rates(LinearWarmup(steps=20, start=start, inner=Constant(lr=0.3)), 40)
    assert_matches(ours, lambda o: lr_scheduler.LinearLR(o, start, 1.0, 20), 0.3)


def test_linear_warmup_chained_with_cosine():
    inner = Cosine(lr=0.3, steps=80)
    ours = rates(LinearWarmup(steps=10, start=0.25, inner=inner), 80)
    assert_matches(
        ours,
        lambda o: lr_scheduler.ChainedScheduler(
            [lr_scheduler.LinearLR(o, 0.25, 1.0, 10), lr_scheduler.CosineAnnealingLR(o, 80)]
        ),
        0.3,
    )


@pytest.mark.parametrize(
    ("pct", "anneal", "three_phase"),
    [(0.3, "cos", False), (0.25, "linear", False), (0.3, "cos", True), (0.4, "linear", True)],
)
def test_one_cycle(pct, anneal, three_phase):
    kwargs = dict(pct_start=pct, div_factor=10.0, final_div_factor=100.0)
    ours = rates(
        OneCycle(max_lr=0.5, steps=100, anneal=anneal, three_phase=three_phase, **kwargs), 100
    )
    assert_matches(
        ours,
        lambda o: lr_scheduler.OneCycleLR(
            o,
            0.5,
            total_steps=100,
            anneal_strategy=anneal,
            three_phase=three_phase,
            cycle_momentum=False,
            **kwargs,
        ),
        0.5,
        exact=True,
    )


@pytest.mark.parametrize(
    ("mode", "up", "down", "gamma"),
    [("triangular", 10, None, 1.0), ("triangular2", 7, 13, 1.0), ("exp_range", 10, 5, 0.99)],
)
def test_cyclic(mode, up, down, gamma):
    ours = rates(
        Cyclic(
            base_lr=0.01, max_lr=0.2, step_size_up=up, step_size_down=down, mode=mode, gamma=gamma
        ),
        120,
    )
    assert_matches(
        ours,
        lambda o: lr_scheduler.CyclicLR(
            o, 0.01, 0.2, up, down, mode=mode, gamma=gamma, cycle_momentum=False
        ),
        0.01,
        exact=True,
    )


def test_sequence_of_warmup_and_cosine_equals_sequential_lr():
    ours = rates(
        Sequence(
            pieces=(
                LinearWarmup(steps=10, start=0.1, inner=Constant(lr=0.3)),
                Cosine(lr=0.3, steps=50),
            ),
            boundaries=(10,),
        ),
        60,
    )
    assert_matches(
        ours,
        lambda o: lr_scheduler.SequentialLR(
            o,
            [lr_scheduler.LinearLR(o, 0.1, 1.0, 10), lr_scheduler.CosineAnnealingLR(o, 50)],
            milestones=[10],
        ),
        0.3,
    )


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {},
        {"patience": 2, "cooldown": 3, "factor": 0.5, "min_lr": 0.004},
        {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "patience": 1},
    ],
)
def test_reduce_on_plateau(kwargs):
    rng = np.random.default_rng(3)
    curve = np.concatenate([np.linspace(1, 0.5, 15), 0.5 + 0.02 * rng.random(60)])
    ours = ReduceOnPlateau(lr=0.1, **kwargs)
    state = ours.init()
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=0.1)
    theirs = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    for epoch, value in enumerate(curve, start=1):
        state = ours.observe(state, epoch, {"train.loss": float(value)})
        theirs.step(float(value))
        assert state["lr"] == opt.param_groups[0]["lr"], epoch
    assert state["reductions"] > 0
