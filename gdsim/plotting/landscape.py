"""``landscape``: a one-coordinate objective as a curve, with each run's path on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gdsim.plotting.common import PlotContext, coordinates, evaluate
from gdsim.plotting.paths import PathFigure, landscape_background, path_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from gdsim.components import Objective

NAME = "landscape"


def draw(ctx: PlotContext) -> Figure | None:
    """Small multiples of the paths on a 1-D objective (None unless the objective is 1-D)."""
    objective = ctx.objective
    coords = coordinates(objective) if objective is not None else None
    if objective is None or coords is None or len(coords) != 1:
        return None
    drawn = landscape_paths(ctx, objective, coords)
    return None if drawn is None else drawn.figure


def landscape_paths(
    ctx: PlotContext, objective: Objective, coords: list[tuple[str, int]], animated: bool = False
) -> PathFigure | None:
    """The paths drawn on the curve of a 1-D objective (the figure and, animated, its lines)."""

    def to_plot(path: np.ndarray) -> np.ndarray:
        return np.column_stack([path[:, 0], evaluate(objective, coords, [path[:, 0]])])

    return path_figure(
        ctx,
        objective,
        coords,
        landscape_background(objective, coords),
        to_plot,
        f"{objective.name} objective",
        animated=animated,
    )
