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

import math
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

FORMATS = ("png", "svg")
MAX_PANELS = 12
"""Above this many runs the 1-D paths share one panel."""


@attrs.frozen
class RunData:
    """What a plot needs of one run: name, status, trace columns, final parameters."""

    name: str
    status: str
    trace: Mapping[str, np.ndarray]
    final_params: Mapping[str, np.ndarray] = attrs.field(factory=dict)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise GdsimError(
            "plots need matplotlib, which is not installed (pip install 'gdsim[plot]')"
        ) from None


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
    data = [RunData(r.name, r.status, dict(r.trace), r.final_params) for r in runs]
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
        )
        for r in summary["runs"]
    ]
    scenario = summary.get("scenario") or {}
    figures = figures_for(runs, _objective_from(scenario), scenario.get("name"))
    return save_figures(figures, Path(out) if out is not None else folder / "plots", format)


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
    if any(len(r.trace.get("step", ())) for r in runs):
        figures["curves"] = curves_figure(runs, title)
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


def _span(values: list[np.ndarray], pad: float = 0.12) -> tuple[float, float]:
    finite = np.concatenate([v[np.isfinite(v)] for v in values if v is not None and v.size] or [])
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    width = high - low or max(abs(low), 1.0)
    return low - pad * width, high + pad * width


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

    name, index = coords[0]
    template = objective.init(np.random.default_rng(0))
    label = _coord_label(coords, 0, template)
    paths = [_coordinate(r.trace, name, index) for r in runs]
    minima = _minima_points(objective, coords)
    low, high = _span([*paths, np.array([m[0][0] for m in minima])])
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
    for k, (run, path) in enumerate(zip(runs, paths, strict=True)):
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
        if path is None:
            ax.text(0.5, 0.5, "no recorded path", transform=ax.transAxes, ha="center")
        else:
            fx = _evaluate(objective, coords, [path])
            if panels == 1 and len(runs) > 1:  # many runs on one panel: one colour per run
                color = run_colors[k]
                ax.plot(path, fx, "-o", color=color, markersize=3, linewidth=1, label=run.name)
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
            ax.scatter(
                path[-1:],
                fx[-1:],
                s=110,
                marker="*",
                color="tab:red",
                zorder=5,
                label="end" if k == 0 else None,
            )
        if panels > 1:
            ax.set_title(f"{run.name} ({run.status})", fontsize=10)
        ax.grid(True, alpha=0.3)
    if finite.size:
        span = finite.max() - finite.min() or 1.0
        axes[0][0].set_ylim(finite.min() - 0.05 * span, finite.max() + 0.08 * span)
    for k in range(panels, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for row in axes:
        row[0].set_ylabel(f"{objective.name}({label})")
    for ax in axes[-1]:
        ax.set_xlabel(label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][0].legend(handles, labels, loc="upper center", fontsize=8, ncols=1 + len(labels) // 8)
    heading = (f"{title}: " if title else "") + f"paths on the {objective.name} objective"
    if len(runs) == 1:
        heading = f"{runs[0].name} ({runs[0].status}): path on the {objective.name} objective"
    if panels > 1 or len(runs) == 1:
        heading += " (iterates coloured from early to late)"
    figure.suptitle(textwrap.fill(heading, width=int(10.5 * width)), fontsize=12)
    return figure


def contour_figure(
    runs: Sequence[RunData],
    objective: Objective,
    coords: list[tuple[str, int]],
    title: str | None = None,
) -> Figure:
    """Contour lines of a 2-D objective with every run's path."""
    from matplotlib.colors import LogNorm

    template = objective.init(np.random.default_rng(0))
    paths = [(_coordinate(r.trace, *coords[0]), _coordinate(r.trace, *coords[1])) for r in runs]
    minima = _minima_points(objective, coords)
    xlow, xhigh = _span([p[0] for p in paths] + [np.array([m[0][0] for m in minima])])
    ylow, yhigh = _span([p[1] for p in paths] + [np.array([m[0][1] for m in minima])])
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
    for run, (px, py), color in zip(runs, paths, colors, strict=True):
        if px is None or py is None:
            continue
        ax.plot(px, py, "-o", color=color, markersize=2.5, linewidth=1.2, label=run.name)
        ax.plot(px[:1], py[:1], "o", color=color, markersize=8, markeredgecolor="black")
        ax.plot(px[-1:], py[-1:], "*", color=color, markersize=14, markeredgecolor="black")
    for point, _kind in minima:
        ax.plot(*point, "X", color="white", markeredgecolor="black", markersize=10)
    ax.set_xlim(xlow, xhigh)
    ax.set_ylim(ylow, yhigh)
    ax.set_xlabel(_coord_label(coords, 0, template))
    ax.set_ylabel(_coord_label(coords, 1, template))
    ax.legend(loc="best", fontsize=8, title="run (○ start, ★ end, ✕ minimum)", title_fontsize=8)
    ax.set_title((f"{title}: " if title else "") + f"paths on the {objective.name} objective")
    return figure


def _curve(ax: Axes, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> bool:
    mask = np.isfinite(y)
    if not mask.any():
        return False
    ax.plot(x[mask], y[mask], **kwargs)
    return True


def _log_if_positive(ax: Axes, series: list[np.ndarray]) -> None:
    finite = [s[np.isfinite(s)] for s in series]
    values = np.concatenate(finite) if finite else np.array([])
    if values.size and values.min() > 0:
        ax.set_yscale("log")
    elif values.size:
        ax.set_yscale("symlog", linthresh=max(float(np.abs(values).min()), 1e-12) or 1e-12)


def curves_figure(runs: Sequence[RunData], title: str | None = None) -> Figure:
    """Loss (with recorded metrics), learning rate and gradient norm against the step.

    A record's loss, gradient and learning rate belong to the step that produced it, so they are
    drawn at that step's 0-based index (the loss at the parameters it started from).
    """
    panels = [("loss", "loss"), ("lr", "learning rate"), ("grad_norm", "gradient norm ‖∇f‖")]
    metric_names = sorted(
        {k for r in runs for k in r.trace if "." in k and not k.startswith("params.")}
    )
    extra = [m for m in metric_names if not m.endswith(".loss")]
    if extra:
        panels.append(("metrics", "metrics"))
    present = [
        (key, label)
        for key, label in panels
        if key == "metrics" or any(key in r.trace for r in runs)
    ]
    figure = _figure(9.0, 2.6 * len(present) + 0.6)
    axes = figure.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    colors = _colors(len(runs))
    for ax, (key, label) in zip(axes, present, strict=True):
        series = []
        for run, color in zip(runs, colors, strict=True):
            trace = run.trace
            if "step" not in trace:
                continue
            step = np.asarray(trace["step"], dtype=np.float64)
            if key == "metrics":
                for m, style in zip(extra, ("-", "--", ":", "-."), strict=False):
                    if m in trace:
                        y = np.asarray(trace[m], dtype=np.float64)
                        _curve(ax, step, y, color=color, linestyle=style, label=f"{run.name} {m}")
                continue
            if key not in trace:
                continue
            y = np.asarray(trace[key], dtype=np.float64)
            if _curve(ax, step - 1, y, color=color, linewidth=1.4, label=run.name):
                series.append(y)
            if key == "loss":
                for m in metric_names:
                    if m.endswith(".loss") and m in trace:
                        y = np.asarray(trace[m], dtype=np.float64)
                        _curve(
                            ax,
                            step,
                            y,
                            color=color,
                            linestyle="--",
                            linewidth=1.1,
                            label=f"{run.name} {m}",
                        )
                        series.append(y)
        if key != "metrics":
            _log_if_positive(ax, series)
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.25)
    axes[-1].set_xlabel("step")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        figure.legend(
            handles, labels, loc="outside right upper", fontsize=8, title="run", title_fontsize=9
        )
    if "metrics" in [k for k, _ in present]:
        axes[-1].legend(fontsize=7, loc="best")
    figure.suptitle((f"{title}: " if title else "") + "loss, learning rate and gradient norm")
    return figure
