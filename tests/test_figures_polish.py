"""The second pass over issue 11's figures: a basin map drawn once and without pyplot, readable
mini-batch loss curves, and runs with different objectives kept apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
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


# -- mini-batch comparisons: evaluated losses first, the batch loss as a running mean --------


def minibatch(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """GD on mini-batches of the moons, the recorder reading the validation loss."""
    return {
        "scenario": {"name": "mb"},
        "objective": {
            "name": "mlp",
            "hidden": [4],
            "activation": "tanh",
            "loss": "bce",
            "data": {"name": "moons", "n": 120, "noise": 0.2, "seed": 1, "split": [0.75, 0.25, 0]},
        },
        "defaults": {
            "steps": 60,
            "estimator": {"name": "minibatch", "batch_size": 8},
            "observers": [
                {"name": "recorder", "every": 2, "params": False, "metrics": ["validation.loss"]}
            ],
        },
        "runs": runs,
    }


SCHEDULES = [
    {"name": f"lr_{k}", "schedule": {"name": "exponential", "lr": 0.5 + 0.25 * k, "k": 0.99}}
    for k in range(8)
]


def lines_of(ax: Any) -> list[Any]:
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def test_running_mean_keeps_the_trend_and_removes_the_noise() -> None:
    from gdsim.plotting.curves import running_mean

    assert running_mean(np.full(50, 3.0)).tolist() == [3.0] * 50
    ramp = np.arange(40.0)
    assert np.allclose(running_mean(ramp), ramp)  # a centred mean does not lag a trend
    noisy = np.arange(100.0) / 100 + np.tile([0.5, -0.5], 50)
    smooth = running_mean(noisy)
    assert np.isclose(smooth[0], noisy[0]) and np.isclose(smooth[-1], noisy[-1])  # own mean
    assert np.abs(np.diff(smooth[10:-10])).max() < 0.15 < 0.9 < np.abs(np.diff(noisy)).min()


def test_many_minibatch_runs_get_a_loss_panel_each_and_keep_the_rate_panel() -> None:
    from gdsim.plotting.curves import BATCH_ALPHA, OTHERS, RAW_ALPHA, running_mean

    results = gdsim.run(minibatch(SCHEDULES))
    figure = results.plot()["curves"]
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 8
    (rate,) = [ax for ax in figure.axes if ax.get_ylabel() == "learning rate"]
    assert len(lines_of(rate)) == 8  # every run's rate, overlaid, one colour each
    assert len({str(line.get_color()) for line in lines_of(rate)}) == 8
    for ax, run in zip(panels, results.runs, strict=True):
        assert ax.get_title().startswith(run.name)
        last = np.asarray(run.trace["validation.loss"], dtype=float)[-1]
        assert ax.get_title().endswith(f"end: validation loss {last:.3g}")  # what is compared
        own = [line for line in lines_of(ax) if line.get_color() != OTHERS]
        behind = [line for line in lines_of(ax) if line.get_color() == OTHERS]
        assert len(behind) == 7  # the other runs' validation losses, in grey
        validation = [line for line in own if line.get_linestyle() == "--"]
        mean = [line for line in own if line.get_alpha() == BATCH_ALPHA]
        raw = [line for line in own if line.get_alpha() == RAW_ALPHA]
        assert len(validation) == len(mean) == len(raw) == 1
        assert validation[0].get_alpha() is None  # the evaluated loss is the strong line
        batch = np.asarray(run.trace["loss"], dtype=float)
        batch = batch[np.isfinite(batch)]
        assert np.allclose(raw[0].get_ydata(), batch)
        assert np.allclose(mean[0].get_ydata(), running_mean(batch))
        assert not np.allclose(mean[0].get_ydata(), batch)  # the noise is gone
        # the run's colour links its panel to its rate line
        assert any(line.get_color() == own[0].get_color() for line in lines_of(rate))


def test_a_few_minibatch_runs_stay_overlaid_with_the_batch_loss_smoothed() -> None:
    from gdsim.plotting.curves import BATCH_ALPHA, running_mean

    results = gdsim.run(minibatch(SCHEDULES[:3]))
    figure = results.plot()["curves"]
    loss = figure.axes[0]
    assert loss.get_ylabel() == "loss"
    assert len([line for line in lines_of(loss) if line.get_linestyle() == "--"]) == 3
    means = [line for line in lines_of(loss) if line.get_alpha() == BATCH_ALPHA]
    assert len(means) == 3  # no raw batch line: three noisy lines would tangle again
    assert len(lines_of(loss)) == 6
    batch = np.asarray(results.runs[0].trace["loss"], dtype=float)
    assert np.allclose(means[0].get_ydata(), running_mean(batch[np.isfinite(batch)]))


# -- runs on different objectives ------------------------------------------------------------

MOONS = {"name": "moons", "n": 120, "noise": 0.1, "seed": 1, "split": [0.75, 0.25, 0.0]}
SINE = {
    "name": "regression1d",
    "function": "sin",
    "n": 60,
    "low": -3.0,
    "high": 3.0,
    "seed": 2,
    "split": [0.75, 0.25, 0.0],
}


def test_losses_of_different_objectives_never_share_a_panel() -> None:
    regression = {"name": "mlp", "hidden": [6], "activation": "tanh", "loss": "mse", "data": SINE}
    scenario = {
        "scenario": {"name": "mixed"},
        "objective": {"name": "mlp", "hidden": [6], "activation": "tanh", "data": MOONS},
        "defaults": {
            "steps": 40,
            "rule": "adam",
            "schedule": {"name": "constant", "lr": 0.05},
            "observers": [{"name": "diagnostics", "every": 5, "splits": ["train", "validation"]}],
        },
        "runs": [
            {"name": "fit_a", "objective": regression},
            {"name": "classify_a"},
            {"name": "fit_b", "objective": regression, "rule": "gd"},
            {"name": "classify_b", "rule": "gd"},
        ],
    }
    figure = gdsim.run(scenario).plot()["curves"]
    assert len(figure.subfigs) == 2
    groups = {}
    for sub in figure.subfigs:
        legends = [ax.get_legend() for ax in sub.axes if ax.get_legend() is not None]
        names = {t.get_text() for legend in legends for t in legend.get_texts()}
        groups[sub.get_suptitle().split(":")[0]] = names & {
            "fit_a",
            "fit_b",
            "classify_a",
            "classify_b",
        }
        (loss,) = [ax for ax in sub.axes if ax.get_ylabel() == "loss"]
        assert len(lines_of(loss)) == 4  # two runs × (train, validation): no other run here
    assert groups == {
        "mlp (mse loss)": {"fit_a", "fit_b"},
        "mlp (bce loss)": {"classify_a", "classify_b"},
    }


def test_one_objective_draws_one_block() -> None:
    figure = gdsim.run(minibatch(SCHEDULES[:2])).plot()["curves"]
    assert not figure.subfigs
    assert "objectives" not in figure.get_suptitle()


def test_paths_are_drawn_only_over_their_own_objective() -> None:
    scenario = {
        "scenario": {"name": "mix"},
        "objective": {"name": "quartic"},
        "defaults": {"observers": ["recorder"], "steps": 30, "init": {"x": -4.0}},
        "runs": [
            {"name": "gd"},
            {"name": "momentum", "rule": {"name": "momentum", "mu": 0.9}},
            {"name": "other", "objective": {"name": "polynomial", "coefficients": [1.0, 0.0, 0.0]}},
        ],
    }
    figures = gdsim.run(scenario).plot()
    landscape = figures["landscape"]
    titles = [ax.get_title() for ax in landscape.axes if ax.get_visible()]
    assert titles == ["gd (completed)", "momentum (completed)"]
    assert (
        "on another objective" in landscape.get_supxlabel() and "other" in landscape.get_supxlabel()
    )
    assert len(figures["curves"].subfigs) == 2


def test_a_single_loss_panel_still_says_which_line_style_is_which_split() -> None:
    regression = {"name": "mlp", "hidden": [4], "activation": "tanh", "loss": "mse", "data": SINE}
    scenario = {
        "scenario": {"name": "one"},
        "objective": regression,
        "defaults": {
            "steps": 30,
            "rule": "adam",
            "schedule": {"name": "constant", "lr": 0.05},
            "observers": [
                {
                    "name": "recorder",
                    "every": 5,
                    "params": False,
                    "grad_norm": False,
                    "metrics": ["train.loss", "validation.loss"],
                }
            ],
        },
        "runs": [{"name": "a"}, {"name": "b", "rule": "gd"}],
    }
    figure = gdsim.run(scenario).plot()["curves"]
    (loss,) = figure.axes
    texts = [t.get_text() for t in loss.get_legend().get_texts()]
    assert texts[:2] == ["a", "b"] and "validation split" in texts and "train split" in texts
