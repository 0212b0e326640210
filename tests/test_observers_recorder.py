"""The recorder's trace, its numpy form on results, and the results folder (JSON, CSV, Parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from observer_helpers import registry

import gdsim
from gdsim.cli import main
from gdsim.objectives.polynomial import Quartic
from gdsim.report import read_results, read_trace_csv, trace_to_csv, write_results

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def quartic(steps: int = 20, **recorder: object) -> dict:
    return {
        "scenario": {"name": "q"},
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "gd",
                "init": {"x": 5.0},
                "steps": steps,
                "schedule": {"name": "exponential", "lr": 0.1, "k": 0.9},
                "observers": [{"name": "recorder", **recorder}],
            }
        ],
    }


def test_trace_holds_step_loss_lr_grad_norm_and_params() -> None:
    run = gdsim.run(quartic())["gd"]
    trace = run.trace
    assert list(trace) == ["step", "loss", "lr", "grad_norm", "params.x"]
    assert all(isinstance(v, np.ndarray) for v in trace.values())
    assert list(trace["step"]) == list(range(21))
    x = trace["params.x"]
    f = Quartic()
    # row k: loss and gradient at the parameters step k started from, the rate it used
    for k in range(1, 21):
        loss, grads = f.value_and_grad({"x": x[k - 1]})
        assert trace["loss"][k] == loss
        assert trace["grad_norm"][k] == abs(grads["x"])
        assert trace["lr"][k] == pytest.approx(0.1 * 0.9**k, rel=1e-12)
        assert x[k] == x[k - 1] - trace["lr"][k] * grads["x"]
    assert np.isnan(trace["loss"][0]) and x[0] == 5.0
    assert x[-1] == run.final_params["x"]


@settings(max_examples=15, deadline=None)
@given(every=st.integers(1, 12), steps=st.integers(1, 40))
def test_every_records_multiples_and_the_last_step(every: int, steps: int) -> None:
    trace = gdsim.run(quartic(steps, every=every))["gd"].trace
    expected = [0, *range(every, steps + 1, every)]
    if expected[-1] != steps:
        expected.append(steps)
    assert list(trace["step"]) == expected


def test_large_parameters_are_left_out_and_params_can_be_off() -> None:
    assert "params.x" not in gdsim.run(quartic(params=False))["gd"].trace
    scenario = quartic(max_param_size=1)
    scenario["objective"] = {"name": "rosenbrock"}
    scenario["runs"][0].pop("init")
    assert "params.x" not in gdsim.run(scenario)["gd"].trace  # x has 2 values > 1


def test_metrics_are_recorded() -> None:
    scenario = {
        "objective": {"name": "ramp", "curve": [3.0, 2.0, 1.0]},
        "runs": [
            {
                "name": "r",
                "steps": 4,
                "schedule": {"name": "constant", "lr": 1.0},
                "observers": [{"name": "recorder", "metrics": ["validation.loss", "train.loss"]}],
            }
        ],
    }
    trace = gdsim.run(scenario, registry=registry())["r"].trace
    assert list(trace["validation.loss"]) == [3.0, 2.0, 1.0, 1.0, 1.0]
    assert list(trace["train.loss"]) == [0.0, -1.0, -2.0, -3.0, -4.0]


def test_a_run_without_recorder_says_so() -> None:
    scenario = quartic()
    scenario["runs"][0]["observers"] = []
    with pytest.raises(KeyError, match="no recorded trace"):
        gdsim.run(scenario)["gd"].trace["loss"]
    with pytest.raises(KeyError, match="recorded no 'nope'"):
        gdsim.run(quartic())["gd"].trace["nope"]


def test_csv_round_trips_multi_dimensional_params_exactly() -> None:
    rng = np.random.default_rng(0)
    trace = {
        "step": np.arange(4),
        "loss": np.array([np.nan, 1.0, 1 / 3, 1e-300]),
        "params.w": rng.standard_normal((4, 2, 3)),
    }
    text = trace_to_csv(trace)
    assert text.splitlines()[0].startswith('step,loss,"params.w[0,0]","params.w[0,1]"')
    back = read_trace_csv_text(text)
    assert back["step"].tolist() == [0, 1, 2, 3]
    assert np.array_equal(back["loss"], trace["loss"], equal_nan=True)
    assert np.array_equal(back["params.w"], trace["params.w"])


def read_trace_csv_text(text: str) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(text)
        return read_trace_csv(path)


def test_results_folder(tmp_path: Path) -> None:
    results = gdsim.run(SCENARIOS / "escape_local_min.toml")
    write_results(results, tmp_path, parquet=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["scenario"]["definition"]["objective"] == {"name": "quartic"}
    run = summary["runs"][0]
    assert run["files"] == ["traces/gd_from_5.recorder.csv"]
    back = read_results(tmp_path)["runs"][0]["trace"]
    trace = results["gd_from_5"].trace
    for key in trace:
        assert np.array_equal(back[key], trace[key], equal_nan=True)
    assert not list(tmp_path.rglob("*.tmp"))


def test_parquet_traces(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    results = gdsim.run(quartic())
    write_results(results, tmp_path)
    table = pq.read_table(tmp_path / "traces" / "gd.recorder.parquet")
    assert table.column_names == ["step", "loss", "lr", "grad_norm", "params.x"]
    assert np.array_equal(table.column("params.x").to_numpy(), results["gd"].trace["params.x"])


def test_summary_reports_other_observers(tmp_path: Path) -> None:
    scenario = quartic(steps=500)
    scenario["runs"][0]["observers"].append({"name": "early_stopping", "patience": 3})
    write_results(gdsim.run(scenario), tmp_path)
    run = json.loads((tmp_path / "summary.json").read_text())["runs"][0]
    assert run["status"] == "stopped_early"
    assert set(run["observers"]["early_stopping"]) == {
        "best",
        "best_step",
        "best_epoch",
        "stopped_at",
        "evaluations",
    }


def test_cli_out_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = CliRunner().invoke(
        main, ["run", str(SCENARIOS / "escape_local_min.toml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").stat().st_size > 0
    assert len(list((out / "traces").glob("*.csv"))) == 6


def test_results_trace_reads_one_run_of_a_recorded_sweep() -> None:
    scenario = quartic(steps=10)
    run = scenario["runs"][0]
    run["name"] = "m"
    run["init"] = {"x": {"values": [-5.0, 5.0]}}
    results = gdsim.run(scenario)
    by_name = results.trace("m[x=5]")
    assert by_name["params.x"][0] == 5.0
    assert by_name["params.x"][-1] == results["m[x=5]"].final_params["x"]
    assert results.trace(0)["params.x"][0] == -5.0
    with pytest.raises(KeyError):
        results.trace("m[x=4]")
