"""``fit``: what a regression network learned, one panel per run.

The network's output over the input range (a line) against the data it was trained on (grey
dots) and the held-out test points (orange crosses); the title gives the test error. Widening
the hidden layer turns a straight-ish line into the target curve: the universal approximation
theorem in one picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gdsim.plotting.common import PlotContext, add_notes, grid_shape, new_figure, panel_groups
from gdsim.plotting.model import network, raw_features, score

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "fit"
FIT_COLOR = "#1f4e9c"


def _is_1d_regression(objective: object) -> bool:
    data = getattr(objective, "dataset", None)
    return data is not None and data.features == 1 and data.task == "regression"


def draw(ctx: PlotContext) -> Figure | None:
    """The fitted curve of every run whose objective regresses one input on one target."""
    runs = [r for r in ctx.runs if _is_1d_regression(network(r, ctx))]
    if not runs:
        return None
    groups, note = panel_groups(runs)
    shown = [members[0] for _, members in groups]
    rows, cols = grid_shape(len(shown))
    width = 3.8 * cols + 0.6
    figure = new_figure(width, 3.0 * rows + 1.0)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for k, run in enumerate(shown):
        ax = axes[k // cols][k % cols]
        objective = network(run, ctx)
        data = objective.dataset
        splits = [s for s in ("train", "validation", "test") if data.size(s)]
        xs = np.concatenate([raw_features(objective, s)[:, 0] for s in splits])
        grid = np.linspace(xs.min(), xs.max(), 400)
        with np.errstate(all="ignore"):
            fitted = np.asarray(objective.predict(run.final_params, grid[:, None]))
        train = raw_features(objective, "train")[:, 0]
        ax.scatter(train, data.y["train"], s=8, color="0.55", label="training data", zorder=2)
        held = "test" if data.size("test") else ("validation" if data.size("validation") else None)
        if held is not None:
            ax.scatter(
                raw_features(objective, held)[:, 0],
                data.y[held],
                s=18,
                marker="x",
                color="#ff7f0e",
                label=f"{held} data",
                zorder=3,
            )
        ax.plot(grid, fitted, color=FIT_COLOR, linewidth=2.0, label="network output", zorder=4)
        error = score(objective, run, held or "train").get("loss")
        title = f"{run.name} ({run.state})"
        if error is not None:
            title += f"\n{held or 'train'} MSE {error:.2g}"
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
    for k in range(len(shown), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    add_notes(figure, [note], width)
    figure.suptitle(ctx.heading("each network's output against the data"))
    return figure
