"""``layers``: per-layer diagnostics over time, one column of panels per run.

The diagnostics observer records, for every parameter ``k``, the gradient norm ``grad.k``, the
step ``update.k``, the weight norm ``weight.k`` and the unit spread ``spread.k``. Each kind is
a row of panels sharing their y axis, each run a column, each layer a colour from dark (first
layer) to light (last): vanishing gradients show as a fan of colours decades apart in one
column and a tight bundle in the other. Networks show their weight matrices ``W1 … WL`` only
(the biases follow them and would double the lines); other objectives show every parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gdsim.plotting.common import (
    PlotContext,
    RunData,
    add_notes,
    choose_scale,
    layer_colors,
    legend_outside,
    natural,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "layers"
KINDS = {
    "grad": "gradient norm ‖∇ₖL‖",
    "update": "step size ‖Δk‖",
    "weight": "weight norm ‖k‖",
    "spread": "unit spread\nmax|W[:, j] − W[:, 0]|",
}
MAX_COLUMNS = 6


def layer_columns(runs: Sequence[RunData], kind: str) -> tuple[list[str], bool]:
    """The parameters recorded for ``kind`` (weights only when they are ``W1 … WL``)."""
    names = sorted(
        {k.partition(".")[2] for r in runs for k in r.trace if k.startswith(kind + ".")},
        key=natural,
    )
    weights = [n for n in names if re.fullmatch(r"W\d+", n)]
    return (weights, len(weights) < len(names)) if weights else (names, False)


def draw(ctx: PlotContext) -> Figure | None:
    """Rows of per-layer diagnostics (one per kind recorded), a column per run."""
    runs = [r for r in ctx.recorded if any(k.partition(".")[0] in KINDS for k in r.trace)]
    kinds = [k for k in KINDS if any(c.startswith(k + ".") for r in runs for c in r.trace)]
    if not runs or not kinds:
        return None
    notes: list[str | None] = []
    if len(runs) > MAX_COLUMNS:
        notes.append(f"first {MAX_COLUMNS} of {len(runs)} runs shown")
        runs = runs[:MAX_COLUMNS]
    width = 2.9 * len(runs) + 2.4
    figure = new_figure(width, 2.3 * len(kinds) + 1.0)
    axes = figure.subplots(len(kinds), len(runs), squeeze=False, sharex="col", sharey="row")
    biases_hidden = False
    for row, kind in enumerate(kinds):
        names, hidden = layer_columns(runs, kind)
        biases_hidden = biases_hidden or hidden
        colors = dict(zip(names, layer_colors(len(names)), strict=True))
        series: list[np.ndarray] = []
        for col, run in enumerate(runs):
            ax = axes[row][col]
            step = np.asarray(run.trace["step"], dtype=np.float64)
            for name in names:
                y = run.trace.get(f"{kind}.{name}")
                if y is None:
                    continue
                y = np.asarray(y, dtype=np.float64)
                mask = np.isfinite(y)
                # a step's gradient belongs to where it started, the others to where it ended
                x = step - 1 if kind == "grad" else step
                ax.plot(x[mask], y[mask], color=colors[name], linewidth=1.3)
                series.append(y[mask])
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.set_title(f"{run.name}\n({run.state})", fontsize=9)
            if row == len(kinds) - 1:
                ax.set_xlabel("step")
        choose_scale(axes[row][0], series)
        axes[row][0].set_ylabel(KINDS[kind], fontsize=9)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colors[n], linewidth=2) for n in names]
        legend_outside(axes[row][-1], handles, names, "layer")
    if biases_hidden:
        notes.append("biases b1 … bL not drawn (their norms follow the weights')")
    add_notes(figure, notes, width)
    figure.suptitle(ctx.heading("per-layer diagnostics (dark: first layer, light: last)"))
    return figure
