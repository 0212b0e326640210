"""A sweep's results as columns under ``--out``: the same values as the per-run results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from gdsim import api
from gdsim.cli import main
from gdsim.scenario import load_mapping
from gdsim.summary import sweep_columns, write_sweep_columns

RAW: dict[str, Any] = {
    "objective": {"name": "quartic"},
    "defaults": {"steps": 30, "allow_divergence": True},
    "runs": [
        {"name": "plain", "init": {"x": 1.0}},
        {
            "name": "m",
            "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}},
            "schedule": {"name": "constant", "lr": {"values": [0.1, 2.5]}},  # 2.5 diverges
            "init": {"x": {"linspace": [-5, 5, 3]}},
            "tolerance": {"grad_norm": 1e-3},
        },
        {
            "name": "r",
            "rule": {"values": ["gd", {"name": "momentum", "mu": 0.5}]},
            "init": {"x": {"values": [-1.0, 2.0]}},
        },
    ],
}


def check(columns: dict[str, np.ndarray], runs: list[Any]) -> None:
    assert columns["present"].all()
    assert columns["status"].tolist() == [r.status for r in runs]
    assert columns["steps"].tolist() == [r.steps for r in runs]
    assert columns["final_step"].tolist() == [r.final_step for r in runs]
    assert columns["diverged_at"].tolist() == [
        -1 if r.diverged_at is None else r.diverged_at for r in runs
    ]
    assert columns["passed"].tolist() == [r.passed for r in runs]
    for k, r in enumerate(runs):
        loss = columns["final_loss"][k]
        assert np.isnan(loss) if r.final_loss is None else loss == r.final_loss
        assert columns["final.x"][k].tobytes() == r.final_params["x"].tobytes()


def test_columns_equal_the_runs_results_bit_for_bit() -> None:
    scenario = load_mapping(RAW)
    results = api.run(scenario)
    swept, named = scenario.sweeps
    runs = [results[name] for name in swept.runs]
    columns = sweep_columns(results, swept)
    check(columns, runs)
    assert "diverged" in columns["status"].tolist()
    assert columns["value.mu"].tolist() == [0.0] * 6 + [0.9] * 6
    assert columns["index.x"].tolist() == [0, 1, 2] * 4
    named_columns = sweep_columns(results, named)
    assert named_columns["text.rule"].tolist() == ["gd", "gd", "momentum", "momentum"]
    check(named_columns, [results[name] for name in named.runs])


@pytest.mark.parametrize("fmt", ["npz", "parquet"])
def test_written_columns_read_back(tmp_path: Path, fmt: str) -> None:
    scenario = load_mapping(RAW)
    results = api.run(scenario)
    sweep = scenario.sweeps[0]
    columns = sweep_columns(results, sweep)
    if fmt == "parquet":
        pq = pytest.importorskip("pyarrow.parquet")
    path = write_sweep_columns(results, sweep, tmp_path, format=fmt)
    assert path == tmp_path / f"sweep_m.{fmt}"
    if fmt == "npz":
        with np.load(path) as back:
            assert sorted(back.files) == sorted(columns)
            for key, column in columns.items():
                assert back[key].tobytes() == column.tobytes(), key
    else:
        table = pq.read_table(path).to_pydict()
        assert sorted(table) == sorted(columns)  # x is a number: final.x is one column
        for key, column in columns.items():
            assert np.asarray(table[key]).tobytes() == column.tobytes(), key
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_run_out_writes_the_sweeps_columns(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[objective]\nname = "quartic"\n[[runs]]\nname = "m"\nsteps = 10\n'
        'rule = { name = "momentum", mu = { values = [0.0, 0.5] } }\n'
        "init.x = { linspace = [-2, 2, 3] }\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    written = [p.name for p in out.iterdir() if p.name.startswith("sweep_m.")]
    assert written in (["sweep_m.parquet"], ["sweep_m.npz"])
