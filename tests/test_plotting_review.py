"""Plots show every diagnostic layer, mark diverged runs and name runs without a recorder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import gdsim
from gdsim.plotting import RunData, curves_figure, figures_for, plot_runs

pytest.importorskip("matplotlib")

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from test_recorder_divergence import sweep


def texts(figure: Figure) -> str:
    """Every piece of text of a figure: titles, notes, panel texts and legends."""
    found = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        found += [ax.get_title(), *(t.get_text() for t in ax.texts)]
        legend = ax.get_legend()
        if legend is not None:
            found += [legend.get_title().get_text(), *(t.get_text() for t in legend.get_texts())]
    for legend in figure.legends:
        found += [t.get_text() for t in legend.get_texts()]
    return "\n".join(found)


def panel(figure: Figure, legend_title: str) -> Axes:
    """The axes whose legend has ``legend_title``."""
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is not None and legend.get_title().get_text() == legend_title:
            return ax
    raise AssertionError(f"no panel with legend {legend_title!r} in {texts(figure)!r}")


def diagnostics_run(name: str, scale: float, layers: int = 7, rows: int = 30) -> RunData:
    step = np.arange(rows)
    trace: dict[str, np.ndarray] = {"step": step, "loss": np.linspace(0.7, 0.69, rows)}
    for i in range(1, layers + 1):
        trace[f"grad.W{i}"] = np.full(rows, scale * 10.0**i)
        trace[f"grad.b{i}"] = np.full(rows, scale * 10.0**i)
        trace[f"update.W{i}"] = np.full(rows, scale * 10.0 ** (i - 1))
    trace["spread.W1"] = np.zeros(rows) if scale < 1 else np.linspace(0, 3, rows)
    return RunData(name, "completed", trace)


def layers_figure(runs: list[RunData]) -> Figure:
    return figures_for(runs, None)["layers"]


def row_of(figure: Figure, ylabel: str) -> list[Axes]:
    """The panels of one kind of diagnostic (a row: one panel per run)."""
    found = [ax for ax in figure.axes if ax.get_visible() and ax.get_ylabel().startswith(ylabel)]
    first = found[0]
    return [ax for ax in figure.axes if ax.get_position().y0 == first.get_position().y0]


def test_every_layer_of_every_diagnostic_is_drawn_on_a_log_axis() -> None:
    runs = [diagnostics_run("sigmoid", 1e-9), diagnostics_run("relu", 1e-3)]
    figure = layers_figure(runs)
    FigureCanvasAgg(figure).draw()
    for kind, label, lowest, highest in (
        ("grad", "gradient norm", 1e-8, 1e4),
        ("update", "step size", 1e-9, 1e3),
    ):
        panels = row_of(figure, label)
        assert len(panels) == 2  # one per run
        assert all(ax.get_yscale() == "log" for ax in panels)
        assert all(len(ax.get_lines()) == 7 for ax in panels)  # W1 … W7, biases left out
        labels = [t.get_text() for t in panels[-1].get_legend().get_texts()]
        assert labels == [f"W{i}" for i in range(1, 8)], kind
        plotted = sorted(float(line.get_ydata()[0]) for ax in panels for line in ax.get_lines())
        assert plotted[0] == pytest.approx(lowest) and plotted[-1] == pytest.approx(highest)
    spread = row_of(figure, "unit spread")
    assert [len(ax.get_lines()) for ax in spread] == [1, 1]  # the zeros one too
    assert "biases" in texts(figure)


def test_the_same_layer_has_the_same_colour_in_every_run() -> None:
    figure = layers_figure([diagnostics_run("a", 1e-6), diagnostics_run("b", 1e-3)])
    FigureCanvasAgg(figure).draw()
    first, second = row_of(figure, "gradient norm")
    assert [line.get_color() for line in first.get_lines()] == [
        line.get_color() for line in second.get_lines()
    ]
    colors = {line.get_color() for line in first.get_lines()}
    assert len(colors) == 7  # a colour per layer


def test_legends_stay_outside_the_panels_and_inside_the_figure() -> None:
    # symmetry.toml: five runs, four parameters
    runs = [diagnostics_run(f"run_{i}", 10.0**-i, layers=4) for i in range(5)]
    for figure in (layers_figure(runs), curves_figure(runs)):
        FigureCanvasAgg(figure).draw()
        renderer = figure.canvas.get_renderer()
        page = figure.bbox
        legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
        assert legends
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert page.x0 <= box.x0 and box.x1 <= page.x1 + 1
            assert page.y0 <= box.y0 and box.y1 <= page.y1 + 1
            for ax in figure.axes:
                assert not box.overlaps(ax.get_window_extent(renderer))
                for label in ax.get_xticklabels():
                    if label.get_visible() and label.get_text():
                        assert not box.overlaps(label.get_window_extent(renderer))


def test_vanishing_scenario_shows_the_seven_layers_orders_of_magnitude_apart() -> None:
    results = gdsim.run(Path(__file__).parent.parent / "scenarios" / "vanishing.toml")
    bars = results.plot()["gradient_bars"]
    ax = bars.axes[0]  # step 1
    assert ax.get_title() == "step 1" and ax.get_yscale() == "log"
    heights: dict[str, list[float]] = {}
    for container in ax.containers:
        heights[container.get_label()] = [patch.get_height() for patch in container]
    sigmoid, relu = heights["sigmoid_xavier"], heights["relu_he"]
    assert len(sigmoid) == len(relu) == 7  # W1 … W7
    assert np.log10(sigmoid[-1] / sigmoid[0]) > 3  # the first layer's gradient vanished
    assert abs(np.log10(relu[-1] / relu[0])) < 1  # ReLU keeps the layers within a decade


@pytest.fixture(scope="module")
def diverged_every_10() -> list:
    return list(gdsim.run(sweep(10)))


@pytest.fixture(scope="module")
def diverged_every_1() -> list:
    return list(gdsim.run(sweep(1)))


def test_a_diverged_run_is_in_the_curves_with_its_last_finite_loss(
    diverged_every_10: list,
) -> None:
    figure = plot_runs(diverged_every_10)["curves"]
    text = texts(figure)
    assert "lr_0.01 (diverged@6)" in text
    assert "lr_0.0001" in text and "lr_0.001" in text
    loss = figure.axes[0]
    marks = [line for line in loss.get_lines() if line.get_marker() == "X"]
    assert len(marks) == 1 and marks[0].get_xdata()[0] == 5
    # 4.5e38 would squash the other runs' losses (≈ 5) into one line: cut, and said so
    assert loss.get_ylim()[1] < 1e9
    assert "4.51e+38" in text


@pytest.mark.parametrize("fixture", ["diverged_every_10", "diverged_every_1"])
def test_contours_end_a_diverged_run_with_a_cross_in_a_sensible_view(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    runs = request.getfixturevalue(fixture)
    figure = plot_runs(runs)["contours"]
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_visible()}
    assert set(panels) == {
        "lr_0.0001 (completed)",
        "lr_0.001 (completed)",
        "lr_0.01 (diverged@6)",
    }
    ax = panels["lr_0.01 (diverged@6)"]
    xlow, xhigh = ax.get_xlim()
    ylow, yhigh = ax.get_ylim()
    assert -20 < xlow < xhigh < 20 and -20 < ylow < yhigh < 20  # not 1e9, not 1e28
    crosses = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert len(crosses) == 1
    assert crosses[0].get_xdata()[0] == xlow  # -1.46e9, on the left edge
    assert crosses[0].get_ydata()[0] == yhigh  # 1.02e6, on the top edge
    text = texts(figure)
    assert "lr_0.01 (diverged@6)" in text
    assert "view clipped" in text and "-1.46e+09" in text
    stars = [line for a in panels.values() for line in a.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 2  # the runs that completed


def test_an_old_trace_with_the_diverged_iterate_is_cut_at_the_last_finite_one() -> None:
    run = gdsim.run(sweep(1))["lr_0.01"]
    trace = dict(run.trace)
    trace["step"] = np.append(trace["step"], 6)
    trace["params.x"] = np.vstack([trace["params.x"], [[1.2e28, 4.2e18]]])
    for key in ("loss", "lr", "grad_norm"):
        trace[key] = np.append(trace[key], 1.0)
    data = RunData(run.name, run.status, trace, run.final_params, run.final_step, run.final_loss, 6)
    figure = figures_for([data], run.spec.objective)["contours"]
    assert abs(figure.axes[0].get_xlim()[0]) < 20


QUARTIC = {
    "scenario": {"name": "q"},
    "objective": {"name": "quartic"},
    "defaults": {"steps": 20, "init": {"x": -5.0}},
    "runs": [
        {"name": "gd", "rule": "gd"},
        {"name": "momentum", "rule": {"name": "momentum", "mu": 0.9}},
    ],
}


def test_runs_without_a_recorder_draw_no_empty_figure_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        figures = plot_runs(list(gdsim.run(QUARTIC)))
    assert figures == {}  # no path, no curve: nothing to draw
    assert len(caplog.records) == 1
    assert "no recorder: gd, momentum" in caplog.text and 'name = "recorder"' in caplog.text


def test_a_run_without_a_recorder_among_recorded_ones_is_named_in_the_figures() -> None:
    scenario = {**QUARTIC, "runs": [{**QUARTIC["runs"][0], "observers": ["recorder"]}]}
    scenario["runs"].append(QUARTIC["runs"][1])
    figures = plot_runs(list(gdsim.run(scenario)))
    assert "no recorder: momentum" in texts(figures["curves"])
    assert "no recorder: momentum" in texts(figures["landscape"])
    titles = [ax.get_title() for ax in figures["landscape"].axes if ax.get_visible()]
    assert titles == ["gd (completed)"]  # no empty panel for the unrecorded run
