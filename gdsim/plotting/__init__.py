"""Figures of runs: paths on the objective, curves, what a network learned, basin maps.

Every kind of figure is one module with a ``NAME`` and a ``draw(ctx) -> Figure | None``
function of the results (:class:`~gdsim.plotting.common.PlotContext`); it returns None when the
runs have nothing for it to show. A new figure is one new module added to :data:`FIGURES`.

=================  =========================================================================
``landscape``      paths on a one-coordinate objective, one panel per run (or per group)
``contours``       paths on a two-coordinate objective's grey level lines, one panel per run
``curves``         loss, accuracy, learning rate, gradient norm against steps/epochs/samples/time
``layers``         per-layer gradient, step, weight norms and unit spread over time
``gradient_bars``  each layer's gradient norm as bars at chosen steps
``boundary``       a 2-D classifier's decision boundary over its training and validation points
``fit``            a 1-D regression network's output against its data
``basins``         which minimum each start reaches, over a swept hyperparameter
=================  =========================================================================

Figures are built with :class:`matplotlib.figure.Figure` and saved through the Agg and SVG
canvases: no display, no pyplot state. matplotlib is the optional extra ``gdsim[plot]``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim.errors import GdsimError
from gdsim.fileio import atomic_open, inside, safe_name
from gdsim.plotting import (
    basins,
    boundary,
    contours,
    curves,
    fit,
    gradient_bars,
    landscape,
    layers,
)
from gdsim.plotting.common import (
    PlotContext,
    RunData,
    missing_note,
    require_matplotlib,
    sweep_point,
)
from gdsim.plotting.settings import PlotSettings, parse_plot_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gdsim.components import Objective
    from gdsim.results import Results, RunResult
    from gdsim.sweep import Sweep

__all__ = [
    "FIGURES",
    "FORMATS",
    "PlotContext",
    "PlotSettings",
    "RunData",
    "animate_folder",
    "animate_results",
    "contour_figure",
    "curves_figure",
    "figures_for",
    "landscape_figure",
    "parse_plot_table",
    "plot_folder",
    "plot_results",
    "plot_runs",
    "save_figures",
]

log = logging.getLogger("gdsim")

FORMATS = ("png", "svg")
FIGURES = (landscape, contours, curves, layers, gradient_bars, boundary, fit, basins)
"""Every kind of figure, in the order they are drawn and listed."""
FIGURE_NAMES = tuple(module.NAME for module in FIGURES)


@contextmanager
def quiet_matplotlib() -> Iterator[None]:
    """No matplotlib warning reaches the terminal: layout warnings are about our own sizes."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="matplotlib")
        warnings.filterwarnings("ignore", message=".*constrained_layout.*")
        warnings.filterwarnings("ignore", message=".*tight_layout.*")
        yield


# --------------------------------------------------------------------------------------------
# figures from results


def figures_for(
    runs: Sequence[RunData],
    objective: Objective | None,
    title: str | None = None,
    settings: PlotSettings | None = None,
    sweeps: Sequence[Sweep] = (),
    basins: Mapping[int, Any] | None = None,
) -> dict[str, Figure]:
    """Every figure that the runs' data allows, by name (``basins``: sweeps held as columns,
    see :attr:`PlotContext.basins`)."""
    require_matplotlib()
    ctx = PlotContext(
        tuple(runs), objective, title, settings or PlotSettings(), tuple(sweeps), basins or {}
    )
    figures: dict[str, Figure] = {}
    if not runs and not basins:
        return figures
    with quiet_matplotlib():
        for module in FIGURES:
            figure = module.draw(ctx)
            if figure is not None:
                figures[module.NAME] = figure
    held = sum(int(np.count_nonzero(m.present)) for m, _ in (basins or {}).values())
    note = missing_note(runs, held)
    if note is not None:
        drawn = ", ".join(figures) or "no figure"
        log.warning("plots: %s; drew %s", note, drawn)
    return figures


def _columnar_sweeps(results: Results) -> dict[int, tuple[int, Any, Any]]:
    """The sweeps whose results are held as columns: by sweep index, where their runs start,
    their :func:`gdsim.summary.collect` and their objective."""
    from gdsim.results import RunList
    from gdsim.summary import _entry, collect

    if not isinstance(results.runs, RunList) or not results.runs.columnar:
        return {}
    held = {}
    for sweep in results.scenario.sweeps:
        found = _entry(results, sweep)
        if found is None:
            continue
        start, entry = found
        if results.runs.columns(start, start + len(sweep.points)) is None:
            continue
        held[sweep.index] = (start, collect(results, sweep), entry.template.objective)
    return held


def _context_args(runs: Sequence[RunResult], sweeps: Sequence[Sweep]) -> Any:
    data = [RunData.from_result(r, sweeps) for r in runs]
    objective = next((r.spec.objective for r in runs if r.spec is not None), None)
    return data, objective


def plot_runs(
    runs: Sequence[RunResult],
    out: str | Path | None = None,
    format: str = "png",
    title: str | None = None,
    settings: PlotSettings | None = None,
    sweeps: Sequence[Sweep] = (),
) -> dict[str, Figure]:
    """The figures of ``runs`` (results of one scenario), saved into ``out`` when given."""
    _check_format(format)
    data, objective = _context_args(runs, sweeps)
    figures = figures_for(data, objective, title, settings, sweeps)
    if out is not None:
        save_figures(figures, Path(out), format)
    return figures


def plot_results(
    results: Results, out: str | Path | None = None, format: str = "png"
) -> dict[str, Figure]:
    """The figures of a scenario's results, with its ``[plot]`` settings and sweeps.

    A sweep whose results are columns is read as columns (its basin map from the classes of
    its points), not as one run object per point: its runs have no trace to draw.
    """
    scenario = results.scenario
    held = _columnar_sweeps(results)
    if held:
        _check_format(format)
        covered = np.zeros(len(results.runs), dtype=bool)
        for start, matched, _ in held.values():
            covered[start : start + len(matched.classes)] = True
        runs = [results.runs[i] for i in np.flatnonzero(~covered).tolist()]
        data, objective = _context_args(runs, scenario.sweeps)
        if objective is None:
            objective = next(iter(held.values()))[2]
        basins = {index: (matched, objective) for index, (_, matched, objective) in held.items()}
        figures = figures_for(
            data,
            objective,
            scenario.name,
            getattr(scenario, "plot", None),
            scenario.sweeps,
            basins,
        )
        if out is not None:
            save_figures(figures, Path(out), format)
        return figures
    return plot_runs(
        results.runs,
        out=out,
        format=format,
        title=scenario.name,
        settings=getattr(scenario, "plot", None),
        sweeps=scenario.sweeps,
    )


def save_figures(figures: Mapping[str, Figure], out: Path, format: str = "png") -> list[Path]:
    """Write each figure as ``out/NAME.FORMAT`` atomically; return the paths."""
    _check_format(format)
    paths = []
    with quiet_matplotlib():
        for name, figure in figures.items():
            path = inside(out, f"{safe_name(name)}.{format}")  # never outside ``out``
            with atomic_open(path, "wb") as handle:
                figure.savefig(handle, format=format, dpi=110)
            paths.append(path)
    return paths


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise GdsimError(f"unknown plot format '{format}' (expected one of: {', '.join(FORMATS)})")


# --------------------------------------------------------------------------------------------
# figures from a results folder


def plot_folder(
    folder: str | Path, format: str = "png", out: str | Path | None = None
) -> list[Path]:
    """Draw the figures of a results folder into ``out`` (default ``FOLDER/plots``)."""
    _check_format(format)
    folder = Path(folder)
    ctx = context_from_folder(folder)
    figures = figures_for(ctx.runs, ctx.objective, ctx.title, ctx.settings, ctx.sweeps, ctx.basins)
    return save_figures(figures, Path(out) if out is not None else folder / "plots", format)


def context_from_folder(folder: Path) -> PlotContext:
    """The plot context of a results folder: its summary, traces and rebuilt scenario."""
    from gdsim.report import read_results

    summary = read_results(folder)
    scenario_info = summary.get("scenario") or {}
    scenario = _scenario_from(scenario_info)
    names = {str(r.get("name")) for r in summary["runs"]}
    specs = _specs_named(scenario, names) if scenario is not None else {}
    sweeps = scenario.sweeps if scenario is not None else ()
    basins = _folder_basins(folder, scenario) if "aggregate" in summary else {}
    runs = []
    for r in summary["runs"]:
        final = r.get("final") or {}
        name = str(r.get("name"))
        spec = specs.get(name)
        group, swept = sweep_point(name, sweeps)
        runs.append(
            RunData(
                name=name,
                status=str(r.get("status")),
                trace=r.get("trace", {}),
                final_params={
                    k: np.asarray(v, dtype=np.float64)
                    for k, v in (final.get("params") or {}).items()
                    if v is not None
                },
                final_step=final.get("step"),
                final_loss=_float_or_none(final.get("loss")),
                diverged_at=r.get("diverged_at"),
                objective=None if spec is None else spec.objective,
                group=group,
                swept=swept,
                rule=None if spec is None else getattr(spec.rule, "name", None),
            )
        )
    objective = scenario.runs[0].objective if scenario is not None else None
    return PlotContext(
        tuple(runs),
        objective,
        scenario_info.get("name"),
        getattr(scenario, "plot", None) or PlotSettings(),
        tuple(sweeps),
        basins,
    )


def _specs_named(scenario: Any, names: set[str]) -> dict[str, Any]:
    """The scenario's runs named in ``names`` (a big sweep's other runs are not made)."""
    from gdsim.runs import Runs, SweepRuns

    runs = scenario.runs
    if not isinstance(runs, Runs):
        return {s.name: s for s in runs if s.name in names}
    found = {}
    for item in runs.items:
        if not isinstance(item, SweepRuns):
            if item.name in names:
                found[item.name] = item
            continue
        wanted = {n for n in names if n.startswith(f"{item.sweep.base}[")}
        if wanted:
            for k, name in enumerate(item.sweep.runs):
                if name in wanted:
                    found[name] = item[k]
    return found


def _folder_basins(folder: Path, scenario: Any) -> dict[int, Any]:
    """For a summary that aggregates its sweeps: each sweep's classes per point, read from
    its columns file (``sweep_NAME.parquet``/``.npz``) and minima from ``sweeps.json``."""
    import json

    from gdsim.fileio import read_regular
    from gdsim.report import MAX_SUMMARY_BYTES
    from gdsim.summary import SweepRuns, _entry_of

    if scenario is None:
        return {}
    try:
        listed = json.loads(read_regular(folder / "sweeps.json", MAX_SUMMARY_BYTES, "sweeps"))
    except (OSError, ValueError, GdsimError):
        return {}
    minima = {s.get("run"): s.get("minima") for s in listed if isinstance(s, dict)}
    out = {}
    for sweep in scenario.sweeps:
        entry = _entry_of(scenario, sweep)
        found = minima.get(f"runs[{sweep.index}]")
        if entry is None or not isinstance(found, list):
            continue
        columns = _sweep_file_columns(folder, sweep, ("present", "minimum"))
        if columns is None or len(columns["minimum"]) != len(sweep.points):
            continue
        matched = SweepRuns(
            sweep,
            None,
            tuple(found),
            np.asarray(columns["minimum"], dtype=np.int64),
            present=np.asarray(columns["present"], dtype=bool),
        )
        out[sweep.index] = (matched, entry.template.objective)
    return out


def _sweep_file_columns(folder: Path, sweep: Any, names: Sequence[str]) -> dict | None:
    """Columns ``names`` of a sweep's results table in ``folder`` (None when unreadable)."""
    base = f"sweep_{safe_name(sweep.base)}"
    try:
        if (folder / f"{base}.parquet").is_file():
            import pyarrow.parquet as pq

            table = pq.read_table(folder / f"{base}.parquet", columns=list(names))
            return {n: table.column(n).to_numpy() for n in names}
        if (folder / f"{base}.npz").is_file():
            with np.load(folder / f"{base}.npz", allow_pickle=False) as data:
                return {n: data[n] for n in names}
    except Exception:  # a damaged or foreign file: no basin map, the rest still draws
        return None
    return None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _scenario_from(info: Mapping[str, Any]) -> Any:
    """Rebuild the scenario from the definition stored in a summary, if possible."""
    from gdsim.scenario import load_mapping

    definition = info.get("definition")
    if not isinstance(definition, Mapping):
        return None
    try:
        return load_mapping(definition, source=str(info.get("source", "<summary>")))
    except GdsimError:
        return None


# --------------------------------------------------------------------------------------------
# animations


def animate_results(
    results: Results, out: str | Path, format: str = "auto", max_frames: int | None = None
) -> list[Path]:
    """Write the runs' paths moving over the objective: ``out/landscape.gif`` (or contours)."""
    from gdsim.plotting import animation

    scenario = results.scenario
    data, objective = _context_args(results.runs, scenario.sweeps)
    ctx = PlotContext(
        tuple(data),
        objective,
        scenario.name,
        getattr(scenario, "plot", None) or PlotSettings(),
        tuple(scenario.sweeps),
    )
    return animation.animate(ctx, Path(out), format, max_frames)


def animate_folder(
    folder: str | Path,
    out: str | Path | None = None,
    format: str = "auto",
    max_frames: int | None = None,
) -> list[Path]:
    """The animations of a results folder, into ``out`` (default ``FOLDER/plots``)."""
    from gdsim.plotting import animation

    folder = Path(folder)
    ctx = context_from_folder(folder)
    return animation.animate(
        ctx, Path(out) if out is not None else folder / "plots", format, max_frames
    )


# --------------------------------------------------------------------------------------------
# the single figures, for callers of the former module


def landscape_figure(runs: Sequence[RunData], objective: Objective, title: str | None = None):
    """The ``landscape`` figure of ``runs`` (None when nothing can be drawn)."""
    return landscape.draw(PlotContext(tuple(runs), objective, title))


def contour_figure(runs: Sequence[RunData], objective: Objective, title: str | None = None):
    """The ``contours`` figure of ``runs`` (None when nothing can be drawn)."""
    return contours.draw(PlotContext(tuple(runs), objective, title))


def curves_figure(runs: Sequence[RunData], title: str | None = None, settings=None):
    """The ``curves`` figure of ``runs`` (None when no run recorded a trace)."""
    return curves.draw(PlotContext(tuple(runs), None, title, settings or PlotSettings()))
