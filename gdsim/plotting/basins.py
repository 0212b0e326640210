"""``basins``: which minimum each starting point reaches, for every value of a hyperparameter.

For a two-axis cross sweep with a starting point on one axis (``basin_map.toml``: x₀ × μ), the
lower panel colours each (x₀, μ) cell by the minimum that run ended in (or none, or diverged);
when the objective has one coordinate the upper panel draws it over the same x₀ axis, so the
basins line up with the valleys they belong to. Needs no recorder: only the final iterates.
A scenario with several such sweeps gets one block per sweep, stacked.

This is the only picture of a basin map that ``gdsim run --plot`` draws (``--out`` without
``--plot`` draws :func:`gdsim.basin.plot_basin_map` instead), and it is drawn for sweeps of
thousands of runs: it uses a fixed layout and no per-run artists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim.plotting.common import PlotContext, coordinates, evaluate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gdsim.sweep import Sweep

NAME = "basins"
COLORS = {"global": "#2ca02c", "local": "#ff7f0e", "none": "#d9d9d9", "diverged": "#111111"}
EXTRA = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def draw(ctx: PlotContext) -> Figure | None:
    """The basin map of every sweep that is one, stacked (None when no sweep is)."""
    by_name = {r.name: r for r in ctx.runs}
    maps = [(s, o) for s in ctx.sweeps if (o := _basin_objective(ctx, s, by_name)) is not None]
    if not maps:
        return None
    # a fixed layout: the constrained one would cost as much as the rest of the figure, and a
    # basin map is drawn for sweeps of thousands of runs where --plot must stay cheap
    from matplotlib.figure import Figure

    heights = [6.6 if _has_landscape(s, o) else 4.8 for s, o in maps]
    figure = Figure(figsize=(9.0, sum(heights)))
    blocks = [figure] if len(maps) == 1 else figure.subfigures(len(maps), 1, height_ratios=heights)
    for block, (sweep, objective) in zip(blocks, maps, strict=True):
        _basin_block(block, ctx, sweep, objective, by_name)
    return figure


def _basin_objective(ctx: PlotContext, sweep: Sweep, by_name: dict[str, Any]) -> Any:
    """The objective of a sweep that makes a basin map (its first run's), else None."""
    from gdsim.basin import _scalars

    if sweep.mode != "cross" or len(sweep.axes) != 2:
        return None
    if not any(a.is_init and _scalars(a) for a in sweep.axes):
        return None
    if sweep.index in ctx.basins:  # results held as columns
        return ctx.basins[sweep.index][1]
    first = next((by_name[n] for n in sweep.runs if n in by_name), None)
    if first is None:
        return None
    return first.objective or ctx.objective


def _renumbered(matched: Any, minima: list[Any]) -> np.ndarray:
    """The classes of a sweep's summary as indices into ``minima`` (the summary numbers the
    union of its runs' minima; for one objective the two lists agree)."""
    from gdsim.results import to_jsonable

    position = {repr(to_jsonable(m)): i for i, m in enumerate(minima)}
    table = np.array(
        [position.get(repr(to_jsonable(m)), -1) for m in matched.minima] + [-1], dtype=np.int64
    )
    classes = np.asarray(matched.classes)
    return np.where(classes >= 0, table[np.clip(classes, 0, None)], classes)


def _has_landscape(sweep: Sweep, objective: Any) -> bool:
    from gdsim.basin import _scalars

    coords = coordinates(objective)
    init = [a for a in sweep.axes if a.is_init and _scalars(a)]
    return coords is not None and len(coords) == 1 and _scalars(init[-1])


def _basin_block(
    figure: Any, ctx: PlotContext, sweep: Sweep, objective: Any, by_name: dict[str, Any]
) -> None:
    from gdsim.basin import _axis_edges, _scalars, _sorted
    from gdsim.summary import DIVERGED, NONE, classify

    init = [i for i, a in enumerate(sweep.axes) if a.is_init and _scalars(a)]
    col, row = init[-1], 1 - init[-1]
    minima = list(objective.minima())
    rows, row_order = _sorted(sweep.axes[row])
    cols, col_order = _sorted(sweep.axes[col])
    row_at, col_at = np.argsort(row_order), np.argsort(col_order)
    codes = np.full((len(rows.values), len(cols.values)), np.nan)
    if sweep.index in ctx.basins:  # results held as columns: their classes per point
        matched = ctx.basins[sweep.index][0]
        points = np.asarray(sweep.points)[matched.present]
        found = _renumbered(matched, minima)
        codes[row_at[points[:, row]], col_at[points[:, col]]] = found[matched.present]
    else:
        for k, point in enumerate(sweep.points):
            run = by_name.get(sweep.runs[k])
            if run is not None:
                codes[row_at[point[row]], col_at[point[col]]] = classify(run, minima, sweep.tol)
    classes, names, colors = _classes(minima, DIVERGED, NONE)
    present = [i for i, c in enumerate(classes) if np.any(codes == c)]
    lookup = {c: i for i, c in enumerate(classes)}
    image = np.vectorize(
        lambda c: lookup.get(int(c), np.nan) if np.isfinite(c) else np.nan, otypes=[float]
    )(codes)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    coords = coordinates(objective)
    landscape = _has_landscape(sweep, objective)
    figure.subplots_adjust(left=0.08, right=0.72, top=0.9, bottom=0.1, hspace=0.15)
    if landscape:
        top, ax = figure.subplots(2, 1, sharex=True, height_ratios=[1, 2.2])
    else:
        top, ax = None, figure.subplots()
    x_edges, x_ticks = _axis_edges(cols)
    y_edges, y_ticks = _axis_edges(rows)
    ax.pcolormesh(
        x_edges, y_edges, image, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(classes) - 0.5
    )
    if x_ticks is not None:
        ax.set_xticks(np.arange(len(x_ticks)), list(x_ticks), rotation=45, ha="right")
    if y_ticks is not None:
        ax.set_yticks(np.arange(len(y_ticks)), list(y_ticks))
    ax.set_xlabel(f"starting point {cols.label} ({cols.path})")
    ax.set_ylabel(f"{rows.label} ({rows.path})")
    handles = [Patch(facecolor=colors[i], edgecolor="0.3", label=names[i]) for i in present]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="run ended in",
        title_fontsize=8,
    )
    if top is not None and coords is not None:
        xs = np.linspace(x_edges[0], x_edges[-1], 500)
        top.plot(xs, evaluate(objective, coords, [xs]), color="0.35", linewidth=1.6)
        for i, m in enumerate(minima):
            value = float(np.ravel(m["params"][coords[0][0]])[coords[0][1]])
            top.axvline(value, color=colors[lookup[i]], linewidth=2, alpha=0.8)
        top.set_ylabel(f"{objective.name}({cols.label})")
        top.grid(True, alpha=0.3)
        top.set_title("the objective over the same starting points", fontsize=9)
    figure.suptitle(ctx.heading(f"basins of attraction: {sweep.base}, {len(sweep.runs)} runs"))


def _classes(minima: list[dict[str, Any]], diverged: int, none: int) -> tuple[list, list, list]:
    from gdsim.summary import minimum_label

    classes, names, colors = (
        [diverged, none],
        ["diverged", "no minimum"],
        [COLORS["diverged"], COLORS["none"]],
    )
    extra = iter(EXTRA)
    seen_kinds: dict[str, int] = {}
    for i, m in enumerate(minima):
        kind = str(m.get("kind", "local"))
        classes.append(i)
        names.append(minimum_label(m))
        first = kind in COLORS and kind not in seen_kinds
        seen_kinds[kind] = seen_kinds.get(kind, 0) + 1
        colors.append(COLORS[kind] if first else next(extra, "#7f7f7f"))
    return classes, names, colors
