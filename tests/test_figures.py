"""Every kind of figure, drawn headless for a scenario that has what it shows; small multiples
for many runs; fair x axes; animations; the [plot] table's errors; the docs' image links."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import gdsim
from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.plotting import FIGURE_NAMES, animate_results

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure
from PIL import Image

ROOT = Path(__file__).parent.parent


def quartic(runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "scenario": {"name": "q"},
        "objective": {"name": "quartic"},
        "defaults": {"steps": 40, "init": {"x": -5.0}, "observers": ["recorder"]},
        "runs": runs,
        **extra,
    }


def network(data: dict[str, Any], runs: list[dict[str, Any]], **objective: Any) -> dict:
    """A small network scenario: one hidden layer, 150 Adam steps, diagnostics every 10."""
    return {
        "scenario": {"name": "net"},
        "objective": {
            "name": "mlp",
            "hidden": [6],
            "activation": "tanh",
            "data": data,
            **objective,
        },
        "defaults": {
            "steps": 150,
            "rule": "adam",
            "schedule": {"name": "constant", "lr": 0.05},
            "observers": [{"name": "diagnostics", "every": 10, "splits": ["train", "validation"]}],
        },
        "runs": runs,
    }


MOONS = {"name": "moons", "n": 200, "noise": 0.1, "seed": 1, "split": [0.8, 0.2, 0.0]}
SINE = {
    "name": "regression1d",
    "function": "sin",
    "n": 80,
    "low": -3.0,
    "high": 3.0,
    "noise": 0.0,
    "seed": 2,
    "split": [0.8, 0.2, 0.0],
}
ROSENBROCK = {
    "scenario": {"name": "valley"},
    "objective": {"name": "rosenbrock"},
    "defaults": {
        "steps": 30,
        "init": {"x": [-1.5, 2.0]},
        "observers": ["recorder"],
        "schedule": {"name": "constant", "lr": 1e-3},
    },
    "runs": [{"name": "gd"}, {"name": "momentum", "rule": {"name": "momentum", "mu": 0.9}}],
}
BASINS = quartic(
    [
        {
            "name": "m",
            "rule": {"name": "momentum", "mu": {"values": [0.0, 0.5, 0.95]}},
            "init": {"x": {"linspace": [-5, 5, 11]}},
            "steps": 200,
            "observers": [],
        }
    ]
)

# which scenario shows which figure (the bundled ones that are quick, small ones otherwise)
CASES: dict[str, Any] = {
    "landscape": ROOT / "scenarios" / "escape_local_min.toml",
    "contours": ROSENBROCK,
    "curves": ROSENBROCK,
    "layers": network(
        MOONS, [{"name": "a"}, {"name": "zeros", "objective": {"initializer": "zeros"}}]
    ),
    "gradient_bars": network(MOONS, [{"name": "a"}]),
    "boundary": network(
        MOONS, [{"name": "a"}, {"name": "zeros", "objective": {"initializer": "zeros"}}]
    ),
    "fit": network(
        SINE, [{"name": "w1", "objective": {"hidden": [1]}}, {"name": "w6"}], loss="mse"
    ),
    "basins": BASINS,
}


def drawn(figure: Figure) -> int:
    """How many data artists the figure's visible panels hold."""
    return sum(
        len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images)
        for ax in figure.axes
        if ax.get_visible()
    )


def test_every_figure_kind_has_a_case() -> None:
    assert set(CASES) == set(FIGURE_NAMES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_figure_is_drawn_headless_non_empty_and_without_warnings(
    name: str, tmp_path: Path
) -> None:
    results = gdsim.run(CASES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = results.plot(out=tmp_path)
    assert name in figures
    assert drawn(figures[name]) > 0
    png = tmp_path / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_20_run_comparison_uses_small_multiples() -> None:
    runs = [
        {"name": f"lr_{lr:.3g}", "schedule": {"name": "constant", "lr": float(lr)}}
        for lr in np.geomspace(0.01, 0.3, 20)
    ]
    figures = gdsim.run(quartic(runs)).plot()
    panels = [ax for ax in figures["landscape"].axes if ax.get_visible()]
    assert len(panels) == 20
    assert sorted(ax.get_title() for ax in panels) == sorted(
        f"{r['name']} (completed)" for r in runs
    )
    limits = {(ax.get_xlim(), ax.get_ylim()) for ax in panels}
    assert len(limits) == 1  # shared axes
    curves = [ax for ax in figures["curves"].axes if ax.get_visible()]
    assert len(curves) == 20  # one loss panel per run, the others in grey behind it
    for ax in curves:
        colors = [line.get_color() for line in ax.get_lines()]
        assert len(colors) == 20 and sum(c != "0.82" for c in colors) == 1


def test_a_numeric_sweep_is_coloured_along_a_colour_bar() -> None:
    sweep = quartic([{"name": "m", "rule": {"name": "momentum", "mu": {"linspace": [0, 0.9, 12]}}}])
    curves = gdsim.run(sweep).plot()["curves"]
    labels = [ax.get_ylabel() for ax in curves.axes]
    assert "mu" in labels  # the colour bar's axis
    assert all(ax.get_legend() is None for ax in curves.axes)


def test_many_sweep_runs_share_a_panel_per_hyperparameter_value() -> None:
    sweep = quartic(
        [
            {
                "name": "m",
                "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}},
                "init": {"x": {"linspace": [-5, 5, 11]}},
            }
        ]
    )
    landscape = gdsim.run(sweep).plot()["landscape"]
    titles = sorted(ax.get_title() for ax in landscape.axes if ax.get_visible())
    assert titles == ["m[mu=0.9] (11 runs)", "m[mu=0] (11 runs)"]


def test_a_sweep_without_recorder_gets_one_line_and_no_name_covered_figure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        figures = gdsim.run(BASINS).plot()
    assert set(figures) == {"basins"}
    [record] = caplog.records
    assert "33 runs" in record.getMessage() and 'name = "recorder"' in record.getMessage()
    assert "m[mu=" not in record.getMessage()  # a count, not a list of names
    text = " ".join(
        t.get_text() for t in figures["basins"].findobj(match=lambda a: hasattr(a, "get_text"))
    )
    assert "m[mu=" not in text


def test_samples_seen_is_the_default_axis_when_batch_sizes_differ() -> None:
    runs = [
        {"name": "full", "steps": 4},
        {
            "name": "sgd",
            "estimator": "sgd",
            "steps": 640,
            "rule": "gd",
            "observers": [{"name": "diagnostics", "every": 160, "splits": ["train"]}],
        },
    ]
    scenario = network(MOONS, runs)
    curves = gdsim.run(scenario).plot()["curves"]
    assert (
        curves.axes[0].get_xlabel() == ""
        and curves.axes[-1].get_xlabel() == "training samples seen"
    )
    scenario["plot"] = {"x": "epochs"}
    curves = gdsim.run(scenario).plot()["curves"]
    assert curves.axes[-1].get_xlabel().startswith("epoch")
    sgd = [line for line in curves.axes[0].get_lines() if len(line.get_xdata()) == 5]
    assert sgd and max(sgd[0].get_xdata()) == pytest.approx(4.0)  # 640 samples of 160


def test_wall_time_axis_falls_back_to_steps_from_a_folder(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[objective]\nname = "quartic"\n[plot]\nx = "time"\n'
        '[defaults]\nobservers = ["recorder"]\n[[runs]]\nname = "gd"\n'
    )
    results = gdsim.run(scenario)
    assert results.plot()["curves"].axes[-1].get_xlabel().startswith("wall time")
    out = tmp_path / "res"
    assert CliRunner().invoke(main, ["run", str(scenario), "--out", str(out), "-q"]).exit_code == 0
    from gdsim.plotting import context_from_folder, curves

    figure = curves.draw(context_from_folder(out))
    assert figure.axes[-1].get_xlabel() == "step"
    assert any("have no run time" in t.get_text() for t in figure.texts)


@pytest.mark.parametrize(
    ("table", "path", "hint"),
    [
        ({"x": "sample"}, "plot.x", "samples"),
        ({"x": "step"}, "plot.x", "steps"),
        ({"x": 3}, "plot.x", None),
        ({"xx": "steps"}, "plot.xx", "x"),
        ({"bar_steps": [1, -2]}, "plot.bar_steps", None),
        ({"bar_steps": "1"}, "plot.bar_steps", None),
    ],
)
def test_plot_table_errors_name_the_key(table: dict, path: str, hint: str | None) -> None:
    with pytest.raises(ScenarioError) as info:
        gdsim.load(quartic([{"name": "gd"}], plot=table))
    assert info.value.path == path
    assert info.value.suggestion == hint


def test_a_bad_plot_key_is_bad_input_for_the_cli(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[objective]\nname = "quartic"\n[plot]\nx = "sampels"\n[[runs]]\nname = "a"\n'
    )
    result = CliRunner().invoke(main, ["validate", str(scenario)])
    assert result.exit_code == 2
    assert "plot.x" in result.output and "samples" in result.output
    assert "Traceback" not in result.output


def test_the_animation_has_frames_and_is_bounded(tmp_path: Path) -> None:
    results = gdsim.run(quartic([{"name": "momentum", "rule": {"name": "momentum", "mu": 0.9}}]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [path] = animate_results(results, tmp_path, format="gif", max_frames=6)
    assert path.name == "landscape.gif"
    with Image.open(path) as gif:
        assert 1 < gif.n_frames <= 6
        first = np.asarray(gif.convert("RGB"))
        gif.seek(gif.n_frames - 1)
        assert not np.array_equal(first, np.asarray(gif.convert("RGB")))  # the path moved


def test_plot_command_animates(tmp_path: Path) -> None:
    out = tmp_path / "res"
    runner = CliRunner()
    scenario = ROOT / "scenarios" / "escape_local_min.toml"
    assert (
        runner.invoke(
            main, ["run", str(scenario), "--out", str(out), "-q", "--run", "gd_from_5"]
        ).exit_code
        == 0
    )
    result = runner.invoke(main, ["plot", str(out), "--animate", "--animate-format", "gif"])
    assert result.exit_code == 0, result.output
    assert (out / "plots" / "landscape.gif").exists()
    assert "landscape.gif" in result.output


def test_build_figures_finds_links_to_figures_it_did_not_draw() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_figures", ROOT / "docs" / "build_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problems = module.broken_links(
        {"escape_local_min/landscape.png"}, pages=(module.DOCS / "observers.md",)
    )
    assert problems == []
    problems = module.broken_links(set(), pages=(module.DOCS / "observers.md",))
    assert problems and "img/escape_local_min/landscape.png" in problems[0]
