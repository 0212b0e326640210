"""Plots: each command writes the expected non-empty files, headless, in PNG or SVG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gdsim
from gdsim.cli import main

pytest.importorskip("matplotlib")

SCENARIOS = Path(__file__).parent.parent / "scenarios"
ROSENBROCK = """
[scenario]
name = "valley"
[objective]
name = "rosenbrock"
[defaults]
steps = 60
schedule = { name = "constant", lr = 0.001 }
observers = [{ name = "recorder" }]
[[runs]]
name = "gd"
[[runs]]
name = "momentum"
rule = { name = "momentum", mu = 0.9 }
"""


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def is_svg(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:400]
    return head.startswith("<?xml") and "<svg" in head


def test_run_plot_writes_the_landscape_and_curves(tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = CliRunner().invoke(
        main, ["run", str(SCENARIOS / "escape_local_min.toml"), "--out", str(out), "--plot"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["curves.png", "landscape.png"]
    assert all(is_png(p) for p in (out / "plots").iterdir())
    assert "plot written to" in result.output


def test_run_plot_without_out_uses_a_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["run", str(SCENARIOS / "escape_local_min.toml"), "--plot", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert is_png(tmp_path / "results" / "escape_local_min" / "plots" / "landscape.png")


def test_plot_command_on_a_2d_objective_in_svg(tmp_path: Path) -> None:
    scenario = tmp_path / "valley.toml"
    scenario.write_text(ROSENBROCK)
    out = tmp_path / "res"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(scenario), "--out", str(out), "-q"]).exit_code == 0
    result = runner.invoke(main, ["plot", str(out), "--format", "svg"])
    assert result.exit_code == 0, result.output
    files = sorted((out / "plots").iterdir())
    assert [p.name for p in files] == ["contours.svg", "curves.svg"]
    assert all(is_svg(p) for p in files)
    text = (out / "plots" / "contours.svg").read_text()
    assert "momentum" in text and "x[0]" in text  # legend and axis labels are there


def test_plot_command_errors_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a results folder" in result.output
    (tmp_path / "summary.json").write_text("{broken")
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read the summary" in result.output


def test_python_api_figures_and_files(tmp_path: Path) -> None:
    results = gdsim.run(SCENARIOS / "escape_local_min.toml")
    figures = results.plot()
    assert set(figures) == {"landscape", "curves"}
    landscape = figures["landscape"]
    titles = [ax.get_title() for ax in landscape.axes if ax.get_visible()]
    assert "momentum_0.9_from_-5 (completed)" in titles
    assert landscape.axes[0].get_ylabel() == "quartic(x)"
    curves = figures["curves"]
    assert [ax.get_ylabel() for ax in curves.axes][:2] == ["loss", "gradient norm ‖∇f‖"]
    for ax in curves.axes:  # log exactly where the drawn values span decades
        values = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        values = values[np.isfinite(values) & (values > 0)]
        decades = np.log10(values.max() / values.min())
        assert (ax.get_yscale() == "log") == (decades > 1.5), (ax.get_ylabel(), decades)
    one = results["gd_from_5"].plot(tmp_path / "one", format="svg")
    assert set(one) == {"landscape", "curves"}
    assert is_svg(tmp_path / "one" / "landscape.svg")


def test_plots_need_no_display(tmp_path: Path) -> None:
    """In a clean process without DISPLAY, plotting never loads pyplot or a GUI backend."""
    code = (
        "import sys, gdsim\n"
        f"gdsim.run({str(SCENARIOS / 'escape_local_min.toml')!r}).plot({str(tmp_path)!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert is_png(tmp_path / "landscape.png")


def test_summary_without_definition_still_plots_curves(tmp_path: Path) -> None:
    out = tmp_path / "res"
    CliRunner().invoke(main, ["run", str(SCENARIOS / "escape_local_min.toml"), "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    summary["scenario"]["definition"] = None
    (out / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(main, ["plot", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "plots").iterdir()] == ["curves.png"]
