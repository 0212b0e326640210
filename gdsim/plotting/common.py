"""What every figure shares: the runs' data, the objective's shape, colours, notes and panels.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no display) and
matplotlib is imported inside functions only, so ``import gdsim`` never needs it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.plotting.settings import PlotSettings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gdsim.components import Objective
    from gdsim.results import RunResult
    from gdsim.sweep import Sweep

RECORDER_HINT = 'add observers = [{ name = "recorder" }] to see paths and curves'
MAX_PANELS = 20
"""Small multiples: at most this many panels; more runs are grouped (or sampled evenly)."""
VIEW_LIMIT = 10.0
"""Path points farther than this many region sizes from the starts and minima are not framed."""
NOTE_NAMES = 8
"""A note lists at most this many run names, then says how many more."""


@attrs.frozen
class RunData:
    """What a figure needs of one run: name, status, trace columns, final (last finite) values.

    ``objective`` is the run's own objective (a run may override the scenario's, e.g. a wider
    network); ``group`` names the panel a run shares with others when there are too many runs
    for one panel each (a sweep point without its starting values); ``swept`` holds the run's
    swept values by axis label; ``rule`` is its update rule's name.
    """

    name: str
    status: str
    trace: Mapping[str, np.ndarray]
    final_params: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    final_step: int | None = None
    final_loss: float | None = None
    diverged_at: int | None = None
    objective: Objective | None = None
    group: str | None = None
    swept: Mapping[str, Any] = attrs.field(factory=dict)
    rule: str | None = None
    elapsed: float | None = None
    outputs: Mapping[str, Any] = attrs.field(factory=dict)
    """The observers' outputs (``early_stopping``: ``best_step``, ``stopped_at``)."""
    init_from: str | None = None
    """The saved weights the run started from (``init = { from = … }``), if any."""

    @classmethod
    def from_result(cls, run: RunResult, sweeps: Sequence[Sweep] = ()) -> RunData:
        """The plot data of a :class:`~gdsim.results.RunResult` (and its sweep point, if any)."""
        spec = run.spec
        group, swept = sweep_point(run.name, sweeps)
        return cls(
            name=run.name,
            status=run.status,
            trace=dict(run.trace),
            final_params=run.final_params,
            final_step=run.final_step,
            final_loss=run.final_loss,
            diverged_at=run.diverged_at,
            objective=None if spec is None else spec.objective,
            group=group,
            swept=swept,
            rule=None if spec is None else getattr(spec.rule, "name", None),
            elapsed=run.elapsed or None,
            outputs=dict(run.outputs or {}),
            init_from=None if spec is None or spec.init_from is None else spec.init_from.path,
        )

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

    @property
    def state(self) -> str:
        """``completed``, ``converged`` … or ``diverged@N``."""
        return self.status if self.diverged_at is None else f"diverged@{self.diverged_at}"


_positions: dict[int, tuple[Any, dict[str, int]]] = {}


def _position(sweep: Sweep, name: str) -> int | None:
    """The run's index in the sweep (a dictionary per sweep: sweeps have millions of runs)."""
    cached = _positions.get(id(sweep))
    if cached is None or cached[0] is not sweep:
        cached = (sweep, {run: k for k, run in enumerate(sweep.runs)})
        _positions.clear()  # one sweep at a time: never keeps old sweeps alive
        _positions[id(sweep)] = cached
    return cached[1].get(name)


def sweep_point(name: str, sweeps: Sequence[Sweep]) -> tuple[str | None, dict[str, Any]]:
    """The group (sweep base and its non-starting-point values) and swept values of a run."""
    for sweep in sweeps:
        k = _position(sweep, name)
        if k is None:
            continue
        swept = {a.label: sweep.value(k, i) for i, a in enumerate(sweep.axes)}
        texts = [
            f"{a.label}={a.texts[sweep.points[k][i]]}"
            for i, a in enumerate(sweep.axes)
            if not a.is_init
        ]
        return (f"{sweep.base}[{','.join(texts)}]" if texts else sweep.base), swept
    return None, {}


@attrs.frozen
class PlotContext:
    """Everything a figure function reads: the runs, the objective, the title, the settings."""

    runs: tuple[RunData, ...]
    objective: Objective | None = None
    title: str | None = None
    settings: PlotSettings = attrs.field(factory=PlotSettings)
    sweeps: tuple[Sweep, ...] = ()
    basins: Mapping[int, Any] = attrs.field(factory=dict)
    """Sweeps whose results are columns (their runs are not in ``runs``): by the sweep's
    index, the :class:`gdsim.summary.SweepRuns` of its results (classes per point) and its
    objective."""

    @property
    def recorded(self) -> list[RunData]:
        return [r for r in self.runs if r.recorded]

    def heading(self, what: str) -> str:
        return (f"{self.title}: " if self.title else "") + what


# --------------------------------------------------------------------------------------------
# matplotlib helpers


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from gdsim.extras import missing_extra

        raise missing_extra("plot", "plots", "matplotlib") from None


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def run_colors(n: int) -> list[Any]:
    """``n`` distinct colours: tab10 up to ten, tab20 (dark then light shade) up to twenty."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        cmap = colormaps["tab20"]
        return [cmap(2 * i if i < 10 else 2 * (i - 10) + 1) for i in range(n)]
    cmap = colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def layer_colors(n: int) -> list[Any]:
    """Colours from the first layer (dark) to the last (light), in a sequential colormap."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(n - 1, 1)) for i in range(n)]


def grid_shape(panels: int) -> tuple[int, int]:
    """Rows and columns of a small-multiples grid: as square as it can be, at most 5 wide."""
    columns = {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 3}.get(panels)
    if columns is None:
        columns = 4 if panels <= 16 else 5
    return math.ceil(panels / columns), columns


def add_notes(figure: Figure, notes: Sequence[str | None], width: float) -> None:
    """Notes under the figure (what is clipped or not shown), wrapped to its width."""
    text = "\n".join(textwrap.fill(n, width=int(14 * width)) for n in notes if n)
    if text:
        figure.supxlabel(text, fontsize=8, color="0.25")


def names_list(names: Sequence[str]) -> str:
    """``a, b, c`` or ``a, b, … and 12 more``: never a page of names."""
    if len(names) <= NOTE_NAMES:
        return ", ".join(names)
    return ", ".join(names[: NOTE_NAMES - 2]) + f", … and {len(names) - NOTE_NAMES + 2} more"


def missing_note(runs: Sequence[RunData], unrecorded: int = 0) -> str | None:
    """One line about runs without a recorded trace, with their count and the fix
    (``unrecorded``: more such runs, of sweeps held as columns, not in ``runs``)."""
    missing = [r.name for r in runs if not r.recorded]
    if unrecorded:
        if len(missing) == len(runs):
            return f"{len(missing) + unrecorded} runs recorded no trace ({RECORDER_HINT})"
        listed = f"{names_list(missing)} and " if missing else ""
        return f"not shown, no recorder: {listed}{unrecorded} swept runs ({RECORDER_HINT})"
    if not missing:
        return None
    if len(missing) == len(runs) and len(runs) > NOTE_NAMES:
        return f"{len(missing)} runs recorded no trace ({RECORDER_HINT})"
    return f"not shown, no recorder: {names_list(missing)} ({RECORDER_HINT})"


def natural(text: str) -> list[Any]:
    """Sort key: ``W2`` before ``W10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def legend_outside(ax: Axes, handles: list[Any], labels: list[str], title: str) -> None:
    """A legend right of the axes, in as many columns as its entries need to fit the panel."""
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=7,
        ncols=math.ceil(len(labels) / 14),
        title=title,
        title_fontsize=8,
    )


def spans_decades(values: np.ndarray, decades: float = 1.5) -> bool:
    """Whether positive ``values`` span more than ``decades`` orders of magnitude."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size or values.min() <= 0:
        return False
    return bool(np.log10(values.max() / values.min()) > decades)


def choose_scale(ax: Axes, series: Sequence[np.ndarray], linear: bool = False) -> None:
    """Log scale only where positive values span decades; symlog for signed ones that do."""
    finite = [np.asarray(s, dtype=np.float64) for s in series]
    finite = [s[np.isfinite(s)] for s in finite]
    values = np.concatenate(finite) if finite else np.array([])
    if linear or not values.size:
        return
    if values.min() > 0:
        if spans_decades(values):
            ax.set_yscale("log")
        return
    nonzero = np.abs(values[values != 0])
    if nonzero.size and spans_decades(nonzero, 2.0):
        ax.set_yscale("symlog", linthresh=float(nonzero.min()))


# --------------------------------------------------------------------------------------------
# the objective's shape, paths and views


def coordinates(objective: Objective) -> list[tuple[str, int]] | None:
    """``[(param, index)]`` when the objective has one or two scalar coordinates, else None."""
    try:
        params = objective.init(np.random.default_rng(0))
    except Exception:
        return None
    coords = [(name, i) for name, value in params.items() for i in range(int(np.size(value)))]
    return coords if len(coords) in (1, 2) else None


def coord_label(objective: Objective, coords: list[tuple[str, int]], i: int) -> str:
    template = objective.init(np.random.default_rng(0))
    name, index = coords[i]
    return name if np.size(template[name]) == 1 else f"{name}[{index}]"


def evaluate(objective: Objective, coords: list[tuple[str, int]], grid: list[np.ndarray]) -> Any:
    """The loss on a grid of coordinates (vectorised when the objective is elementwise)."""
    template = objective.init(np.random.default_rng(0))
    shape = np.shape(grid[0])

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


def minima_points(objective: Objective, coords: list[tuple[str, int]]) -> list[tuple[Any, str]]:
    """The objective's known minima as ``(point, kind)``."""
    found: list[tuple[Any, str]] = []
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


def run_path(run: RunData, coords: list[tuple[str, int]]) -> np.ndarray | None:
    """The run's recorded iterates as an ``(n, len(coords))`` array of finite points.

    A diverged run's path ends at its last finite iterate (``final_params`` after
    ``final_step`` steps): later rows are dropped and that iterate is added when the trace
    stops short of it (traces written before the recorder kept it).
    """
    columns = []
    for name, index in coords:
        values = run.trace.get(f"params.{name}")
        if values is None or len(values) == 0:
            return None
        values = np.asarray(values, dtype=np.float64)
        columns.append(values.reshape(len(values), -1)[:, index])
    points = np.column_stack(columns)
    steps = run.trace.get("step")
    if run.diverged_at is not None and run.final_step is not None and steps is not None:
        steps = np.asarray(steps)
        if len(steps) == len(points):
            keep = steps <= run.final_step
            points = points[keep]
            last = int(steps[keep][-1]) if keep.any() else -1
            end = final_point(run, coords)
            if last < run.final_step and end is not None:
                points = np.vstack([points, end[None, :]])
    return points[np.isfinite(points).all(axis=1)]


def final_point(run: RunData, coords: list[tuple[str, int]]) -> np.ndarray | None:
    try:
        return np.array([float(np.ravel(run.final_params[n])[i]) for n, i in coords])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


@attrs.frozen
class View:
    """The box a path figure shows, and the runs whose iterates leave it."""

    low: np.ndarray
    high: np.ndarray
    outside: list[tuple[str, np.ndarray]]


def frame(
    runs: Sequence[RunData],
    paths: Sequence[np.ndarray | None],
    anchors: list[np.ndarray],
    dim: int,
) -> View:
    """Frame the paths, but not iterates far outside the region of the starts and minima.

    The region is the box around every path's start and the objective's known minima; points
    more than ``VIEW_LIMIT`` region sizes beyond it (a diverging run's 1e9) are not framed, and
    the runs that reach them are listed so the figure can say so.
    """
    starts = [p[0] for p in paths if p is not None and len(p)]
    region = np.array([*starts, *anchors]).reshape(-1, dim)
    if region.size == 0:
        return View(-np.ones(dim), np.ones(dim), [])
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
    return View(low - 0.08 * width, high + 0.08 * width, outside)


def outside_note(view: View, labels: list[str]) -> str | None:
    if not view.outside:
        return None
    ends = "; ".join(
        f"{name} ends at {', '.join(f'{v:.3g}' for v in point)}" for name, point in view.outside
    )
    return (
        f"view clipped to the region of the starts and minima ({', '.join(labels)}); "
        f"iterates outside it are not shown, their last marker sits on the edge: {ends}"
    )


def end_marker(run: RunData) -> tuple[str, float]:
    """A diverged run ends with an ✕ at its last finite iterate, any other with a ★."""
    return ("X", 11.0) if run.diverged_at is not None else ("*", 14.0)


def panel_groups(runs: Sequence[RunData]) -> tuple[list[tuple[str, list[RunData]]], str | None]:
    """Small multiples: one panel per run, or per group when there are too many runs.

    Up to :data:`MAX_PANELS` runs get a panel each. More runs share a panel per ``group`` (a
    sweep point without its starting values: every start of one μ in one panel); when even
    the groups are too many, :data:`MAX_PANELS` of them are taken evenly and a note says so.
    """
    if len(runs) <= MAX_PANELS:
        return [(r.name, [r]) for r in runs], None
    groups: dict[str, list[RunData]] = {}
    for run in runs:
        groups.setdefault(run.group or run.name, []).append(run)
    items = list(groups.items())
    note = None
    if len(items) > MAX_PANELS:
        keep = np.unique(np.linspace(0, len(items) - 1, MAX_PANELS).round().astype(int))
        note = f"{len(keep)} of {len(items)} groups of runs shown, evenly spaced"
        items = [items[k] for k in keep]
    return items, note
