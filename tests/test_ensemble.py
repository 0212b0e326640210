"""A vectorised ensemble gives every run exactly the result it gets when stepped alone."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gdsim import engine
from gdsim.ensemble import identical, plan, run_group, run_specs, simulate, why_not
from gdsim.objectives.polynomial import int_powers
from gdsim.results import RunResult
from gdsim.scenario import load_mapping


def assert_same(results: list[RunResult], reference: list[RunResult]) -> None:
    assert len(results) == len(reference)
    for a, b in zip(results, reference, strict=True):
        assert identical(a, b), (a.to_dict(), a.stop_reason, b.to_dict(), b.stop_reason)


def vectorised(specs: list[Any]) -> list[RunResult]:
    """Run the specs as one ensemble, failing if they would not have been vectorised."""
    assert all(why_not(s) is None for s in specs)
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert len(plan(specs, inits)) == 1
    results = run_group(specs, inits)
    assert results is not None
    return results


# --- powers ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_powers_are_the_same_for_scalars_zero_d_and_arrays(xs: list[float]) -> None:
    array = np.array(xs)
    powers = int_powers(array, 5)
    for i, x in enumerate(xs):
        for k, p in enumerate(int_powers(np.float64(x), 5)[1:], start=1):
            assert np.float64(p).tobytes() == powers[k][i].tobytes()
        for k, p in enumerate(int_powers(np.array(x), 5)[1:], start=1):
            assert np.asarray(p, dtype=np.float64).tobytes() == powers[k][i].tobytes()


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e4, 1e4, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-60))
def test_powers_are_correctly_rounded(x: float) -> None:
    """Away from subnormal results (where the error terms underflow) the rounding is exact."""
    for k, p in enumerate(int_powers(np.float64(x), 4)):
        assert float(p) == float(Fraction(x) ** k)


def test_powers_overflow_to_infinity_not_nan() -> None:
    p = int_powers(np.array([1e200, -1e200, np.inf, np.nan]), 3)
    assert np.isposinf(p[2][0]) and np.isposinf(p[2][1]) and np.isposinf(p[2][2])
    assert np.isposinf(p[3][0]) and np.isneginf(p[3][1])
    assert np.isnan(p[3][3])


# --- random ensembles against the engine ------------------------------------------------------

RULES = ("gd", "momentum", "nesterov")


@st.composite
def ensembles(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario mapping whose runs differ in start, hyperparameters, budgets and tolerances."""
    size = draw(st.integers(1, 12))
    rule = draw(st.sampled_from(RULES))
    objective = draw(
        st.sampled_from(
            [
                {"name": "quartic"},
                {"name": "quartic", "evaluation": "horner"},
                {"name": "polynomial", "coefficients": [0.5, -1.0, -2.0, 1.0, 0.25, 3.0]},
                {"name": "rosenbrock"},
                {"name": "himmelblau"},
                {"name": "beale"},
                {"name": "booth"},
                {"name": "rastrigin"},
            ]
        )
    )
    two_d = objective["name"] not in ("quartic", "polynomial")
    schedule_kind = draw(st.sampled_from(["constant", "exponential"]))
    shared_steps = draw(st.integers(1, 40))
    shared_max_loss = draw(st.sampled_from([1e100, 1e3, 50.0]))
    runs = []
    for i in range(size):
        start = draw(st.floats(-6.0, 6.0, allow_nan=False))
        init = [start, draw(st.floats(-3.0, 3.0))] if two_d else start
        run: dict[str, Any] = {"name": f"m{i}", "init": {"x": init}}
        # divergence comes from large learning rates
        lr = draw(st.sampled_from([0.001, 0.01, 0.1, 0.5, 1.5, 3.0]))
        if schedule_kind == "constant":
            run["schedule"] = {"name": "constant", "lr": lr}
        else:
            k = draw(st.sampled_from([0.9, 0.99, 1.0]))
            run["schedule"] = {"name": "exponential", "lr": lr, "k": k}
        if rule == "gd":
            run["rule"] = "gd"
        else:
            run["rule"] = {"name": rule, "mu": draw(st.sampled_from([0.0, 0.5, 0.9, 0.99]))}
        run["steps"] = draw(st.sampled_from([shared_steps, draw(st.integers(1, 40))]))
        run["max_loss"] = draw(st.sampled_from([shared_max_loss, 1e6]))
        tolerance = {}
        if draw(st.booleans()):
            tolerance["grad_norm"] = draw(st.sampled_from([1e-3, 1e-1, 1.0]))
        if draw(st.booleans()):
            tolerance["step_size"] = draw(st.sampled_from([1e-6, 1e-3, 1e-1]))
        if tolerance:
            run["tolerance"] = tolerance
        runs.append(run)
    return {"objective": objective, "defaults": {"allow_divergence": True}, "runs": runs}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine's runs may overflow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ensembles())
def test_vectorised_ensemble_equals_runs_stepped_one_by_one(raw: dict[str, Any]) -> None:
    specs = list(load_mapping(raw).runs)
    results = vectorised(specs)
    assert_same(results, [engine.run(s) for s in specs])
    for status in sorted({r.status for r in results}):
        event(f"a member {status}")


def test_divergent_members_are_frozen_at_their_own_step() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "defaults": {
            "allow_divergence": True,
            "steps": 50,
            "rule": {"name": "momentum", "mu": 0.0},
        },
        "runs": [
            {"name": "calm", "init": {"x": -5.0}, "rule": {"name": "momentum", "mu": 0.9}},
            {"name": "wild", "init": {"x": 5.0}, "schedule": {"name": "constant", "lr": 3.0}},
            {"name": "at0", "init": {"x": 1e40}},
            {"name": "small_max", "init": {"x": 5.0}, "max_loss": 1.0},
        ],
    }
    specs = list(load_mapping(raw).runs)
    results = vectorised(specs)
    assert_same(results, [engine.run(s) for s in specs])
    status = {r.name: (r.status, r.diverged_at) for r in results}
    assert status["calm"] == ("completed", None)
    assert status["wild"][0] == "diverged" and 0 < status["wild"][1] < 50
    assert status["at0"] == ("diverged", 0)
    assert results[2].final_loss is None
    assert status["small_max"] == ("diverged", 0)


def test_escape_scenario_still_matches_the_lecture_bit_for_bit() -> None:
    from pathlib import Path

    from gdsim import api

    path = Path(__file__).parent.parent / "scenarios" / "escape_local_min.toml"
    results = api.run(path)
    assert results.passed
    lecture = {
        "gd_from_5": 3.2727653395584366,
        "gd_from_-5": -3.254993730859254,
        "momentum_0.1_from_5": 3.272765339558436,
        "momentum_0.9_from_-5": 3.267681061691328,
        "nesterov_0.9_from_-5": -3.2549937310899244,
    }
    for name, x in lecture.items():
        assert float(results[name].final_params["x"]) == x


def test_runs_with_observers_fall_back_to_the_engine() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "a",
                "init": {"x": 1.0},
                "observers": [{"name": "early_stopping", "unit": "epoch"}],
            },
            {"name": "b", "init": {"x": 2.0}},
            {"name": "c", "init": {"x": 3.0}, "schedule": {"name": "grad_control"}},
            {"name": "d", "init": {"x": 4.0}},
        ],
    }
    specs = list(load_mapping(raw).runs)
    assert why_not(specs[0]) == "observer 'early_stopping' observes runs one at a time"
    assert "grad_control" in (why_not(specs[2]) or "")
    results = run_specs(specs)
    assert [r.name for r in results] == ["a", "b", "c", "d"]
    assert "early_stopping" in results[0].outputs
    assert_same(results, [engine.run(s) for s in specs])


def test_simulate_broadcasts_per_member_hyperparameters() -> None:
    """The array core directly: per-member mu broadcasts against 2-D parameters."""
    from gdsim.objectives.test_functions import Himmelblau
    from gdsim.rules.classic import Momentum
    from gdsim.schedules import Constant

    x = np.random.default_rng(0).uniform(-4, 4, (64, 2))
    mu = np.linspace(0.0, 0.95, 64).reshape(64, 1)
    ended: list[int] = []
    out = simulate(
        Himmelblau(),
        Momentum(),
        Constant(lr=0.01),
        {"x": x},
        30,
        hyper=[(0, "mu", mu)],
        progress=ended.append,
    )
    assert ended == [64]  # one shared budget: all members end together, in one go
    for i in (0, 17, 63):
        raw = {
            "objective": {"name": "himmelblau"},
            "runs": [
                {
                    "init": {"x": x[i].tolist()},
                    "steps": 30,
                    "rule": {"name": "momentum", "mu": float(mu[i, 0])},
                    "schedule": {"name": "constant", "lr": 0.01},
                }
            ],
        }
        alone = engine.run(load_mapping(raw).runs[0])
        assert alone.final_params["x"].tobytes() == out.final_params["x"][i].tobytes()
        assert alone.status == out.status(i)


@pytest.mark.parametrize("rule", RULES)
def test_hyperparameter_arrays_do_not_leak_between_groups(rule: str) -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": f"r{i}",
                "init": {"x": float(i) - 3.0},
                "rule": rule if rule == "gd" else {"name": rule, "mu": 0.1 * i},
                "steps": 10 + i,
            }
            for i in range(7)
        ],
    }
    specs = list(load_mapping(raw).runs)
    assert_same(run_specs(specs), [engine.run(s) for s in specs])


def test_components_that_are_not_really_elementwise_fall_back() -> None:
    """A wrong ``elementwise`` claim or a rule with derived values must not corrupt results."""
    import attrs

    from gdsim.objectives.polynomial import Quartic
    from gdsim.rules.classic import Momentum

    @attrs.frozen
    class Summing(Quartic):  # claims elementwise, but its loss sums over everything
        def value_and_grad(self, params: Any, batch: Any = None) -> Any:
            loss, grads = super().value_and_grad(params, batch)
            return np.sum(loss), grads

    @attrs.frozen
    class Cached(Momentum):  # keeps 1 - mu computed at construction
        _one_minus: float = attrs.field(init=False, default=0.0)

        def __attrs_post_init__(self) -> None:
            object.__setattr__(self, "_one_minus", 1.0 - self.mu)

    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {"init": {"x": x}, "rule": {"name": "momentum", "mu": mu}, "steps": 5}
            for x, mu in ((-5.0, 0.1), (1.0, 0.5), (5.0, 0.9))
        ],
    }
    specs = list(load_mapping(raw).runs)
    inits = [s.initial_params(np.random.default_rng(0)) for s in specs]
    summing = [attrs.evolve(s, objective=Summing()) for s in specs]
    assert run_group(summing, inits) is None
    cached = [attrs.evolve(s, rule=Cached(mu=s.rule.mu)) for s in specs]
    assert run_group(cached, inits) is None
    for group in (summing, cached):
        assert_same(run_specs(group), [engine.run(s) for s in group])


@pytest.mark.parametrize(
    ("rule", "field", "values"),
    [
        ("adam", "weight_decay", [0.0, 0.01, 0.1]),  # vectorised: λ = 0 members keep g exactly
        ("rmsprop", "momentum", [0.0, 0.5, 0.9]),  # branches on momentum > 0: falls back
        ("adagrad", "initial_accumulator", [0.0, 0.1]),  # branches on != 0: falls back
        ("adam", "beta2", [0.99, 0.999, 0.9999]),  # β₂ᵗ must round as libm's pow does alone
        ("adam", "beta1", [0.5, 0.8, 0.9, 0.95]),
    ],
)
def test_sweeping_a_hyperparameter_a_rule_branches_on_equals_runs_alone(
    rule: str, field: str, values: list[float]
) -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "r",
                "steps": 200,
                "init": {"x": {"linspace": [-4.0, 4.0, 9]}},
                "schedule": {"name": "constant", "lr": 0.05},
                "rule": {"name": rule, field: {"values": values}},
            }
        ],
    }
    specs = list(load_mapping(raw).runs)
    assert len(specs) == 9 * len(values)
    assert_same(run_specs(specs), [engine.run(s) for s in specs])
