"""The lecture's printed values (DESIGN.md's seed table) reproduced through the engine."""

from __future__ import annotations

import pytest

import gdsim
from tests.conftest import SCENARIOS, quartic_run

# (rule, schedule, x0, lecture's final x after 100 steps with alpha = 0.1)
SEED_TABLE = [
    ("gd", {"name": "constant", "lr": 0.1}, 5.0, 3.2727653395584366),
    ("gd", {"name": "constant", "lr": 0.1}, -5.0, -3.254993730859254),
    ({"name": "momentum", "mu": 0.9}, {"name": "constant", "lr": 0.1}, -5.0, 3.267681061691328),
    ({"name": "momentum", "mu": 0.1}, {"name": "constant", "lr": 0.1}, 5.0, 3.272765339558436),
    ("gd", {"name": "exponential", "lr": 0.1, "k": 0.99}, 5.0, 3.272765339568853),
    ("gd", {"name": "exponential", "lr": 0.1, "k": 0.99}, -5.0, -3.254993731279408),
    ("gd", {"name": "grad_control", "lr": 0.1, "c": 0.99}, 5.0, 4.669981058141692),
    ("gd", {"name": "grad_control", "lr": 0.1, "c": 0.99}, -5.0, -4.682201319000516),
]


@pytest.mark.parametrize(("rule", "schedule", "x0", "expected"), SEED_TABLE)
def test_seed_table(rule, schedule, x0, expected):
    result = gdsim.run(quartic_run(rule=rule, schedule=schedule, init={"x": x0}))[0]
    assert result.status == "completed"
    assert result.steps == 100
    # the lecture's loop, replayed with the same float64 operations: equal to the last bit
    assert float(result.final_params["x"]) == expected


def test_escape_scenario_meets_its_expectations():
    results = gdsim.run(SCENARIOS / "escape_local_min.toml")
    assert results.passed
    by_name = {r.name: float(r.final_params["x"]) for r in results}
    # momentum 0.9 escapes the local minimum, Nesterov 0.9 and GD stay in it
    assert by_name["momentum_0.9_from_-5"] > 3
    assert by_name["nesterov_0.9_from_-5"] == pytest.approx(-3.25, abs=0.01)
    assert by_name["gd_from_-5"] == pytest.approx(-3.25, abs=0.01)


def test_quartic_minima_are_the_lecture_basins():
    objective = gdsim.load(quartic_run()).runs[0].objective
    minima = {m["kind"]: m["params"]["x"] for m in objective.minima()}
    assert minima["global"] == pytest.approx(3.2727653395584366, rel=1e-9)
    assert minima["local"] == pytest.approx(-3.254993730859254, rel=1e-9)
