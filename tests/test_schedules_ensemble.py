"""Schedule parameters swept in a vectorised ensemble: one array per parameter, and every run
gets the bits it gets when stepped alone."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from gdsim import engine
from gdsim.ensemble import identical, plan, run_group, run_specs, why_not
from gdsim.scenario import load_mapping

# each schedule with its float parameters given one value per run (three runs)
SWEPT: list[tuple[dict[str, Any], dict[str, list[float]]]] = [
    ({"name": "step", "step_size": 4}, {"lr": [0.01, 0.02, 0.03], "gamma": [0.5, 0.7, 0.9]}),
    ({"name": "multistep", "lr": 0.002, "milestones": [3, 9]}, {"gamma": [0.2, 0.5, 0.8]}),
    ({"name": "inverse_time"}, {"lr": [0.01, 0.02, 0.03], "decay": [0.0, 0.1, 0.5]}),
    (
        {"name": "polynomial", "lr": 0.02, "steps": 12},
        {"power": [0.5, 1.0, 3.0], "end_lr": [0.0, 1e-3, 2e-3]},
    ),
    ({"name": "cosine", "steps": 15}, {"lr": [0.01, 0.02, 0.03], "min_lr": [0.0, 1e-3, 5e-3]}),
    (
        {"name": "cosine_restarts", "lr": 0.02, "period": 4, "mult": 2},
        {"min_lr": [0.0, 1e-3, 5e-3]},
    ),
    (
        {"name": "one_cycle", "steps": 16},
        {"max_lr": [0.01, 0.02, 0.04], "div_factor": [5.0, 10.0, 25.0]},
    ),
    (
        {"name": "cyclic", "mode": "exp_range", "step_size_up": 3},
        {"max_lr": [0.02, 0.03, 0.04], "gamma": [0.9, 0.95, 1.0]},
    ),
    (
        {"name": "cyclic", "mode": "triangular2", "step_size_up": 2, "step_size_down": 5},
        {"base_lr": [1e-3, 2e-3, 3e-3]},
    ),
    (
        {"name": "linear_warmup", "steps": 6, "inner": {"name": "cosine", "lr": 0.02, "steps": 20}},
        {"start": [0.0, 0.3, 0.9]},
    ),
    (
        {"name": "scale", "inner": {"name": "step", "lr": 0.02, "step_size": 3}},
        {"factor": [0.5, 1.0, 1.5]},
    ),
]
# parameters of nested schedules, swept through their key paths
NESTED: list[tuple[dict[str, Any], dict[tuple[Any, ...], list[float]]]] = [
    (
        {"name": "linear_warmup", "steps": 6, "inner": {"name": "cosine", "steps": 20}},
        {("inner", "lr"): [0.01, 0.02, 0.03], ("start",): [0.0, 0.2, 0.4]},
    ),
    (
        {"name": "exponential_warmup", "tau": 4, "inner": {"name": "exponential", "k": 0.95}},
        {("inner", "lr"): [0.01, 0.02, 0.03], ("inner", "k"): [0.9, 0.95, 0.99]},
    ),
    (
        {
            "name": "sequence",
            "boundaries": [5],
            "pieces": [
                {"name": "linear_warmup", "steps": 5, "inner": {"name": "constant"}},
                {"name": "polynomial", "steps": 10},
            ],
        },
        {
            ("pieces", 0, "inner", "lr"): [0.01, 0.02, 0.03],
            ("pieces", 1, "lr"): [0.02, 0.01, 0.03],
            ("pieces", 1, "power"): [1.0, 2.0, 0.5],
        },
    ),
]


def runs(schedule: dict[str, Any], swept: dict[str, list[float]], objective: str) -> list[Any]:
    init = [0.5, 1.0] if objective == "himmelblau" else 4.0
    raw = {
        "objective": objective,
        "runs": [
            {
                "name": f"m{i}",
                "init": {"x": init},
                "rule": {"name": "momentum", "mu": 0.5},
                "schedule": {**schedule, **{k: v[i] for k, v in swept.items()}},
                "steps": 25,
            }
            for i in range(3)
        ],
    }
    return list(load_mapping(raw).runs)


@pytest.mark.parametrize("objective", ["quartic", "himmelblau"])
@pytest.mark.parametrize(("schedule", "swept"), SWEPT, ids=[s["name"] for s, _ in SWEPT])
def test_swept_schedule_parameters_step_as_one_ensemble(schedule, swept, objective):
    specs = runs(schedule, swept, objective)
    assert all(why_not(s) is None for s in specs)
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert len(plan(specs, inits)) == 1
    results = run_group(specs, inits)
    assert results is not None  # vectorised, not handed back to the engine
    for got, spec in zip(results, specs, strict=True):
        alone = engine.run(spec)
        assert identical(got, alone), (got.to_dict(), alone.to_dict())
    assert {r.status for r in results} == {"completed"}
    finals = {r.final_params["x"].tobytes() for r in results}
    assert len(finals) == 3  # the swept parameters did matter


def test_a_parameter_the_schedule_branches_on_falls_back_to_single_runs():
    """one_cycle's phase boundaries depend on pct_start: swept, the runs go one by one."""
    specs = runs({"name": "one_cycle", "steps": 16}, {"pct_start": [0.2, 0.3, 0.4]}, "quartic")
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert run_group(specs, inits) is None
    results = run_specs(specs)
    for got, spec in zip(results, specs, strict=True):
        assert identical(got, engine.run(spec))


def _set(table: dict[str, Any], path: tuple[Any, ...], value: float) -> dict[str, Any]:
    """A deep copy of ``table`` with the value at ``path`` replaced."""
    table = copy.deepcopy(table)
    node: Any = table
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return table


@pytest.mark.parametrize(("schedule", "swept"), NESTED, ids=[s["name"] for s, _ in NESTED])
def test_parameters_of_nested_schedules_step_as_one_ensemble(schedule, swept):
    tables = []
    for i in range(3):
        table = schedule
        for path, values in swept.items():
            table = _set(table, path, values[i])
        tables.append(table)
    raw = {
        "objective": "quartic",
        "runs": [
            {"name": f"m{i}", "init": {"x": 4.0}, "schedule": t, "steps": 25}
            for i, t in enumerate(tables)
        ],
    }
    specs = list(load_mapping(raw).runs)
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert len(plan(specs, inits)) == 1
    results = run_group(specs, inits)
    assert results is not None
    for got, spec in zip(results, specs, strict=True):
        assert identical(got, engine.run(spec))
    assert {r.status for r in results} == {"completed"}
    assert len({r.final_params["x"].tobytes() for r in results}) == 3


def test_a_swept_nested_rule_parameter_steps_as_one_ensemble():
    pytest.importorskip("gdsim_optimizers")
    inner = {"name": "adam", "beta1": {"values": [0.5, 0.8, 0.9]}}
    raw = {
        "objective": "himmelblau",
        "runs": [
            {
                "name": "la",
                "init": {"x": [0.5, 1.0]},
                "rule": {"name": "lookahead", "inner": inner},
                "schedule": {"name": "constant", "lr": 0.05},
                "steps": 30,
            }
        ],
    }
    specs = list(load_mapping(raw).runs)
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    results = run_group(specs, inits)
    assert results is not None
    for got, spec in zip(results, specs, strict=True):
        assert identical(got, engine.run(spec))
