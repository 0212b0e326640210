"""Early stopping on a constructed validation curve: the step it stops at and what it restores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from observer_helpers import registry

import gdsim
from gdsim.cli import main
from gdsim.errors import ScenarioError


def ramp_scenario(curve: list[float], steps: int = 30, **early: object) -> dict:
    return {
        "objective": {"name": "ramp", "curve": curve},
        "runs": [
            {
                "name": "ramp",
                "steps": steps,
                "schedule": {"name": "constant", "lr": 1.0},
                "observers": [{"name": "recorder"}, {"name": "early_stopping", **early}],
            }
        ],
    }


REG = registry()


def test_stops_after_patience_and_restores_the_best_step() -> None:
    # validation loss by step: best (5.0) at step 3, then worse for three evaluations
    curve = [10.0, 8.0, 6.0, 5.0, 5.5, 6.0, 7.0, 8.0, 9.0, 10.0]
    result = gdsim.run(ramp_scenario(curve, monitor="validation.loss", patience=3), registry=REG)[
        "ramp"
    ]
    assert result.status == "stopped_early"
    assert result.steps == 6  # steps 4, 5, 6 did not improve
    assert result.final_step == 3
    assert result.final_params["x"] == -3.0  # the parameters of step 3
    assert result.final_loss == -3.0  # f(x) = x at the restored parameters
    assert "best 5.0 at step 3" in result.stop_reason
    assert result.outputs["early_stopping"] == {
        "best": 5.0,
        "best_step": 3,
        "best_epoch": 3,
        "stopped_at": 6,
        "evaluations": 7,
    }
    assert list(result.trace["step"]) == [0, 1, 2, 3, 4, 5, 6]  # the run really ended at 6


def test_min_delta_ignores_small_improvements() -> None:
    # after step 2 the curve improves by 0.05 per step only: less than min_delta = 0.1
    curve = [10.0, 9.0, 8.0, 7.95, 7.9, 7.85, 7.8, 7.75]
    result = gdsim.run(
        ramp_scenario(curve, monitor="validation.loss", patience=2, min_delta=0.1), registry=REG
    )["ramp"]
    assert (result.status, result.steps, result.final_step) == ("stopped_early", 4, 2)


def test_max_mode_and_every() -> None:
    # accuracy = -curve; evaluated at steps 0, 2, 4, ...: best at step 4
    curve = [9.0, 8.0, 7.0, 6.0, 5.0, 1.0, 6.0, 0.0, 7.0, 8.0, 9.0, 9.0]
    result = gdsim.run(
        ramp_scenario(curve, monitor="validation.accuracy", mode="max", patience=2, every=2),
        registry=REG,
    )["ramp"]
    assert (result.status, result.steps, result.final_step) == ("stopped_early", 8, 4)


def test_epoch_unit_evaluates_at_epoch_ends() -> None:
    # epochs end every 3 steps: evaluations at steps 0, 3, 6, 9, 12, 15; best at step 6
    curve = [9.0, 0.0, 0.0, 8.0, 0.0, 0.0, 7.0, 0.0, 0.0, 7.5, 0.0, 0.0, 8.0, 0.0, 0.0, 9.0]
    scenario = ramp_scenario(curve, monitor="validation.loss", patience=2, unit="epoch")
    scenario["runs"][0]["estimator"] = {"name": "chunks", "size": 3}
    result = gdsim.run(scenario, registry=REG)["ramp"]
    assert (result.status, result.steps, result.final_step) == ("stopped_early", 12, 6)
    assert result.epochs == 4
    assert result.outputs["early_stopping"]["best_epoch"] == 2


def test_no_stop_when_the_metric_keeps_improving() -> None:
    curve = list(np.linspace(10.0, 0.0, 31))
    result = gdsim.run(ramp_scenario(curve, monitor="validation.loss", patience=2), registry=REG)[
        "ramp"
    ]
    assert result.status == "completed"
    assert result.steps == 30
    assert result.final_params["x"] == -30.0


def test_auto_monitor_uses_the_train_loss_of_analytic_objectives() -> None:
    scenario = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "gd",
                "init": {"x": 5.0},
                "steps": 10_000,
                "schedule": {"name": "constant", "lr": 0.1},
                "observers": [{"name": "early_stopping", "patience": 5, "min_delta": 1e-12}],
            }
        ],
    }
    result = gdsim.run(scenario)["gd"]
    assert result.status == "stopped_early"
    assert result.steps < 200
    assert abs(float(result.final_params["x"]) - 3.2727653395584366) < 1e-6


def test_missing_split_is_a_clear_error() -> None:
    scenario = {
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "gd", "observers": [{"name": "early_stopping", "monitor": "validation.loss"}]}
        ],
    }
    # caught when the scenario is loaded (gdsim validate), at the key that names the split
    with pytest.raises(
        ScenarioError,
        match=r"runs\[0\]\.observers\[0\]\.monitor: .*"
        r"offers no 'validation.loss' \(its metrics are train: loss\)",
    ):
        gdsim.load(scenario)


def test_malformed_monitor_is_a_scenario_error() -> None:
    scenario = {
        "objective": {"name": "quartic"},
        "runs": [{"name": "gd", "observers": [{"name": "early_stopping", "monitor": "loss"}]}],
    }
    with pytest.raises(ScenarioError, match=r"runs\[0\]\.observers\[0\]\.monitor"):
        gdsim.load(scenario)


def test_cli_missing_split_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[objective]\nname = "quartic"\n[[runs]]\nname = "gd"\n'
        'observers = [{ name = "early_stopping", monitor = "validation.loss" }]\n'
    )
    for command in ("run", "validate"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert result.exit_code == 2
        assert "runs[0].observers[0].monitor" in result.output
        assert "offers no 'validation.loss'" in result.output
