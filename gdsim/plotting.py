"""Plots of runs: their paths on the objective and their loss, learning-rate and gradient curves.

Three figures, each drawn only when its data is there:

- ``landscape``: a one-parameter objective with each run's path on it, one panel per run (the
  lecture's pictures);
- ``contours``: a two-parameter objective as contour lines with every run's path;
- ``curves``: loss (and recorded metrics), learning rate and gradient norm against the step,
  on a log scale where the values are positive.

Figures are built with :class:`matplotlib.figure.Figure` and saved through the Agg and SVG
canvases: no display, no pyplot state. matplotlib is the optional extra ``gdsim[plot]``.
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.errors import GdsimError
from gdsim.fileio import atomic_open

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gdsim.components import Objective
    from gdsim.results import RunResult

log = logging.getLogger("gdsim")

FORMATS = ("png", "svg")
MAX_PANELS = 12
"""Above this many runs the 1-D paths share one panel."""


@attrs.frozen
class RunData:
    """What a plot needs of one run: name, status, trace columns, final (last finite) values."""

    name: str
    status: str
    trace: Mapping[str, np.ndarray]
    final_params: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    final_step: int | None = None
    final_loss: float | None = None
    diverged_at: int | None = None

    @property
    def recorded(self) -> bool:
        """Whether the run has a trace (a ``recorder`` or ``diagnostics`` observer)."""
        return len(self.trace.get("step", ())) > 0

    @property
    def label(self) -> str:
        """The run's name, with ``diverged@N`` when it diverged."""
        if self.diverged_at is None:
            return self.name
        return f"{self.name} (diverged@{self.diverged_at})"


RECORDER_HINT = 'paths and curves need observers = [{ name = "recorder" }]'
VIEW_LIMIT = 10.0
"""Path points farther than this many region sizes from the starts and minima are not framed."""


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from gdsim.extras import missing_extra

        raise missing_extra("plot", "plots", "matplotlib") from None


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "viridis"]
    return [cmap(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]


# --------------------------------------------------------------------------------------------
# entry points


def plot_runs(
    runs: Sequence[RunResult],
    out: str | Path | None = None,
    format: str = "png",
    title: str | None = None,
) -> dict[str, Figure]:
    """The figures of ``runs`` (results of one scenario), saved into ``out`` when given."""
    data = [
        RunData(
            r.name,
            r.status,
            dict(r.trace),
            r.final_params,
            r.final_step,
            r.final_loss,
            r.diverged_at,
        )
        for r in runs
    ]
    objective = next((r.spec.objective for r in runs if r.spec is not None), None)
    figures = figures_for(data, objective, title)
    if out is not None:
        save_figures(figures, Path(out), format)
    return figures


def plot_folder(
    folder: str | Path, format: str = "png", out: str | Path | None = None
) -> list[Path]:
    """Draw the figures of a results folder into ``out`` (default ``FOLDER/plots``)."""
    from gdsim.report import read_results

    folder = Path(folder)
    if format not in FORMATS:
        raise GdsimError(f"unknown plot format '{format}' (expected one of: {', '.join(FORMATS)})")
    summary = read_results(folder)
    runs = [
        RunData(
            name=str(r.get("name")),
            status=str(r.get("status")),
            trace=r.get("trace", {}),
            final_params={
                k: np.asarray(v, dtype=np.float64)
                for k, v in ((r.get("final") or {}).get("params") or {}).items()
                if v is not None
            },
            final_step=(r.get("final") or {}).get("step"),
            final_loss=_float_or_none((r.get("final") or {}).get("loss")),
            diverged_at=r.get("diverged_at"),
        )
        for r in summary["runs"]
    ]
    scenario = summary.get("scenario") or {}
    figures = figures_for(runs, _objective_from(scenario), scenario.get("name"))
    return save_figures(figures, Path(out) if out is not None else folder / "plots", format)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _objective_from(scenario: Mapping[str, Any]) -> Objective | None:
    """Rebuild the objective from the scenario definition stored in a summary, if possible."""
    from gdsim.scenario import load_mapping

    definition = scenario.get("definition")
    if not isinstance(definition, Mapping):
        return None
    try:
        return (
            load_mapping(definition, source=str(scenario.get("source", "<summary>")))
            .runs[0]
            .objective
        )
    except GdsimError:
        return None


def figures_for(
    runs: Sequence[RunData], objective: Objective | None, title: str | None = None
) -> dict[str, Figure]:
    """All figures that the runs' data allows, by name."""
    _require_matplotlib()
    figures: dict[str, Figure] = {}
    if not runs:
        return figures
    if objective is not None:
        layout = _layout(objective)
        if layout is not None and layout[0] == 1:
            figures["landscape"] = landscape_figure(runs, objective, layout[1], title)
        elif layout is not None and layout[0] == 2:
            figures["contours"] = contour_figure(runs, objective, layout[1], title)
    missing = [r.name for r in runs if not r.recorded]
    if any(r.recorded for r in runs):
        figures["curves"] = curves_figure(runs, title)
    if missing:
        log.warning(
            "plots: %s without a recorder, so no path or curve%s: %s (%s)",
            "run" if len(missing) == 1 else f"{len(missing)} runs",
            "" if "curves" in figures else " (no curves figure)",
            ", ".join(missing),
            RECORDER_HINT,
        )
    return figures


def save_figures(figures: Mapping[str, Figure], out: Path, format: str = "png") -> list[Path]:
    """Write each figure as ``out/NAME.FORMAT`` atomically; return the paths."""
    if format not in FORMATS:
        raise GdsimError(f"unknown plot format '{format}' (expected one of: {', '.join(FORMATS)})")
    paths = []
    for name, figure in figures.items():
        path = out / f"{name}.{format}"
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format=format, dpi=130)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# the objective's shape


def _layout(objective: Objective) -> tuple[int, list[tuple[str, int]]] | None:
    """``(dimension, [(param, index)])`` when the objective has one or two scalar coordinates."""
    try:
        params = objective.init(np.random.default_rng(0))
    except Exception:
        return None
    coords = [(name, i) for name, value in params.items() for i in range(int(np.size(value)))]
    if len(coords) in (1, 2):
        return len(coords), coords
    return None


def _coordinate(trace: Mapping[str, np.ndarray], name: str, index: int) -> np.ndarray | None:
    values = trace.get(f"params.{name}")
    if values is None or len(values) == 0:
        return None
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(len(values), -1)[:, index]


def _evaluate(objective: Objective, coords: list[tuple[str, int]], grid: list[np.ndarray]) -> Any:
    """The loss on a grid of coordinates (vectorised when the objective is elementwise)."""
    template = objective.init(np.random.default_rng(0))
    shape = grid[0].shape

    def params_at(values: list[Any]) -> dict[str, np.ndarray]:
        params = {}
        for name, value in template.items():
            base = np.broadcast_to(np.asarray(value, dtype=np.float64), (*shape, *np.shape(value)))
            flat = np.array(base).reshape(*shape, -1)
            for (cname, index), v in zip(coords, values, strict=True):
                if cname == name:
                    flat[..., index] = v
            params[name] = flat.reshape(*shape, *np.shape(value))
        return params

    if objective.elementwise:
        with np.errstate(all="ignore"):
            return np.asarray(objective.value(params_at(grid), None), dtype=np.float64)
    out = np.empty(shape)
    for idx in np.ndindex(shape):
        point = params_at([g[idx] for g in grid])
        single = {k: v[idx] for k, v in point.items()}
        with np.errstate(all="ignore"):
            out[idx] = float(objective.value(single, None))
    return out


def _minima_points(objective: Objective, coords: list[tuple[str, int]]) -> list[tuple[Any, str]]:
    found = []
    try:
        minima = objective.minima()
    except Exception:
        return found
    for m in minima:
        params = m.get("params", {})
        try:
            point = [float(np.ravel(params[name])[index]) for name, index in coords]
        except (KeyError, IndexError, TypeError):
            continue
        found.append((point, str(m.get("kind", ""))))
    return found


def _coord_label(coords: list[tuple[str, int]], i: int, template: Mapping[str, Any]) -> str:
    name, index = coords[i]
    return name if np.size(template[name]) == 1 else f"{name}[{index}]"


def _path(run: RunData, coords: list[tuple[str, int]]) -> np.ndarray | None:
    """The run's recorded iterates as an ``(n, len(coords))`` array of finite points.

    A diverged run's path ends at its last finite iterate (``final_params`` after
    ``final_step`` steps): later rows are dropped and that iterate is added when the trace
    stops short of it (traces written before the recorder kept it).
    """
    columns = [_coordinate(run.trace, name, index) for name, index in coords]
    if any(c is None for c in columns):
        return None
    points = np.column_stack(columns)
    steps = run.trace.get("step")
    if run.diverged_at is not None and run.final_step is not None and steps is not None:
        steps = np.asarray(steps)
        if len(steps) == len(points):
            keep = steps <= run.final_step
            points = points[keep]
            last = int(steps[keep][-1]) if keep.any() else -1
            end = _final_point(run, coords)
            if last < run.final_step and end is not None:
                points = np.vstack([points, end[None, :]])
    return points[np.isfinite(points).all(axis=1)]


def _final_point(run: RunData, coords: list[tuple[str, int]]) -> np.ndarray | None:
    try:
        return np.array([float(np.ravel(run.final_params[n])[i]) for n, i in coords])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


@attrs.frozen
class _View:
    """The box a path figure shows, and the runs whose iterates leave it."""

    low: np.ndarray
    high: np.ndarray
    outside: list[tuple[str, np.ndarray]]


def _view(
    runs: Sequence[RunData],
    paths: Sequence[np.ndarray | None],
    anchors: list[np.ndarray],
    dim: int,
) -> _View:
    """Frame the paths, but not iterates far outside the region of the starts and minima.

    The region is the box around every path's start and the objective's known minima; points
    more than ``VIEW_LIMIT`` region sizes beyond it (a diverging run's 1e9) are not framed, and
    the runs that reach them are listed so the figure can say so.
    """
    starts = [p[0] for p in paths if p is not None and len(p)]
    region = np.array([*starts, *anchors]).reshape(-1, dim)
    if region.size == 0:
        return _View(-np.ones(dim), np.ones(dim), [])
    rlow, rhigh = region.min(axis=0), region.max(axis=0)
    size = max(float(np.max(rhigh - rlow)), 1.0)
    allowed_low, allowed_high = rlow - VIEW_LIMIT * size, rhigh + VIEW_LIMIT * size
    inside = [region]
    outside = []
    for run, path in zip(runs, paths, strict=True):
        if path is None or not len(path):
            continue
        ok = ((path >= allowed_low) & (path <= allowed_high)).all(axis=1)
        inside.append(path[ok])
        if not ok.all():
            outside.append((run.label, path[-1]))
    points = np.vstack(inside)
    low, high = points.min(axis=0), points.max(axis=0)
    width = np.where(high - low > 0, high - low, np.maximum(np.abs(low), 1.0))
    return _View(low - 0.12 * width, high + 0.12 * width, outside)


def _outside_note(view: _View, labels: list[str]) -> str | None:
    if not view.outside:
        return None
    ends = "; ".join(
        f"{name} ends at {', '.join(f'{v:.3g}' for v in point)}" for name, point in view.outside
    )
    return (
        f"view clipped to the region of the starts and minima ({', '.join(labels)}); "
        f"iterates outside it are not shown, their last marker sits on the edge: {ends}"
    )


def _missing_note(runs: Sequence[RunData]) -> str | None:
    missing = [r.name for r in runs if not r.recorded]
    if not missing:
        return None
    return f"not shown, no recorder: {', '.join(missing)} ({RECORDER_HINT})"


def _add_notes(figure: Figure, notes: list[str | None], width: float) -> None:
    text = "\n".join(textwrap.fill(n, width=int(14 * width)) for n in notes if n)
    if text:
        figure.supxlabel(text, fontsize=8, color="0.25")


def _end_marker(run: RunData) -> tuple[str, float]:
    """A diverged run ends with an ✕ at its last finite iterate, any other with a ★."""
    return ("X", 11.0) if run.diverged_at is not None else ("*", 14.0)


# --------------------------------------------------------------------------------------------
# figures


def landscape_figure(
    runs: Sequence[RunData],
    objective: Objective,
    coords: list[tuple[str, int]],
    title: str | None = None,
) -> Figure:
    """The 1-D objective with each run's path on it (iterates coloured from start to end)."""
    from matplotlib import colormaps

    template = objective.init(np.random.default_rng(0))
    label = _coord_label(coords, 0, template)
    paths = [_path(r, coords) for r in runs]
    minima = _minima_points(objective, coords)
    view = _view(runs, paths, [np.array(m[0]) for m in minima], len(coords))
    low, high = float(view.low[0]), float(view.high[0])
    xs = np.linspace(low, high, 600)
    ys = _evaluate(objective, coords, [xs])
    finite = ys[np.isfinite(ys)]
    panels = len(runs) if len(runs) <= MAX_PANELS else 1
    ncols = min(3, panels)
    nrows = math.ceil(panels / ncols)
    width = max(6.0, 4.2 * ncols)
    figure = _figure(width, 3.3 * nrows + 0.4 if panels > 1 else 4.4)
    axes = figure.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    cmap = colormaps["plasma"]
    run_colors = _colors(len(runs))
    any_diverged = False
    for k, (run, points) in enumerate(zip(runs, paths, strict=True)):
        ax: Axes = axes[k // ncols][k % ncols] if panels > 1 else axes[0][0]
        if k < panels or k == 0:
            ax.plot(xs, ys, color="0.35", linewidth=1.5, label="objective", zorder=1)
            for j, (point, _kind) in enumerate(minima):
                ax.axvline(
                    point[0],
                    color="0.6",
                    linestyle=":",
                    linewidth=1,
                    zorder=0,
                    label="minimum" if j == 0 else None,
                )
        if panels > 1:
            state = run.status if run.diverged_at is None else f"diverged@{run.diverged_at}"
            ax.set_title(f"{run.name} ({state})", fontsize=10)
        ax.grid(True, alpha=0.3)
        if points is None or not len(points):
            if panels > 1:
                text = "no recorder" if not run.recorded else "no finite iterate recorded"
                ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", color="0.3")
            continue
        path = points[:, 0]
        fx = _evaluate(objective, coords, [path])
        if panels == 1 and len(runs) > 1:  # many runs on one panel: one colour per run
            color = run_colors[k]
            ax.plot(path, fx, "-o", color=color, markersize=3, linewidth=1, label=run.label)
        else:
            colors = cmap(np.linspace(0.0, 0.85, len(path)))
            ax.plot(path, fx, color="tab:blue", linewidth=0.8, alpha=0.6, zorder=2)
            ax.scatter(path, fx, c=colors, s=14, zorder=3, linewidths=0)
        ax.scatter(
            path[:1],
            fx[:1],
            s=70,
            marker="o",
            facecolors="none",
            edgecolors="tab:green",
            linewidths=2,
            zorder=4,
            label="start" if k == 0 else None,
        )
        diverged = run.diverged_at is not None
        end_x = np.clip(path[-1:], low, high)
        end_y = _evaluate(objective, coords, [end_x])
        if finite.size:
            end_y = np.clip(end_y, finite.min(), finite.max())
        ax.scatter(
            end_x,
            end_y,
            s=90 if diverged else 110,
            marker="X" if diverged else "*",
            color="black" if diverged else "tab:red",
            zorder=5,
            clip_on=False,
            label=None if k else ("last finite iterate (diverged)" if diverged else "end"),
        )
        any_diverged = any_diverged or diverged
    if finite.size:
        span = finite.max() - finite.min() or 1.0
        axes[0][0].set_ylim(finite.min() - 0.05 * span, finite.max() + 0.08 * span)
    axes[0][0].set_xlim(low, high)
    for k in range(panels, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for row in axes:
        row[0].set_ylabel(f"{objective.name}({label})")
    for ax in axes[-1]:
        ax.set_xlabel(label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if any_diverged and "last finite iterate (diverged)" not in labels:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="X", linestyle="", color="black", markersize=8))
        labels.append("last finite iterate (diverged)")
    axes[0][0].legend(handles, labels, loc="upper center", fontsize=8, ncols=1 + len(labels) // 8)
    heading = (f"{title}: " if title else "") + f"paths on the {objective.name} objective"
    if len(runs) == 1:
        run = runs[0]
        state = run.label if run.diverged_at is not None else f"{run.name} ({run.status})"
        heading = f"{state}: path on the {objective.name} objective"
    if panels > 1 or len(runs) == 1:
        heading += " (iterates coloured from early to late)"
    figure.suptitle(textwrap.fill(heading, width=int(10.5 * width)), fontsize=12)
    _add_notes(figure, [_outside_note(view, [label]), _missing_note(runs)], width)
    return figure


def contour_figure(
    runs: Sequence[RunData],
    objective: Objective,
    coords: list[tuple[str, int]],
    title: str | None = None,
) -> Figure:
    """Contour lines of a 2-D objective with every run's path."""
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    template = objective.init(np.random.default_rng(0))
    paths = [_path(r, coords) for r in runs]
    minima = _minima_points(objective, coords)
    view = _view(runs, paths, [np.array(m[0]) for m in minima], len(coords))
    (xlow, ylow), (xhigh, yhigh) = view.low, view.high
    size = 240 if objective.elementwise else 90
    gx, gy = np.meshgrid(np.linspace(xlow, xhigh, size), np.linspace(ylow, yhigh, size))
    values = _evaluate(objective, coords, [gx, gy])
    figure = _figure(7.5, 6.0)
    ax = figure.subplots()
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        levels = np.geomspace(finite.min(), finite.max(), 25)
        filled = ax.contourf(gx, gy, values, levels=levels, norm=LogNorm(), cmap="viridis")
        ax.contour(gx, gy, values, levels=levels, colors="white", linewidths=0.3, alpha=0.5)
    elif finite.size:
        low = finite.min()
        shift = 1.0 - low if low <= 0 else 0.0
        levels = np.geomspace(low + shift, finite.max() + shift, 25) - shift
        levels = np.unique(levels)
        filled = ax.contourf(gx, gy, values, levels=levels, cmap="viridis")
        ax.contour(gx, gy, values, levels=levels, colors="white", linewidths=0.3, alpha=0.5)
    else:
        filled = None
    if filled is not None:
        names = ", ".join(dict.fromkeys(name for name, _ in coords))
        bar = figure.colorbar(filled, ax=ax, label=f"{objective.name}({names})")
        if isinstance(filled.norm, LogNorm):
            from matplotlib.ticker import LogFormatterSciNotation, LogLocator

            bar.ax.yaxis.set_major_locator(LogLocator())
            bar.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
    colors = _colors(len(runs))
    for run, points, color in zip(runs, paths, colors, strict=True):
        if points is None or not len(points):
            continue
        px, py = points[:, 0], points[:, 1]
        ax.plot(px, py, "-o", color=color, markersize=2.5, linewidth=1.2, label=run.label)
        ax.plot(px[:1], py[:1], "o", color=color, markersize=8, markeredgecolor="black")
        marker, size_ = _end_marker(run)
        ax.plot(
            np.clip(px[-1:], xlow, xhigh),
            np.clip(py[-1:], ylow, yhigh),
            marker,
            color=color,
            markersize=size_,
            markeredgecolor="black",
            clip_on=False,
            zorder=5,
        )
    for point, _kind in minima:
        ax.plot(*point, "P", color="white", markeredgecolor="black", markersize=10)
    ax.set_xlim(xlow, xhigh)
    ax.set_ylim(ylow, yhigh)
    ax.set_xlabel(_coord_label(coords, 0, template))
    ax.set_ylabel(_coord_label(coords, 1, template))
    handles, labels = ax.get_legend_handles_labels()
    keys = [("o", "start"), ("*", "end")]
    if any(r.diverged_at is not None for r in runs):
        keys.append(("X", "last finite iterate (diverged)"))
    if minima:
        keys.append(("P", "minimum"))
    for marker, text in keys:
        handles.append(
            Line2D([], [], marker=marker, linestyle="", color="0.8", markeredgecolor="black")
        )
        labels.append(text)
    ax.legend(handles, labels, loc="best", fontsize=8, title="run", title_fontsize=8)
    ax.set_title((f"{title}: " if title else "") + f"paths on the {objective.name} objective")
    names = [_coord_label(coords, i, template) for i in range(2)]
    _add_notes(figure, [_outside_note(view, names), _missing_note(runs)], 7.5)
    return figure


def _curve(ax: Axes, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> bool:
    mask = np.isfinite(y)
    if not mask.any():
        return False
    ax.plot(x[mask], y[mask], **kwargs)
    return True


def _log_if_positive(ax: Axes, series: list[np.ndarray]) -> None:
    """Log scale for positive values; symlog when zeros or negatives sit among many decades."""
    finite = [np.asarray(s)[np.isfinite(s)] for s in series]
    values = np.concatenate(finite) if finite else np.array([])
    if not values.size:
        return
    if values.min() > 0:
        ax.set_yscale("log")
        return
    nonzero = np.abs(values[values != 0])
    if nonzero.size and nonzero.max() / nonzero.min() > 100:
        ax.set_yscale("symlog", linthresh=float(nonzero.min()))


KIND_ORDER = ("grad", "update", "weight", "spread")
KIND_LABELS = {
    "grad": "‖∇ₖ L‖ by parameter",
    "update": "step ‖Δk‖ by parameter",
    "weight": "‖k‖ by parameter",
    "spread": "unit spread by parameter",
}
LOSS_METRIC_STYLES = ["--", ":", "-."]
ABSURD_DECADES = 6
"""A diverged run's last loss this many decades above every recorded loss is drawn on the edge."""
RUN_STYLES = [
    ("-", None),
    ("--", None),
    (":", None),
    ("-.", None),
    ("-", "o"),
    ("--", "s"),
    (":", "^"),
    ("-.", "v"),
]


def _natural(text: str) -> list[Any]:
    """Sort key: ``W2`` before ``W10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _metric_kinds(runs: Sequence[RunData]) -> dict[str, list[str]]:
    """Recorded metric columns other than ``*.loss``, grouped by kind (the part before the dot)."""
    names = {
        k
        for r in runs
        for k in r.trace
        if "." in k and not k.startswith("params.") and not k.endswith(".loss")
    }
    kinds: dict[str, list[str]] = {}
    for name in sorted(names, key=_natural):
        kinds.setdefault(name.partition(".")[0], []).append(name)
    order = [k for k in KIND_ORDER if k in kinds] + [k for k in kinds if k not in KIND_ORDER]
    return {k: sorted(kinds[k], key=lambda n: _natural(n.partition(".")[2])) for k in order}


def _legend_outside(ax: Axes, handles: list[Any], labels: list[str], title: str) -> None:
    """A legend right of the axes, in as many columns as its entries need to fit the panel."""
    columns = math.ceil(len(labels) / 12)
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=7,
        ncols=columns,
        title=title,
        title_fontsize=8,
    )


def curves_figure(runs: Sequence[RunData], title: str | None = None) -> Figure:
    """Loss (with recorded metrics), learning rate, gradient norm and diagnostics by step.

    A record's loss, gradient and learning rate belong to the step that produced it, so they are
    drawn at that step's 0-based index (the loss at the parameters it started from); ``grad.k``
    columns too, other metrics at the step count (the parameters after the step). Each kind of
    diagnostic (``grad``, ``update``, ``weight``, ``spread``, a split's metrics) gets a panel
    with one colour per parameter (layer) and one line style per run. A diverged run ends its
    loss curve with an ✕ at its last finite loss.
    """
    from matplotlib.lines import Line2D

    traced = [r for r in runs if r.recorded]
    run_colors = dict(zip([r.name for r in runs], _colors(len(runs)), strict=True))
    loss_metrics = sorted(
        {k for r in traced for k in r.trace if k.endswith(".loss") and "." in k}, key=_natural
    )
    kinds = _metric_kinds(traced)
    panels = [
        (key, label)
        for key, label in (
            ("loss", "loss"),
            ("lr", "learning rate"),
            ("grad_norm", "gradient norm ‖∇f‖"),
        )
        if any(key in r.trace for r in traced) or (key == "loss" and loss_metrics)
    ]
    panels += [(f"kind:{k}", KIND_LABELS.get(k, f"{k} metrics")) for k in kinds]
    if not panels:
        panels = [("loss", "loss")]
    width = 11.0 if kinds else 9.5
    figure = _figure(width, 2.6 * len(panels) + 0.8)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    empty: list[str] = []
    notes: list[str | None] = [_missing_note(runs)]
    for ax, (key, label) in zip(axes, panels, strict=True):
        series: list[np.ndarray] = []
        if key.startswith("kind:"):
            _kind_panel(ax, traced, kinds[key[5:]], series)
        else:
            drawn = {
                run.name: _main_curves(ax, run, key, run_colors[run.name], loss_metrics, series)
                for run in traced
            }
        cut = None
        if key == "loss":
            cut, note = _last_finite_losses(ax, traced, run_colors, series)
            notes.append(note)
            empty += [
                r.name
                for r in traced
                if not drawn[r.name] and not (r.diverged_at is not None and r.final_loss)
            ]
        _log_if_positive(ax, series)
        if cut is not None:
            values = np.concatenate([v[np.isfinite(v)] for v in series])
            low = float(values.min())
            if ax.get_yscale() == "log":
                ax.set_ylim(low / 2, cut * 2)
            else:
                ax.set_ylim(low - 0.05 * (cut - low), cut + 0.05 * (cut - low))
        ax.set_ylabel(textwrap.fill(label, 18))
        ax.grid(True, which="both", alpha=0.25)
    axes[-1].set_xlabel("step")
    if panels[0][0] == "loss":
        handles = [Line2D([], [], color=run_colors[r.name], linewidth=1.6) for r in traced]
        labels = [r.label for r in traced]
        for m, style in zip(loss_metrics, LOSS_METRIC_STYLES * len(loss_metrics), strict=False):
            handles.append(Line2D([], [], color="0.4", linestyle=style))
            labels.append(m)
        if any(r.diverged_at is not None for r in traced):
            handles.append(
                Line2D([], [], marker="X", linestyle="", color="0.8", markeredgecolor="black")
            )
            labels.append("last finite loss (diverged)")
        _legend_outside(axes[0], handles, labels, "run")
    if empty:
        notes.append(f"no finite loss recorded: {', '.join(empty)}")
    _add_notes(figure, notes, width)
    names = {"loss": "loss", "lr": "learning rate", "grad_norm": "gradient norm"}
    heading = ", ".join(names[k] for k, _ in panels if k in names)
    if kinds:
        heading += (" and " if heading else "") + ", ".join(kinds) + " diagnostics"
    figure.suptitle((f"{title}: " if title else "") + heading)
    return figure


def _main_curves(
    ax: Axes,
    run: RunData,
    key: str,
    color: Any,
    loss_metrics: list[str],
    series: list[np.ndarray],
) -> bool:
    """Draw one run's ``key`` column (and on the loss panel its ``*.loss`` metrics)."""
    trace = run.trace
    step = np.asarray(trace["step"], dtype=np.float64)
    drawn = False
    if key in trace:
        y = np.asarray(trace[key], dtype=np.float64)
        if _curve(ax, step - 1, y, color=color, linewidth=1.4):
            series.append(y)
            drawn = True
    if key != "loss":
        return drawn
    for m, style in zip(loss_metrics, LOSS_METRIC_STYLES * len(loss_metrics), strict=False):
        if m in trace:
            y = np.asarray(trace[m], dtype=np.float64)
            if _curve(ax, step, y, color=color, linestyle=style, linewidth=1.1):
                series.append(y)
                drawn = True
    return drawn


def _last_finite_losses(
    ax: Axes, runs: Sequence[RunData], colors: Mapping[str, Any], series: list[np.ndarray]
) -> tuple[float | None, str | None]:
    """Mark each diverged run's last finite loss with an ✕ (on the top edge when absurd).

    A last finite loss more than ``10**ABSURD_DECADES`` times above every recorded loss would
    squash the other curves to a line; such marks sit on the panel's top edge, and the
    returned note gives their values. Returns (the cut, if any, and the note).
    """
    marks = [
        (r, float(r.final_loss))
        for r in runs
        if r.diverged_at is not None
        and r.final_loss is not None
        and math.isfinite(float(r.final_loss))
    ]
    recorded = np.concatenate([s[np.isfinite(s)] for s in series] or [np.array([])])
    top = float(np.abs(recorded).max()) * 10.0**ABSURD_DECADES if recorded.size else math.inf
    clipped = [(r, v) for r, v in marks if abs(v) > top]
    for run, value in marks:
        shown = min(value, top)
        ax.plot(
            [run.final_step or 0],
            [shown],
            "X",
            color=colors[run.name],
            markersize=10,
            markeredgecolor="black",
            zorder=5,
            clip_on=False,
        )
        series.append(np.array([shown]))
    note = None
    if clipped:
        note = "loss axis cut above the recorded losses; last finite loss (✕ on the top edge): " + (
            "; ".join(f"{r.label}: {v:.3g} after {r.final_step} steps" for r, v in clipped)
        )
    return (top if clipped else None), note


def _kind_panel(
    ax: Axes, runs: Sequence[RunData], columns: list[str], series: list[np.ndarray]
) -> None:
    """One kind of diagnostic: a colour per column (parameter), a line style per run."""
    from matplotlib.lines import Line2D

    colors = _layer_colors(len(columns))
    styles = RUN_STYLES * math.ceil(len(runs) / len(RUN_STYLES))
    for run, (linestyle, marker) in zip(runs, styles, strict=False):
        step = np.asarray(run.trace["step"], dtype=np.float64)
        for column, color in zip(columns, colors, strict=True):
            if column not in run.trace:
                continue
            y = np.asarray(run.trace[column], dtype=np.float64)
            x = step - 1 if column.startswith("grad.") else step
            if _curve(
                ax,
                x,
                y,
                color=color,
                linestyle=linestyle,
                marker=marker,
                markersize=3,
                markevery=max(1, len(x) // 12),
                linewidth=1.2,
            ):
                series.append(y)
    handles: list[Any] = [Line2D([], [], color=c, linewidth=2) for c in colors]
    labels = [c.partition(".")[2] for c in columns]
    if len(runs) > 1:
        for run, (linestyle, marker) in zip(runs, styles, strict=False):
            handles.append(Line2D([], [], color="0.3", linestyle=linestyle, marker=marker))
            labels.append(run.label)
    kind = columns[0].partition(".")[0]
    _legend_outside(ax, handles, labels, kind + (" / run" if len(runs) > 1 else ""))


def _layer_colors(n: int) -> list[Any]:
    """Colours ordered from the first layer to the last (a sequential map beyond ten)."""
    from matplotlib import colormaps

    if n <= 10:
        return _colors(n)
    cmap = colormaps["viridis"]
    return [cmap(0.92 * i / (n - 1)) for i in range(n)]
