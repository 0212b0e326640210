"""The second pass over issue 11's figures: a basin map drawn once and without pyplot, readable
mini-batch loss curves, and runs with different objectives kept apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import gdsim
from gdsim.cli import main

pytest.importorskip("matplotlib")

ROOT = Path(__file__).parent.parent


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BASIN_TOML = """
[scenario]
name = "bm"
[objective]
name = "quartic"
[[runs]]
name = "m"
steps = 200
rule = { name = "momentum", mu = { values = [0.0, 0.5, 0.95] } }
init.x = { linspace = [-5, 5, 11] }
"""


# -- the basin map: drawn once, without pyplot -----------------------------------------------


def test_plot_draws_the_basin_map_once_and_out_alone_still_draws_it(tmp_path: Path) -> None:
    scenario = write_toml(tmp_path / "bm.toml", BASIN_TOML)
    plotted, plain = tmp_path / "plotted", tmp_path / "plain"
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(plotted), "--plot"])
    assert result.exit_code == 0, result.output
    assert (plotted / "plots" / "basins.png").stat().st_size > 10_000
    assert not list(plotted.glob("basin_*.png"))  # not a second picture of the same map
    assert (plotted / "sweeps.json").exists()
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(plain)])
    assert result.exit_code == 0, result.output
    assert (plain / "basin_m.png").stat().st_size > 10_000  # --out alone: the documented map
    assert not (plain / "plots").exists()


def test_plot_and_out_never_import_pyplot(tmp_path: Path) -> None:
    scenario = write_toml(tmp_path / "bm.toml", BASIN_TOML)
    out = str(tmp_path / "o")
    code = (
        "import sys\n"
        "from gdsim.cli import main\n"
        "for extra in ([], ['--plot']):\n"
        "    try:\n"
        f"        main(['run', {str(scenario)!r}, '-q', '--out', {out!r}, *extra])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]  # matplotlib drew, pyplot never loaded
    assert (tmp_path / "o" / "plots" / "basins.png").exists()


def test_every_basin_sweep_of_a_scenario_gets_a_block() -> None:
    base = {"steps": 100, "observers": [], "init": {"x": {"linspace": [-5, 5, 7]}}}
    scenario: dict[str, Any] = {
        "scenario": {"name": "two"},
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "m", "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}}, **base},
            {"name": "lr", "schedule": {"name": "constant", "lr": {"values": [0.01, 0.1]}}, **base},
        ],
    }
    figure = gdsim.run(scenario).plot()["basins"]
    titles = [sub.get_suptitle() for sub in figure.subfigs]
    assert titles == [
        "two: basins of attraction: m, 14 runs",
        "two: basins of attraction: lr, 14 runs",
    ]
    meshes = [c for ax in figure.axes for c in ax.collections]
    assert len(meshes) == 2
