"""Each schedule equals its published formula, step by step, for parameters drawn by hypothesis.

The formulas are written here as the papers and the torch/optax documentation give them, in
plain Python floats; the schedules must reproduce them bit for bit (``math.pow`` is the power
a single run uses). Shape checks (endpoints, monotonicity) guard against a formula copied wrong
in both places.
"""

from __future__ import annotations

import bisect
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_helpers import bits, rates

from gdsim.schedules import (
    Cosine,
    CosineRestarts,
    Cyclic,
    InverseTime,
    MultiStep,
    OneCycle,
    Polynomial,
    StepDecay,
)

lrs = st.floats(1e-4, 1.0)
factors = st.floats(0.05, 0.99)
N = 80


@settings(max_examples=40, deadline=None)
@given(lr=lrs, s=st.integers(1, 20), gamma=factors)
def test_step(lr, s, gamma):
    got = rates(StepDecay(lr=lr, step_size=s, gamma=gamma), N)
    assert bits(got) == bits([lr * math.pow(gamma, t // s) for t in range(N)])
    assert got[:s] == [lr] * min(s, N)


@settings(max_examples=40, deadline=None)
@given(lr=lrs, ms=st.lists(st.integers(1, N), min_size=1, max_size=4, unique=True), gamma=factors)
def test_multistep(lr, ms, gamma):
    ms = sorted(ms)
    got = rates(MultiStep(lr=lr, milestones=tuple(ms), gamma=gamma), N)
    assert bits(got) == bits([lr * math.pow(gamma, sum(1 for m in ms if m <= t)) for t in range(N)])
    assert all(got[m] < got[m - 1] for m in ms if m < N)


@settings(max_examples=40, deadline=None)
@given(lr=lrs, d=st.floats(0.0, 2.0))
def test_inverse_time(lr, d):
    got = rates(InverseTime(lr=lr, decay=d), N)
    assert bits(got) == bits([lr / (1 + d * t) for t in range(N)])
    assert got[0] == lr


@settings(max_examples=40, deadline=None)
@given(lr=lrs, total=st.integers(1, N), p=st.floats(0.25, 4.0), end=st.floats(0.0, 1e-4))
def test_polynomial(lr, total, p, end):
    got = rates(Polynomial(lr=lr, steps=total, power=p, end_lr=end), N)
    expected = [(lr - end) * math.pow(1 - min(t, total) / total, p) + end for t in range(N)]
    assert bits(got) == bits(expected)
    # (α − α_end)·1 + α_end is α up to one rounding
    assert got[0] == pytest.approx(lr, rel=1e-15) and got[total:] == [end] * (N - total)
    assert all(a >= b for a, b in itertools.pairwise(got))


@settings(max_examples=40, deadline=None)
@given(lr=lrs, total=st.integers(1, N), floor=st.floats(0.0, 1e-4))
def test_cosine(lr, total, floor):
    got = rates(Cosine(lr=lr, steps=total, min_lr=floor), N)
    expected = [
        floor + (lr - floor) * (1 + math.cos(math.pi * min(t, total) / total)) / 2 for t in range(N)
    ]
    assert bits(got) == bits(expected)
    assert got[0] == pytest.approx(lr, rel=1e-15) and got[total:] == [floor] * (N - total)


@settings(max_examples=40, deadline=None)
@given(lr=lrs, t0=st.integers(1, 15), mult=st.integers(1, 3), floor=st.floats(0.0, 1e-4))
def test_cosine_restarts(lr, t0, mult, floor):
    got = rates(CosineRestarts(lr=lr, period=t0, mult=mult, min_lr=floor), N)
    restarts = [0]
    length = t0
    while restarts[-1] + length < N:
        restarts.append(restarts[-1] + length)
        length *= mult
    for t in range(N):
        k = bisect.bisect_right(restarts, t) - 1
        t_cur, t_i = t - restarts[k], t0 * mult**k
        assert got[t] == floor + (lr - floor) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    assert [got[r] for r in restarts] == [got[0]] * len(restarts)
    assert got[0] == pytest.approx(lr, rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    peak=lrs,
    total=st.integers(10, N),
    pct=st.floats(0.15, 0.45),
    anneal=st.sampled_from(["cos", "linear"]),
    three=st.booleans(),
)
def test_one_cycle(peak, total, pct, anneal, three):
    d, df = 25.0, 1e4
    got = rates(
        OneCycle(max_lr=peak, steps=total, pct_start=pct, anneal=anneal, three_phase=three), N
    )
    a0, a_min = peak / d, peak / d / df
    if three:
        knots = [(0.0, a0), (pct * total - 1, peak), (2 * pct * total - 2, a0), (total - 1, a_min)]
    else:
        knots = [(0.0, a0), (pct * total - 1, peak), (total - 1, a_min)]
    for t in range(N):
        u = min(t, total - 1)
        i = next((i for i in range(1, len(knots)) if u <= knots[i][0]), len(knots) - 1)
        (s, a), (e, b) = knots[i - 1], knots[i]
        x = (u - s) / (e - s)
        if anneal == "cos":
            expected = b + (a - b) / 2.0 * (math.cos(math.pi * x) + 1)
        else:
            expected = (b - a) * x + a
        assert got[t] == expected, t
    assert got[0] == pytest.approx(a0, rel=1e-15)
    assert got[total - 1 :] == [got[total - 1]] * (N - total + 1)
    assert got[total - 1] == pytest.approx(a_min, abs=4 * peak * 2.0**-53)


@settings(max_examples=40, deadline=None)
@given(
    base=st.floats(1e-4, 1e-2),
    top=st.floats(0.02, 1.0),
    up=st.integers(1, 15),
    down=st.one_of(st.none(), st.integers(1, 15)),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.9, 1.0),
)
def test_cyclic(base, top, up, down, mode, gamma):
    got = rates(
        Cyclic(
            base_lr=base, max_lr=top, step_size_up=up, step_size_down=down, mode=mode, gamma=gamma
        ),
        N,
    )
    v = up if down is None else down
    total = float(up + v)
    for t in range(N):
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        ratio = up / total
        h = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1)}.get(
            mode, math.pow(gamma, t)
        )
        assert got[t] == base + (top - base) * h * scale, t
    # the cycle starts at the base rate and peaks after ``up`` steps
    assert got[0] == base
    if up < N and mode == "triangular":
        assert got[up] == pytest.approx(top, rel=1e-15)
