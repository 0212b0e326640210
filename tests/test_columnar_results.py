"""Sweeps stepped from their columns, with results kept as columns: the same runs, bit for bit,
as the runs stepped alone; the lazy results read like eager ones; big sweeps summarise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdsim
from gdsim import engine
from gdsim import results as results_module
from gdsim.cli import main
from gdsim.columnar import run_sweep
from gdsim.ensemble import identical
from gdsim.executors import execute
from gdsim.report import outcome_line
from gdsim.results import Results, RunList
from gdsim.scenario import load_mapping
from gdsim.summary import summarise, sweep_columns

SWEPT: dict[str, Any] = {
    # key path: values to draw from (all valid)
    "rule.mu": [0.0, 0.5, 0.9, 0.99],
    "schedule.lr": [0.01, 0.1, 0.3, 2.5],
    "init.x": [-5.0, -1.5, 0.5, 3, 5.0],
    "steps": [1, 7, 30],
    "max_loss": [1e3, 1e100],
    "tolerance.grad_norm": [1e-3, 1e-1],
    "tolerance.step_size": [1e-6, 1e-2],
    "allow_divergence": [True, False],
}


def put(table: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        table = table.setdefault(key, {})
    table[keys[-1]] = value


@st.composite
def sweeps(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario with one swept entry (two or three axes) and a plain run after it."""
    paths = draw(st.lists(st.sampled_from(sorted(SWEPT)), min_size=2, max_size=3, unique=True))
    run: dict[str, Any] = {
        "name": "s",
        "rule": {"name": "momentum", "mu": 0.9},
        "schedule": {"name": "constant", "lr": 0.1},
        "steps": 20,
        "allow_divergence": draw(st.booleans()),
    }
    for path in paths:
        pool = SWEPT[path]
        picks = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=3, unique=True))
        put(run, path, {"values": picks})
    return {"objective": {"name": "quartic"}, "runs": [run, {"name": "plain", "steps": 5}]}


def alone(scenario: Any) -> list[Any]:
    return [engine.run(spec) for spec in scenario.runs]


@given(sweeps())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_columnar_sweep_equals_the_runs_stepped_alone(raw: dict[str, Any]) -> None:
    scenario = load_mapping(raw)
    got = gdsim.run(scenario)
    assert isinstance(got.runs, RunList) and got.runs.columnar  # the fast path was taken
    expected = alone(scenario)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert identical(a, b), (a.to_dict(), b.to_dict())
        assert a.expectations == b.expectations
        assert a.seed == b.seed and a.spec == b.spec
        assert identical(got[b.name], b)  # found by name (read back into its point)
    eager = Results(scenario=scenario, runs=expected)
    assert got.passed == eager.passed
    assert got.passed_count() == sum(r.passed for r in expected)
    assert got.status_counts() == eager.status_counts()
    assert got.expectation_counts() == eager.expectation_counts()
    assert outcome_line(got) == outcome_line(eager)
    assert got.to_dict() == eager.to_dict()
    assert summarise(got) == summarise(eager)
    sweep = scenario.sweeps[0]
    lazy_columns, eager_columns = sweep_columns(got, sweep), sweep_columns(eager, sweep)
    assert lazy_columns.keys() == eager_columns.keys()
    for key, column in lazy_columns.items():
        assert column.dtype == eager_columns[key].dtype, key
        assert column.tobytes() == eager_columns[key].tobytes(), key


def test_runs_are_read_by_position_name_and_iteration() -> None:
    scenario = load_mapping(
        {
            "objective": {"name": "quartic"},
            "runs": [
                {"name": "first", "steps": 3},
                {
                    "name": "m",
                    "steps": 10,
                    "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}},
                    "init": {"x": {"values": [-2.0, 2.0]}},
                },
            ],
        }
    )
    got = gdsim.run(scenario)
    names = [spec.name for spec in scenario.runs]
    assert [r.name for r in got] == names
    assert [got[k].name for k in range(len(got))] == names
    assert got[-1].name == names[-1]
    assert [r.name for r in got.runs[1:3]] == names[1:3]
    for name in names:
        assert got[name].name == name
    with pytest.raises(KeyError):
        got["m[mu=0.5,x=-2]"]


def test_a_sweep_the_columns_cannot_take_goes_the_usual_way() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [{"name": "s", "steps": 5, "seed": {"values": [0, 1]}}],  # a seed axis
    }
    scenario = load_mapping(raw)
    assert run_sweep(scenario.runs.items[0]) is None
    got = gdsim.run(scenario)
    for a, b in zip(got, alone(scenario), strict=True):
        assert identical(a, b)
    there = Results(scenario, execute(scenario.runs, executor="process", workers=2))
    assert isinstance(there.runs, RunList) and there.runs.columnar  # the workers' columns
    for b in alone(scenario):
        assert identical(there[b.name], b)
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(there.to_pandas(), Results(scenario, list(there)).to_pandas())


def big_divergent_sweep(allow: bool) -> dict[str, Any]:
    return {
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "plain", "steps": 5},
            {
                "name": "m",
                "steps": 30,
                "allow_divergence": allow,
                "schedule": {"name": "constant", "lr": {"values": [0.05, 3.0]}},
                "init": {"x": {"linspace": [-5, 5, 30]}},
            },
        ],
    }


def test_big_sweep_json_lists_failing_runs_with_aggregates(monkeypatch: Any) -> None:
    monkeypatch.setattr(results_module, "JSON_RUN_LIMIT", 20)
    monkeypatch.setattr(results_module, "JSON_FAILING", 4)
    scenario = load_mapping(big_divergent_sweep(allow=False))
    got = gdsim.run(scenario)
    eager = alone(scenario)
    data = got.to_dict()
    failing = [r for r in eager if not r.passed]
    assert len(failing) > 4  # the lr 3.0 runs diverge where not allowed
    assert [r["name"] for r in data["runs"]] == ["plain"] + [r.name for r in failing[:4]]
    assert data["runs"][1:] == [r.to_dict() for r in failing[:4]]
    counts: dict[str, int] = {}
    for r in eager:
        counts[r.status] = counts.get(r.status, 0) + 1
    aggregate = data["aggregate"]
    assert aggregate["runs"] == len(eager) and aggregate["listed"] == 5
    assert aggregate["passed"] == sum(r.passed for r in eager)
    assert aggregate["statuses"] == counts
    assert data["passed"] is False
    json.dumps(data, allow_nan=False)
    small = Results(scenario=scenario, runs=eager[:20])  # at the limit: every run, as before
    assert "aggregate" not in small.to_dict() and len(small.to_dict()["runs"]) == 20


@pytest.mark.parametrize("allow", [False, True])
def test_exit_code_of_a_big_sweep_follows_its_divergences(
    tmp_path: Path, allow: bool, monkeypatch: Any
) -> None:
    monkeypatch.setattr(results_module, "JSON_RUN_LIMIT", 20)  # 60 runs: a big sweep
    path = tmp_path / "big.toml"
    lines = [
        '[objective]\nname = "quartic"\n',
        '[[runs]]\nname = "m"\nsteps = 30',
        f"allow_divergence = {str(allow).lower()}",
        'schedule = { name = "constant", lr = { values = [0.05, 3.0] } }',
        "init.x = { linspace = [-5, 5, 30] }",
    ]
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == (0 if allow else 1), result.output
    assert "swept runs" in result.output and "per lr" in result.output
    if not allow:
        assert "showing 10 failing swept runs" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["passed"] is allow
    assert summary["aggregate"]["runs"] == 60
    failed = 60 - summary["aggregate"]["passed"]
    assert (failed == 0) is allow
    assert len(summary["runs"]) == min(failed, 100)  # the failing swept runs, listed
    assert all(not r["passed"] for r in summary["runs"])
    columns = (tmp_path / "out").glob("sweep_m.*")
    assert len(list(columns)) == 1


def test_executors_keep_the_chunks_as_columns() -> None:
    scenario = load_mapping(big_divergent_sweep(allow=True))
    here = execute(scenario.runs)
    there = execute(scenario.runs, executor="process", workers=2)
    assert isinstance(there, RunList) and there.columnar
    assert len(there) == len(here)
    for a, b in zip(there, here, strict=True):
        assert identical(a, b)
    a, b = Results(scenario, there), Results(scenario, here)
    assert a.to_dict() == b.to_dict() and summarise(a) == summarise(b)
    columns = [there.columns(lo, hi) for lo, hi in a._spans()]
    assert all(c is not None for c in columns[1:])  # the sweep's chunks: columns
    assert np.array_equal(a._passed(0, len(a)), b._passed(0, len(b)))


def test_the_basin_map_of_columns_is_the_one_of_run_objects() -> None:
    pytest.importorskip("matplotlib")
    import io

    from gdsim import plotting

    scenario = load_mapping(
        {
            "objective": {"name": "quartic"},
            "runs": [
                {
                    "name": "b",
                    "steps": 60,
                    "allow_divergence": True,
                    "rule": {"name": "momentum", "mu": {"values": [0.0, 0.6, 0.95]}},
                    "init": {"x": {"linspace": [-5, 5, 21]}},
                }
            ],
        }
    )
    lazy = gdsim.run(scenario)
    eager = Results(scenario=scenario, runs=list(lazy.runs))

    def png(results: Results) -> bytes:
        figure = plotting.plot_results(results)["basins"]
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()

    assert png(lazy) == png(eager)


def test_plot_of_an_aggregated_folder_reads_the_sweep_columns(
    tmp_path: Path, monkeypatch: Any
) -> None:
    pytest.importorskip("matplotlib")
    from gdsim import plotting

    monkeypatch.setattr(results_module, "JSON_RUN_LIMIT", 10)
    raw = big_divergent_sweep(allow=True)
    raw["runs"][1]["rule"] = {"name": "momentum", "mu": {"values": [0.0, 0.9]}}
    raw["runs"][1]["schedule"] = {"name": "constant", "lr": 0.1}  # two axes: mu × x
    scenario = load_mapping(raw)
    results = gdsim.run(scenario)
    out = tmp_path / "out"
    from gdsim.report import write_results
    from gdsim.summary import write_sweep_outputs

    write_results(results, out)
    write_sweep_outputs(results, out, maps=False)
    summary = json.loads((out / "summary.json").read_text())
    assert "aggregate" in summary and len(summary["runs"]) == 1  # the plain run only
    ctx = plotting.context_from_folder(out)
    (index,) = ctx.basins
    matched, _ = ctx.basins[index]
    assert np.array_equal(matched.classes, sweep_columns(results, scenario.sweeps[0])["minimum"])
    assert "basins" in plotting.plot_folder(out, out=tmp_path / "plots")[0].name


def test_traces_of_columns_are_those_of_the_runs() -> None:
    pd = pytest.importorskip("pandas")
    raw = big_divergent_sweep(allow=True)
    raw["runs"].append(
        {
            "name": "traced",
            "steps": 5,
            "init": {"x": {"values": [-5.0, 5.0]}},
            "observers": [{"name": "recorder"}],
        }
    )
    scenario = load_mapping(raw)
    there = execute(scenario.runs, executor="process", workers=2)
    assert isinstance(there, RunList) and all(not isinstance(b, list) for b in there.blocks)
    lazy, eager = Results(scenario, there), Results(scenario, list(there))
    frame = lazy.traces_to_pandas()
    assert sorted(set(frame["run"])) == ["traced[x=-5]", "traced[x=5]"]
    pd.testing.assert_frame_equal(frame, eager.traces_to_pandas())


@pytest.mark.parametrize("executor", ["vectorised", "process"])
def test_summary_frame_of_columns_is_the_one_of_run_objects(executor: str) -> None:
    pd = pytest.importorskip("pandas")
    raw = big_divergent_sweep(allow=False)
    raw["runs"].append(
        {
            "name": "traced",
            "steps": 5,
            "init": {"x": {"values": [-5.0, 5.0]}},
            "observers": [{"name": "recorder"}],
            "expect": {"loss_below": 1.0},
        }
    )
    scenario = load_mapping(raw)
    got = gdsim.run(scenario, executor=executor, workers=2)
    assert isinstance(got.runs, RunList) and got.runs.columnar
    eager = Results(scenario, list(got.runs))
    pd.testing.assert_frame_equal(got.to_pandas(), eager.to_pandas())
