"""Observers inside a vectorised ensemble: every member gets the outputs of its run stepped alone.

The recorder and diagnostics (traces as member × time arrays), the loss target and early
stopping (per member) run inside the ensemble's loop; these tests check, for random ensembles,
observer settings and stop points (budgets, tolerances, divergence, early stops), that each
member's result *and* observer outputs equal, bit for bit, those of the same run stepped alone
by the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gdsim import engine
from gdsim.ensemble import identical, plan, run_group, run_specs, why_not
from gdsim.results import RunResult
from gdsim.scenario import load_mapping


def same_outputs(a: Any, b: Any) -> bool:
    """Equal observer outputs, arrays bit for bit (shape and dtype too)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_outputs(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def assert_same(results: list[RunResult], reference: list[RunResult]) -> None:
    assert len(results) == len(reference)
    for a, b in zip(results, reference, strict=True):
        assert identical(a, b), (a.to_dict(), b.to_dict())
        assert same_outputs(a.outputs, b.outputs), (a.name, a.outputs, b.outputs)


def vectorised(specs: list[Any]) -> list[RunResult]:
    """Run the specs as one ensemble, failing if they would not have been vectorised."""
    assert all(why_not(s) is None for s in specs), [why_not(s) for s in specs]
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert len(plan(specs, inits)) == 1
    results = run_group(specs, inits)
    assert results is not None
    return results


@st.composite
def observers(draw: st.DrawFn) -> list[dict[str, Any]]:
    chosen: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 2))):
        recorder: dict[str, Any] = {"name": "recorder", "every": draw(st.integers(1, 7))}
        if draw(st.booleans()):
            recorder["grad_norm"] = draw(st.booleans())
        if draw(st.booleans()):
            recorder["params"] = draw(st.booleans())
        if draw(st.booleans()):
            recorder["max_param_size"] = 1  # 2-D parameters are then left out
        chosen.append(recorder)
    if draw(st.booleans()):
        chosen.append({"name": "loss_target", "loss": draw(st.sampled_from([0.5, 2.0, 6.0]))})
    if draw(st.booleans()):
        chosen.append(
            {
                "name": "diagnostics",
                "every": draw(st.integers(1, 7)),
                "grads": draw(st.booleans()),
                "updates": draw(st.booleans()),
                "weights": draw(st.booleans()),
            }
        )
    for _ in range(draw(st.integers(0, 2))):
        chosen.append(
            {
                "name": "early_stopping",
                "patience": draw(st.integers(1, 4)),
                "every": draw(st.integers(1, 4)),
                "min_delta": draw(st.sampled_from([0.0, 0.01, 1.0])),
                "mode": draw(st.sampled_from(["min", "max"])),
                "restore_best": draw(st.booleans()),
            }
        )
    return draw(st.permutations(chosen))


@st.composite
def ensembles(draw: st.DrawFn) -> dict[str, Any]:
    """Runs differing in start, hyperparameters, budgets and tolerances, with observers."""
    size = draw(st.integers(1, 10))
    rule = draw(st.sampled_from(["gd", "momentum", "nesterov"]))
    objective = draw(
        st.sampled_from(
            [
                {"name": "quartic"},
                {"name": "quartic", "evaluation": "horner"},
                {"name": "rosenbrock"},
                {"name": "himmelblau"},
                {"name": "rastrigin"},
            ]
        )
    )
    two_d = objective["name"] != "quartic"
    exponential = draw(st.booleans())
    shared_steps = draw(st.integers(1, 30))
    runs = []
    for i in range(size):
        start = draw(st.floats(-6.0, 6.0, allow_nan=False))
        init = [start, draw(st.floats(-3.0, 3.0))] if two_d else start
        lr = draw(st.sampled_from([0.001, 0.01, 0.1, 0.5, 1.5, 3.0]))
        schedule: dict[str, Any] = {"name": "constant", "lr": lr}
        if exponential:
            schedule = {"name": "exponential", "lr": lr, "k": draw(st.sampled_from([0.9, 1.0]))}
        run: dict[str, Any] = {"name": f"m{i}", "init": {"x": init}, "schedule": schedule}
        run["rule"] = (
            "gd" if rule == "gd" else {"name": rule, "mu": draw(st.sampled_from([0.0, 0.5, 0.9]))}
        )
        run["steps"] = draw(st.sampled_from([shared_steps, draw(st.integers(1, 30))]))
        run["max_loss"] = draw(st.sampled_from([1e100, 1e3, 50.0]))
        tolerance = {}
        if draw(st.booleans()):
            tolerance["grad_norm"] = draw(st.sampled_from([1e-3, 1e-1, 1.0]))
        if draw(st.booleans()):
            tolerance["step_size"] = draw(st.sampled_from([1e-6, 1e-3, 1e-1]))
        if tolerance:
            run["tolerance"] = tolerance
        runs.append(run)
    defaults = {"allow_divergence": True, "observers": draw(observers())}
    return {"objective": objective, "defaults": defaults, "runs": runs}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine's runs may overflow
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ensembles())
def test_ensemble_with_observers_equals_runs_stepped_alone(raw: dict[str, Any]) -> None:
    specs = list(load_mapping(raw).runs)
    results = vectorised(specs)
    assert_same(results, [engine.run(s) for s in specs])
    for status in sorted({r.status for r in results}):
        event(f"a member {status}")


def test_divergence_cuts_each_members_trace_at_its_last_finite_iterate() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "defaults": {
            "allow_divergence": True,
            "steps": 40,
            "rule": {"name": "momentum", "mu": 0.9},
            "observers": [{"name": "recorder", "every": 4}],
        },
        "runs": [
            {"name": "calm", "init": {"x": -5.0}},
            {"name": "wild", "init": {"x": 5.0}, "schedule": {"name": "constant", "lr": 3.0}},
            {"name": "at0", "init": {"x": 1e40}},
        ],
    }
    specs = list(load_mapping(raw).runs)
    results = vectorised(specs)
    assert_same(results, [engine.run(s) for s in specs])
    wild = results[1]
    assert wild.status == "diverged"
    assert wild.trace["step"][-1] == wild.final_step
    assert np.all(np.isfinite(wild.trace["params.x"]))
    assert list(results[0].trace["step"]) == list(range(0, 41, 4))


def test_observers_that_watch_runs_one_at_a_time_still_fall_back() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "a",
                "init": {"x": 1.0},
                "observers": [{"name": "early_stopping", "unit": "epoch"}],
            },
            {"name": "b", "init": {"x": 2.0}, "observers": [{"name": "recorder"}]},
            {"name": "c", "init": {"x": 3.0}, "observers": [{"name": "recorder"}]},
        ],
    }
    specs = list(load_mapping(raw).runs)
    assert "early_stopping" in (why_not(specs[0]) or "")
    assert why_not(specs[1]) is None
    results = run_specs(specs)
    assert_same(results, [engine.run(s) for s in specs])


def test_loss_target_counts_the_trajectory_even_when_early_stopping_restores() -> None:
    """Early stopping (mode max) restores step 0's weights, above the target; the loss target
    still reports the step at which the trajectory reached it, alone and in the ensemble."""
    stopping = {"name": "early_stopping", "patience": 1, "mode": "max", "restore_best": True}
    observers = [stopping, {"name": "loss_target", "loss": 2.0}]
    runs = [
        {"name": f"m{i}", "init": {"x": 0.0 if i < 2 else 4.0}, "steps": 1, "rule": "gd"}
        for i in range(3)
    ]
    raw = {
        "objective": {"name": "quartic"},
        "defaults": {"allow_divergence": True, "observers": observers},
        "runs": runs,
    }
    specs = list(load_mapping(raw).runs)
    alone = [engine.run(s) for s in specs]
    assert alone[2].final_step == 0  # restored to the start, whose loss is above 2
    assert alone[2].outputs["loss_target"]["steps_to_target"] == 1
    assert_same(vectorised(specs), alone)
