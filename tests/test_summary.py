"""Sweep summaries and basin maps: classification, success rates, the CLI's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gdsim import api
from gdsim.basin import basin_grid, format_basin_map
from gdsim.cli import main
from gdsim.summary import summarise

ROOT = Path(__file__).parent.parent


def escape_sweep(steps: int = 400) -> dict[str, Any]:
    """GD and momentum 0.9 from -5 and 5: the lecture's escape table in miniature."""
    return {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "m",
                "steps": steps,
                "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}},
                "init": {"x": {"values": [-5.0, 5.0]}},
                "allow_divergence": True,
            },
            {
                "name": "wild",
                "schedule": {"name": "constant", "lr": 5.0},
                "init": {"x": {"values": [-5.0, 0.0]}},
                "allow_divergence": True,
            },
        ],
    }


def test_success_rate_per_mu_answers_the_escape_question() -> None:
    results = api.run(escape_sweep())
    first, wild = summarise(results)
    mu_axis = next(a for a in first["axes"] if a["label"] == "mu")
    rates = {row["text"]: row["success_rate"] for row in mu_axis["rows"]}
    # GD from -5 stays in the local minimum; momentum 0.9 from -5 escapes (the lecture)
    assert rates == {"0": 0.5, "0.9": 1.0}
    assert first["overall"]["success_rate"] == 0.75
    assert wild["overall"]["diverged_rate"] == 1.0
    assert wild["overall"]["success_rate"] == 0.0
    json.dumps(first, allow_nan=False)


def test_basin_grid_marks_each_cell_with_the_minimum_reached() -> None:
    results = api.run(escape_sweep())
    first, wild = results.scenario.sweeps
    grid = basin_grid(results, first)
    assert grid is not None
    kinds = [m["kind"] for m in grid.minima]
    local, glob = kinds.index("local"), kinds.index("global")
    assert grid.codes.tolist() == [[local, glob], [glob, glob]]  # rows mu, columns x
    text = format_basin_map(grid)
    assert "mu=0.9 |##|" in text and "mu=0 |a#|" in text
    assert basin_grid(results, wild) is None  # one axis: no map
    summary = summarise(results)[1]
    assert summary["overall"]["reached"] == {label: 0 for label in summary["overall"]["reached"]}


def test_cli_prints_the_summary_and_json_carries_it(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "basin_map.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "per mu, over all starting points (x):" in result.output
    assert "basin map of momentum" in result.output
    assert len(result.output.splitlines()) < 120  # thousands of runs, summarised
    assert (tmp_path / "sweeps.json").exists()
    result = runner.invoke(main, ["run", str(path), "--json"])
    data = json.loads(result.output)
    (sweep,) = data["sweeps"]
    assert sweep["overall"]["runs"] == len(data["runs"]) > 1000
