"""Basin-of-attraction maps: starting point × hyperparameter, coloured by the minimum reached.

A two-axis cross sweep with a starting point (an ``init`` axis) on one axis gives a grid: one
column per starting value, one row per value of the other axis (μ, α, …). Each cell says which
minimum of the objective that run ended in (see :mod:`gdsim.summary`), none, or divergence.
:func:`format_basin_map` draws it as text, one character per cell; :func:`plot_basin_map`
draws it with matplotlib (an optional dependency, imported only here; no pyplot).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.results import Results
from gdsim.summary import DIVERGED, NONE, collect, minimum_label
from gdsim.sweep import Axis, Sweep

NONE_SYMBOL = "."
DIVERGED_SYMBOL = "!"
MISSING_SYMBOL = " "
MISSING = -3


@attrs.frozen
class BasinGrid:
    """Which minimum each (row value, column value) run reached."""

    name: str
    rows: Axis
    columns: Axis
    codes: np.ndarray
    """Shape (len(rows), len(columns)): minimum index, NONE, DIVERGED or MISSING."""
    minima: tuple[dict[str, Any], ...]

    def symbols(self) -> dict[int, str]:
        """One character per class: '#' for a single global minimum, letters otherwise."""
        globals_ = [i for i, m in enumerate(self.minima) if m.get("kind") == "global"]
        out: dict[int, str] = {NONE: NONE_SYMBOL, DIVERGED: DIVERGED_SYMBOL, MISSING: " "}
        upper, lower = iter(string.ascii_uppercase), iter(string.ascii_lowercase)
        for i, _ in enumerate(self.minima):
            if i in globals_:
                out[i] = "#" if len(globals_) == 1 else next(upper, "?")
            else:
                out[i] = next(lower, "?")
        return out


def basin_grid(results: Results, sweep: Sweep) -> BasinGrid | None:
    """The grid of a two-axis cross sweep with a scalar starting-point axis, else None."""
    if sweep.mode != "cross" or len(sweep.axes) != 2:
        return None
    init = [a for a, axis in enumerate(sweep.axes) if axis.is_init and _scalars(axis)]
    if not init:
        return None
    col = init[-1]
    row = 1 - col
    matched = collect(results, sweep)
    rows, row_order = _sorted(sweep.axes[row])
    columns, col_order = _sorted(sweep.axes[col])
    row_at, col_at = np.argsort(row_order), np.argsort(col_order)  # written index → position
    codes = np.full((len(rows.values), len(columns.values)), MISSING)
    points = np.asarray(sweep.points)[matched.present]
    codes[row_at[points[:, row]], col_at[points[:, col]]] = matched.classes[matched.present]
    return BasinGrid(sweep.base, rows, columns, codes, matched.minima)


def _scalars(axis: Axis) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in axis.values)


def _sorted(axis: Axis) -> tuple[Axis, np.ndarray]:
    """The axis with numeric values in increasing order (others as written), and the order."""
    if not _scalars(axis):
        return axis, np.arange(len(axis.values))
    order = np.argsort(np.asarray(axis.values, dtype=np.float64), kind="stable")
    return (
        attrs.evolve(
            axis,
            values=tuple(axis.values[j] for j in order),
            texts=tuple(axis.texts[j] for j in order),
        ),
        order,
    )


def format_basin_map(grid: BasinGrid, max_columns: int = 120) -> str:
    """The grid as text: one line per row value, one character per starting value."""
    symbols = grid.symbols()
    columns = np.arange(grid.codes.shape[1])
    if len(columns) > max_columns:  # keep the picture on one screen: sample evenly
        columns = np.unique(np.linspace(0, len(columns) - 1, max_columns).round().astype(int))
    labels = [f"{grid.rows.label}={t}" for t in grid.rows.texts]
    width = max(len(s) for s in labels)
    first, last = grid.columns.texts[columns[0]], grid.columns.texts[columns[-1]]
    lines = [
        f"basin map of {grid.name}: rows {grid.rows.label}, columns {grid.columns.label} "
        f"from {first} to {last}"
    ]
    for r in range(grid.codes.shape[0] - 1, -1, -1):  # largest row value on top
        cells = "".join(symbols[int(c)] for c in grid.codes[r, columns])
        lines.append(f"{labels[r].rjust(width)} |{cells}|")
    axis = f"{grid.columns.label}={first}"
    end = f"{grid.columns.label}={last}"
    gap = max(len(columns) - len(axis), len(end) + 1)  # keep the two labels apart
    lines.append(" " * (width + 2) + axis + end.rjust(gap))
    legend = [f"{symbols[i]} {minimum_label(m)}" for i, m in enumerate(grid.minima)]
    legend += [f"{NONE_SYMBOL} no minimum", f"{DIVERGED_SYMBOL} diverged"]
    lines.append("legend: " + "; ".join(legend))
    return "\n".join(lines)


def plot_basin_map(grid: BasinGrid, path: str | Path, root: str | Path | None = None) -> Path:
    """Draw the grid as a PNG at ``path`` (atomically, under ``root`` when given).

    Raises ImportError without matplotlib.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from gdsim.fileio import atomic_open

    classes = [DIVERGED, NONE, *range(len(grid.minima))]
    names = ["diverged", "no minimum", *(minimum_label(m) for m in grid.minima)]
    palette = ["#d62728", "#c7c7c7", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    colours = [palette[i % len(palette)] for i in range(len(classes))]
    lookup = {c: i for i, c in enumerate(classes)}
    image = np.vectorize(lambda c: lookup.get(int(c), np.nan), otypes=[float])(grid.codes)
    fig = Figure(figsize=(8, 5))  # no pyplot: no global state, no backend switch
    ax = fig.subplots()
    x_edges, x_ticks = _axis_edges(grid.columns)
    y_edges, y_ticks = _axis_edges(grid.rows)
    ax.pcolormesh(
        x_edges,
        y_edges,
        image,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(classes) - 0.5,
    )
    if x_ticks is not None:
        ax.set_xticks(np.arange(len(x_ticks)), list(x_ticks), rotation=45, ha="right")
    if y_ticks is not None:
        ax.set_yticks(np.arange(len(y_ticks)), list(y_ticks))
    ax.set_xlabel(grid.columns.path)
    ax.set_ylabel(grid.rows.path)
    ax.set_title(f"basins of attraction: {grid.name}")
    present = {int(v) for v in np.unique(grid.codes)}
    handles = [
        Patch(color=colours[i], label=names[i]) for i, c in enumerate(classes) if c in present
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb", root=root) as handle:
        fig.savefig(handle, format="png", dpi=120)
    return path


def _axis_edges(axis: Axis) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Cell edges along an axis, and tick labels when it is categorical (not all numbers).

    Numeric values (sorted by :func:`basin_grid`, possibly unevenly spaced random draws) get
    edges halfway between neighbours, so every value keeps its own cell; other values (rule
    names, tables, arrays) sit at positions 0, 1, … labelled with their texts.
    """
    if _scalars(axis):
        with np.errstate(over="ignore", invalid="ignore"):
            edges = _edges(np.asarray(axis.values, dtype=np.float64))
        if np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0):
            return edges, None
    # categorical, or numbers too close to the float range (or too close together) for edges
    return np.arange(len(axis.values) + 1) - 0.5, axis.texts


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (for pcolormesh): midpoints between neighbours."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [[centres[0] - (mid[0] - centres[0])], mid, [centres[-1] + (centres[-1] - mid[-1])]]
    )
