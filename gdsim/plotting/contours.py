"""``contours``: a two-coordinate objective as grey contour lines, with each run's path."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gdsim.plotting.common import PlotContext, View, coordinates, evaluate
from gdsim.plotting.paths import Background, path_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gdsim.components import Objective

NAME = "contours"
LEVELS = 20


def draw(ctx: PlotContext) -> Figure | None:
    """Small multiples of the paths on a 2-D objective (None unless the objective is 2-D)."""
    objective = ctx.objective
    coords = coordinates(objective) if objective is not None else None
    if objective is None or coords is None or len(coords) != 2:
        return None
    drawn = path_figure(
        ctx,
        objective,
        coords,
        contour_background(objective, coords),
        lambda path: path,
        f"{objective.name} objective (grey: its level lines)",
    )
    return None if drawn is None else drawn.figure


def contour_background(objective: Objective, coords: list[tuple[str, int]]) -> Background:
    """Level lines of the objective in greys, log-spaced where its values span decades."""
    cache: dict[str, tuple[np.ndarray, ...]] = {}

    def draw(ax: Axes, view: View) -> None:
        if "grid" not in cache:
            size = 200 if objective.elementwise else 80
            gx, gy = np.meshgrid(
                np.linspace(view.low[0], view.high[0], size),
                np.linspace(view.low[1], view.high[1], size),
            )
            cache["grid"] = (gx, gy, evaluate(objective, coords, [gx, gy]))
        gx, gy, values = cache["grid"]
        finite = values[np.isfinite(values)]
        if finite.size:
            low = float(finite.min())
            shift = 1e-12 + (0.0 if low > 0 else -low) + 1e-3 * float(np.ptp(finite) or 1.0)
            levels = np.unique(np.geomspace(low + shift, finite.max() + shift, LEVELS) - shift)
            if len(levels) > 1:
                ax.contourf(gx, gy, values, levels=levels, cmap="Greys", alpha=0.35, zorder=0)
                ax.contour(gx, gy, values, levels=levels, colors="0.45", linewidths=0.5, zorder=1)
        ax.set_xlim(view.low[0], view.high[0])
        ax.set_ylim(view.low[1], view.high[1])

    return draw
