"""Paths on the objective as small multiples: the machinery shared by ``landscape`` (one
coordinate) and ``contours`` (two), and by their animations.

One panel per run (or per group of runs when there are many, see
:func:`~gdsim.plotting.common.panel_groups`), shared axes, the objective drawn in neutral
greys so that no run's colour can vanish into it, the iterates coloured from early (dark) to
late (light), a hollow circle at the start, a star at the end (an ✕ at a diverged run's last
finite iterate) and the known minima drawn above everything, with the legend outside the data.
Only runs on the objective drawn are shown: a run that overrides the objective (another
function, other coefficients) is named in a note instead (:func:`on_objective`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.plotting.common import (
    PlotContext,
    RunData,
    View,
    add_notes,
    coord_label,
    end_marker,
    evaluate,
    frame,
    grid_shape,
    minima_points,
    missing_note,
    names_list,
    new_figure,
    outside_note,
    panel_groups,
    run_path,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gdsim.components import Objective

PATH_COLOR = "#1f4e9c"
START_COLOR = "#2ca02c"
END_COLOR = "#d62728"
MINIMUM_COLOR = "#ffd700"


@attrs.define
class Track:
    """One run's drawn path: its points (in plot coordinates) and the artists that show it."""

    run: RunData
    points: np.ndarray
    """``(n, 2)``: (x, f(x)) for one coordinate, (x, y) for two."""
    steps: np.ndarray
    ax: Any
    line: Any = None
    head: Any = None


@attrs.define
class PathFigure:
    figure: Figure
    tracks: list[Track]
    view: View


Background = Callable[["Axes", View], None]


def path_figure(
    ctx: PlotContext,
    objective: Objective,
    coords: list[tuple[str, int]],
    background: Background,
    to_plot: Callable[[np.ndarray], np.ndarray],
    what: str,
    animated: bool = False,
) -> PathFigure | None:
    """Small multiples of the recorded runs' paths over ``background`` (None: nothing recorded).

    ``to_plot`` maps a path's parameter points to plot coordinates (x ↦ (x, f(x)) on a 1-D
    landscape). With ``animated`` the paths are left empty for :mod:`gdsim.plotting.animation`
    to fill frame by frame.
    """
    recorded = [r for r in ctx.runs if r.recorded]
    elsewhere = [r.name for r in recorded if not on_objective(r, objective)]
    recorded = [r for r in recorded if on_objective(r, objective)]
    paths = {r.name: run_path(r, coords) for r in recorded}
    drawable = [r for r in recorded if paths[r.name] is not None and len(paths[r.name])]
    if not drawable:
        return None
    minima = minima_points(objective, coords)
    view = frame(
        drawable, [paths[r.name] for r in drawable], [np.array(m[0]) for m in minima], len(coords)
    )
    groups, group_note = panel_groups(drawable)
    rows, cols = grid_shape(len(groups))
    width = min(4.2 * cols, 17.0) + (1.6 if len(groups) > 1 else 2.2)
    height = 3.2 * rows + 1.0
    figure = new_figure(width, height)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    tracks: list[Track] = []
    diverged = False
    for k, (label, members) in enumerate(groups):
        ax = axes[k // cols][k % cols]
        background(ax, view)
        ax.set_xlim(view.low[0], view.high[0])
        if len(members) == 1:
            ax.set_title(f"{members[0].name} ({members[0].state})", fontsize=9)
            if len(coords) == 1 and members[0].diverged_at is None and not animated:
                _end_text(ax, paths[members[0].name][-1])
        else:
            ax.set_title(f"{label} ({len(members)} runs)", fontsize=9)
        colors = _member_colors(members)
        for run, color in zip(members, colors, strict=True):
            points = to_plot(paths[run.name])
            steps = np.arange(len(points))
            track = Track(run, points, steps, ax)
            diverged = diverged or run.diverged_at is not None
            _draw_track(track, view, color, single=len(members) == 1, animated=animated)
            tracks.append(track)
        for point, kind in minima:
            shown = to_plot(np.array([point]))[0]
            _draw_minimum(ax, shown, kind)
    for k in range(len(groups), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for row in axes:
        row[0].set_ylabel(_ylabel(objective, coords))
    for c in range(cols):
        last = max(r for r in range(rows) if r * cols + c < len(groups)) if len(groups) > c else 0
        axes[last][c].set_xlabel(coord_label(objective, coords, 0))
        axes[last][c].xaxis.set_tick_params(labelbottom=True)
    _key(figure, minima, diverged, single=all(len(m) == 1 for _, m in groups), animated=animated)
    many = len(recorded) > 1
    heading = ctx.heading(f"{'paths' if many else 'path'} on the {what}")
    figure.suptitle(heading, fontsize=12)
    labels = [coord_label(objective, coords, i) for i in range(len(coords))]
    notes = [
        outside_note(view, labels),
        group_note,
        missing_note(ctx.runs),
        _sampling_note(drawable),
    ]
    if elsewhere:
        notes.append(
            f"not drawn, on another objective than the one shown: {names_list(elsewhere)} "
            "(see the curves)"
        )
    add_notes(figure, notes, width)
    return PathFigure(figure, tracks, view)


def _draw_minimum(ax: Axes, point: np.ndarray, kind: str) -> None:
    """A known minimum as a hollow ring (gold in a black outline) drawn above everything, so
    that an end marker or iterate at the minimum shows through it."""
    size = 17 if kind == "global" else 14
    for edge, width in (("black", 3.4), (MINIMUM_COLOR, 1.8)):
        ax.plot(
            *point,
            "o",
            markerfacecolor="none",
            markeredgecolor=edge,
            markeredgewidth=width,
            markersize=size,
            zorder=8,
            clip_on=False,
        )


def _end_text(ax: Axes, point: np.ndarray) -> None:
    """The last iterate's coordinate written in the panel (ends a few hundredths apart look
    alike at the figure's scale)."""
    if np.all(np.isfinite(point)):
        ax.text(
            0.5,
            0.97,
            f"ends at {float(point[0]):.4g}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=8,
            color=END_COLOR,
        )


def _sampling_note(runs: Sequence[RunData]) -> str | None:
    """Say so when the paths join sampled iterates (a recorder's ``every`` > 1): their
    straight segments skip the steps between."""
    spacings = set()
    for run in runs:
        steps = np.asarray(run.trace.get("step", ()), dtype=np.int64)
        if len(steps) > 2:
            spacings.add(int(np.median(np.diff(steps[:-1]))))
    spacings.discard(1)
    if not spacings:
        return None
    every = "/".join(str(n) for n in sorted(spacings))
    return (
        f"paths join every {every}th iterate (recorder every = {every}): a straight segment "
        "skips the steps between"
    )


def on_objective(run: RunData, objective: Objective) -> bool:
    """Whether the run minimised ``objective`` (a run may override the scenario's objective:
    its path drawn over another objective's landscape would mislead)."""
    own = run.objective
    if own is None or own is objective:
        return True
    try:
        return bool(own == objective)
    except (TypeError, ValueError):  # parameters that do not compare as one truth value
        return False


def _ylabel(objective: Objective, coords: list[tuple[str, int]]) -> str:
    if len(coords) == 2:
        return coord_label(objective, coords, 1)
    return f"{objective.name}({coord_label(objective, coords, 0)})"


def _member_colors(members: Sequence[RunData]) -> list[Any]:
    """One run: the path colour; several in a panel: a colour per run along a blue-red map."""
    if len(members) == 1:
        return [PATH_COLOR]
    from matplotlib import colormaps

    cmap = colormaps["coolwarm"]
    return [cmap(i / max(len(members) - 1, 1)) for i in range(len(members))]


def _draw_track(track: Track, view: View, color: Any, single: bool, animated: bool) -> None:
    """The path as a line with its iterates (early dark → late light), start and end marks."""
    from matplotlib import colormaps

    ax, points, run = track.ax, track.points, track.run
    px, py = points[:, 0], points[:, 1]
    width = 1.0 if single else 0.7
    if animated:
        (track.line,) = ax.plot([], [], "-", color=color, linewidth=1.4, zorder=3)
        (track.head,) = ax.plot(
            [], [], "o", color=END_COLOR, markeredgecolor="black", markersize=8, zorder=9
        )
    else:
        track.line = ax.plot(px, py, "-", color=color, linewidth=width, alpha=0.8, zorder=3)[0]
        if single:
            # shaded by log(step): most runs move most in their first steps
            ranks = np.log1p(np.arange(len(px))) / np.log1p(max(len(px) - 1, 1))
            shades = colormaps["plasma"](0.95 * ranks)
            dense = len(px) > 300  # thousands of iterates: small dots, no outlines
            ax.scatter(
                px,
                py,
                c=shades,
                s=6 if dense else 22,
                zorder=7,
                edgecolors="none" if dense else "0.25",
                linewidths=0 if dense else 0.4,
            )
    ax.plot(
        px[:1],
        py[:1],
        "o",
        markerfacecolor="none",
        markeredgecolor=START_COLOR if single else color,
        markeredgewidth=2,
        markersize=8,
        zorder=5,
    )
    if animated:
        return
    marker, size = end_marker(run)
    size = size + 6 if single else size
    ax.plot(
        np.clip(px[-1:], view.low[0], view.high[0]),
        np.clip(py[-1:], *ax.get_ylim()),
        marker,
        color=END_COLOR if single and run.diverged_at is None else ("black" if single else color),
        markeredgecolor="black",
        markersize=size,
        clip_on=False,
        zorder=6,
    )


def _key(figure: Figure, minima: list[Any], diverged: bool, single: bool, animated: bool) -> None:
    """The markers' legend, outside the panels (right of them)."""
    from matplotlib.lines import Line2D

    start = Line2D(
        [],
        [],
        marker="o",
        linestyle="",
        markerfacecolor="none",
        markeredgecolor=START_COLOR if single else "0.3",
        markeredgewidth=2,
    )
    handles: list[Any] = [start]
    labels = ["start"]
    if animated:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="-",
                color=PATH_COLOR,
                markerfacecolor=END_COLOR,
                markeredgecolor="black",
            )
        )
        labels.append("path so far, current iterate")
    else:
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                color=END_COLOR if single else "0.6",
                markeredgecolor="black",
                markersize=11,
            )
        )
        labels.append("end")
    if single and not animated:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="-",
                color=PATH_COLOR,
                markerfacecolor="#f0d000",
                markersize=4,
            )
        )
        labels.append("iterates (dark early → light late, log step)")
    if diverged:
        handles.append(Line2D([], [], marker="X", linestyle="", color="black", markersize=9))
        labels.append("last finite iterate (diverged)")
    if minima:
        handles.append(
            (
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markerfacecolor="none",
                    markeredgecolor="black",
                    markeredgewidth=3.4,
                    markersize=12,
                ),
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markerfacecolor="none",
                    markeredgecolor=MINIMUM_COLOR,
                    markeredgewidth=1.8,
                    markersize=12,
                ),
            )
        )
        labels.append("known minimum (ring)")
    figure.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)


def landscape_background(objective: Objective, coords: list[tuple[str, int]]) -> Background:
    """The 1-D objective as a grey curve (and its y range fitted to the view)."""

    def draw(ax: Axes, view: View) -> None:
        xs = np.linspace(view.low[0], view.high[0], 600)
        ys = evaluate(objective, coords, [xs])
        ax.plot(xs, ys, color="0.45", linewidth=1.6, zorder=1)
        finite = ys[np.isfinite(ys)]
        if finite.size:
            span = float(finite.max() - finite.min()) or 1.0
            ax.set_ylim(finite.min() - 0.06 * span, finite.max() + 0.08 * span)
        ax.grid(True, alpha=0.3)

    return draw
