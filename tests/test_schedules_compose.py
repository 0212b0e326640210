"""Warm-ups, sequences and scales: their formulas and composition laws, and their TOML form."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_helpers import bits, rates

import gdsim
from gdsim.errors import ScenarioError
from gdsim.scenario import load_mapping
from gdsim.schedules import (
    Constant,
    Cosine,
    Exponential,
    ExponentialWarmup,
    GradControl,
    LinearWarmup,
    Scale,
    Sequence,
    StepDecay,
)

lrs = st.floats(1e-4, 1.0)
INNERS = st.one_of(
    st.builds(Constant, lr=lrs),
    st.builds(Exponential, lr=lrs, k=st.floats(0.5, 1.0), every=st.integers(1, 4)),
    st.builds(Cosine, lr=lrs, steps=st.integers(1, 30)),
    st.builds(StepDecay, lr=lrs, step_size=st.integers(1, 5), gamma=st.floats(0.1, 1.0)),
    st.builds(GradControl, lr=lrs, c=st.floats(0.0, 2.0)),
)


@settings(max_examples=60, deadline=None)
@given(inner=INNERS, steps=st.integers(0, 20), start=st.floats(0.0, 1.0))
def test_linear_warmup_multiplies_the_inner_rate(inner, steps, start):
    warm = rates(LinearWarmup(steps=steps, start=start, inner=inner), 30)
    plain = rates(inner, 30)
    for t in range(30):
        if t < steps:
            assert warm[t] == plain[t] * (start + (1.0 - start) * t / steps)
        else:
            assert bits([warm[t]]) == bits([plain[t]])


@settings(max_examples=60, deadline=None)
@given(inner=INNERS, tau=st.integers(0, 20))
def test_exponential_warmup_multiplies_the_inner_rate(inner, tau):
    warm = rates(ExponentialWarmup(tau=tau, inner=inner), 30)
    plain = rates(inner, 30)
    for t in range(30):
        expected = plain[t] if tau == 0 else plain[t] * (1.0 - math.exp(-(t + 1) / tau))
        assert bits([warm[t]]) == bits([expected])


@settings(max_examples=40, deadline=None)
@given(inner=INNERS)
def test_a_warmup_of_length_zero_is_the_inner_schedule(inner):
    assert bits(rates(LinearWarmup(steps=0, inner=inner), 25)) == bits(rates(inner, 25))
    assert bits(rates(ExponentialWarmup(tau=0, inner=inner), 25)) == bits(rates(inner, 25))


def test_linear_warmup_rises_from_start_to_the_inner_rate():
    got = rates(LinearWarmup(steps=4, start=0.2, inner=Constant(lr=0.5)), 6)
    assert got[0] == 0.5 * 0.2
    assert all(a < b for a, b in itertools.pairwise(got[:5]))
    assert got[4] == got[5] == 0.5


def test_exponential_warmup_reaches_one_after_many_time_constants():
    got = rates(ExponentialWarmup(tau=2, inner=Constant(lr=1.0)), 120)
    assert got[0] == pytest.approx(1 - math.exp(-0.5))
    assert got[1] == pytest.approx(1 - math.exp(-1))
    assert got[-1] == 1.0


@settings(max_examples=40, deadline=None)
@given(piece=INNERS)
def test_a_sequence_of_one_piece_is_that_piece(piece):
    assert bits(rates(Sequence(pieces=(piece,)), 25)) == bits(rates(piece, 25))


@settings(max_examples=40, deadline=None)
@given(a=INNERS, b=INNERS, c=INNERS, b1=st.integers(1, 10), b2=st.integers(1, 10))
def test_each_piece_of_a_sequence_starts_fresh_at_its_boundary(a, b, c, b1, b2):
    seq = rates(Sequence(pieces=(a, b, c), boundaries=(b1, b1 + b2)), 30)
    expected = rates(a, b1) + rates(b, b2) + rates(c, 30 - b1 - b2)
    assert bits(seq) == bits(expected)


@settings(max_examples=40, deadline=None)
@given(inner=INNERS, factor=st.floats(1e-3, 10.0))
def test_scale_multiplies_every_rate(inner, factor):
    assert bits(rates(Scale(inner=inner, factor=factor), 20)) == bits(
        [r * factor for r in rates(inner, 20)]
    )
    assert bits(rates(Scale(inner=inner), 20)) == bits(rates(inner, 20))


def _scenario(schedule, **run):
    return {
        "objective": "quartic",
        "runs": [{"name": "r", "init": {"x": 5.0}, "steps": 30, "schedule": schedule, **run}],
    }


def test_toml_nests_schedules_as_tables():
    scenario = load_mapping(
        _scenario(
            {
                "name": "sequence",
                "boundaries": [10],
                "pieces": [
                    {
                        "name": "linear_warmup",
                        "steps": 10,
                        "inner": {"name": "constant", "lr": 0.05},
                    },
                    {"name": "cosine", "lr": 0.05, "steps": 20, "min_lr": 0.001},
                ],
            }
        )
    )
    assert scenario.runs[0].schedule == Sequence(
        pieces=(
            LinearWarmup(steps=10, inner=Constant(lr=0.05)),
            Cosine(lr=0.05, steps=20, min_lr=0.001),
        ),
        boundaries=(10,),
    )
    assert gdsim.run(scenario)[0].status == "completed"


@pytest.mark.parametrize(
    ("schedule", "path", "fragment"),
    [
        (
            {"name": "sequence", "pieces": [{"name": "cosine"}], "boundaries": [5]},
            "boundaries",
            "expected 0 boundaries for 1 pieces",
        ),
        (
            {"name": "sequence", "pieces": [{"name": "cosine"}, "constant"], "boundaries": [5, 3]},
            "boundaries",
            "strictly increasing",
        ),
        ({"name": "sequence", "pieces": "cosine"}, "pieces", "expected an array of schedules"),
        ({"name": "sequence", "pieces": [{"name": "cosin"}]}, "pieces[0].name", "did you mean"),
        (
            {"name": "linear_warmup", "inner": {"name": "cosine", "stepz": 3}},
            "inner.stepz",
            "unknown parameter",
        ),
        ({"name": "linear_warmup", "start": 1.5}, "start", "expected a number in [0, 1]"),
        ({"name": "scale", "factor": 2.0}, "inner", "missing required parameter"),
    ],
)
def test_bad_compositions_name_their_key_path(schedule, path, fragment):
    with pytest.raises(ScenarioError) as info:
        load_mapping(_scenario(schedule), source="s.toml")
    assert info.value.path == f"runs[0].schedule.{path}"
    assert fragment in str(info.value)


def test_the_run_records_the_warmed_up_rates():
    scenario = load_mapping(
        _scenario(
            {"name": "linear_warmup", "steps": 4, "inner": {"name": "constant", "lr": 0.05}},
            observers=[{"name": "recorder"}],
            steps=6,
        )
    )
    trace = gdsim.run(scenario)[0].outputs["recorder"]["trace"]
    # row 0 is the start (no step taken yet); row t + 1 holds the rate step t used
    assert list(trace["lr"][1:]) == rates(LinearWarmup(steps=4, inner=Constant(lr=0.05)), 6)
