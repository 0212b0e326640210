"""``gradient_bars``: each layer's gradient norm as bars, at a few chosen steps.

One panel per chosen step (``[plot] bar_steps``; by default the first step and each run's last
recorded one), the layers ``W1 … WL`` along the x axis and one bar per run, on a logarithmic
axis when the norms span decades. Vanishing gradients read as a staircase falling towards the
first layer; exploding ones as bars in the thousands where the healthy run's stay near one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim.plotting.common import (
    PlotContext,
    RunData,
    add_notes,
    legend_outside,
    new_figure,
    run_colors,
    spans_decades,
)
from gdsim.plotting.layers import layer_columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "gradient_bars"
LAST = -1
"""Stands for "each run's last recorded step" among the chosen steps."""


def _row_at(run: RunData, step: int) -> int | None:
    """The trace row holding the gradient of step ``step`` (computed at step − 1's parameters)."""
    steps = np.asarray(run.trace["step"])
    if step == LAST:
        finite = [i for i in range(len(steps)) if _finite_row(run, i)]
        return finite[-1] if finite else None
    found = np.nonzero(steps == step)[0]
    return int(found[0]) if found.size and _finite_row(run, int(found[0])) else None


def _finite_row(run: RunData, i: int) -> bool:
    return any(
        np.isfinite(np.asarray(v, dtype=np.float64)[i])
        for k, v in run.trace.items()
        if k.startswith("grad.")
    )


def draw(ctx: PlotContext) -> Figure | None:
    """Grouped bars of ‖∇W_l‖ per layer and run, a panel per chosen step."""
    runs = [r for r in ctx.recorded if any(k.startswith("grad.") for k in r.trace)]
    if not runs:
        return None
    names, hidden = layer_columns(runs, "grad")
    chosen = list(ctx.settings.bar_steps) or [1, LAST]
    colors = dict(zip([r.name for r in runs], run_colors(len(runs)), strict=True))
    width = min(4.0 + 0.55 * len(names) * max(len(runs), 2) * len(chosen) / 2, 17.0)
    figure = new_figure(width, 4.4)
    axes = figure.subplots(1, len(chosen), squeeze=False, sharey=True)[0]
    bar = 0.8 / len(runs)
    values: list[float] = []
    notes: list[str | None] = []
    zeros: list[tuple[Any, float, str]] = []  # (axes, x, run) of bars of height exactly 0
    all_zero: dict[str, bool] = {}
    for ax, step in zip(axes, chosen, strict=True):
        missing = []
        for j, run in enumerate(runs):
            row = _row_at(run, step)
            if row is None:
                missing.append(run.name)
                continue
            heights = [
                float(np.asarray(run.trace.get(f"grad.{n}", [np.nan] * (row + 1)))[row])
                for n in names
            ]
            x = np.arange(len(names)) + (j - (len(runs) - 1) / 2) * bar
            ax.bar(
                x,
                heights,
                width=bar,
                color=colors[run.name],
                edgecolor="black",
                linewidth=0.4,
                label=run.label,
            )
            values += [h for h in heights if np.isfinite(h) and h > 0]
            zeros += [(ax, float(xi), run.name) for xi, h in zip(x, heights, strict=True) if h == 0]
            all_zero[run.name] = all_zero.get(run.name, True) and all(h == 0 for h in heights)
        ax.set_xticks(np.arange(len(names)), names)
        ax.set_xlabel("layer (input → output)")
        ax.set_title(
            "last recorded step of each run" if step == LAST else f"step {step}", fontsize=10
        )
        ax.grid(True, axis="y", alpha=0.3)
        if missing:
            notes.append(
                f"{'last step' if step == LAST else f'step {step}'}: no gradient recorded for "
                + ", ".join(missing)
            )
    if values and spans_decades(np.array(values), 1.0):
        axes[0].set_yscale("log")
    axes[0].set_ylabel("gradient norm ‖∇W‖ of the layer")
    _mark_zeros(zeros, colors)
    flat = [name for name, z in all_zero.items() if z]
    if flat:
        notes.append(
            f"gradient exactly 0 in every layer (no bar, a 0 at the bottom): {', '.join(flat)}"
        )
    _legend(axes[-1], runs, colors)
    if hidden:
        notes.append("biases not drawn")
    add_notes(figure, notes, width)
    figure.suptitle(ctx.heading("gradient norm of each layer"))
    return figure


def _mark_zeros(zeros: list[tuple[Any, float, str]], colors: dict[str, Any]) -> None:
    """A "0" where a bar of height exactly 0 would stand (it has no height to show)."""
    from matplotlib.transforms import blended_transform_factory

    for ax, x, name in zeros:
        ax.text(
            x,
            0.01,
            "0",
            transform=blended_transform_factory(ax.transData, ax.transAxes),
            ha="center",
            va="bottom",
            fontsize=8,
            fontweight="bold",
            color=colors[name],
        )


def _legend(ax: Any, runs: list[RunData], colors: dict[str, Any]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colors[r.name], edgecolor="black") for r in runs]
    legend_outside(ax, handles, [r.label for r in runs], "run")
