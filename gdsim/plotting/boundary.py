"""``boundary``: what a 2-D classifier learned, one panel per run.

The network's predicted probability of class 1 over the plane (blue 0 … red 1), its decision
boundary (probability ½) as a black line, and the data: training points as dots, validation
points as triangles, both coloured by their true class. The title gives the validation
accuracy. A network stuck in its symmetry draws a straight boundary; one that learned the
moons draws a curve between them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gdsim.plotting.common import (
    PlotContext,
    add_notes,
    grid_shape,
    new_figure,
    panel_groups,
)
from gdsim.plotting.model import network, raw_features, score

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "boundary"
GRID = 150
CLASS_COLORS = ("#2166ac", "#b2182b")


def _is_2d_classifier(objective: object) -> bool:
    data = getattr(objective, "dataset", None)
    return (
        data is not None
        and data.features == 2
        and data.task == "classification"
        and getattr(objective, "loss", None) == "bce"
    )


def draw(ctx: PlotContext) -> Figure | None:
    """Decision boundaries of every run whose objective is a binary classifier of 2-D points."""
    runs = [r for r in ctx.runs if _is_2d_classifier(network(r, ctx))]
    if not runs:
        return None
    groups, note = panel_groups(runs)
    shown = [members[0] for _, members in groups]
    rows, cols = grid_shape(len(shown))
    width = 3.6 * cols + 1.4
    figure = new_figure(width, 3.4 * rows + 1.0)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    filled = None
    for k, run in enumerate(shown):
        ax = axes[k // cols][k % cols]
        objective = network(run, ctx)
        train = raw_features(objective, "train")
        labels = {s: objective.dataset.y[s] for s in ("train", "validation")}
        points = np.vstack([raw_features(objective, s) for s in ("train", "validation")])
        low, high = points.min(axis=0), points.max(axis=0)
        pad = 0.08 * (high - low)
        gx, gy = np.meshgrid(
            np.linspace(low[0] - pad[0], high[0] + pad[0], GRID),
            np.linspace(low[1] - pad[1], high[1] + pad[1], GRID),
        )
        with np.errstate(all="ignore"):
            prob = objective.predict(run.final_params, np.column_stack([gx.ravel(), gy.ravel()]))
        prob = np.asarray(prob, dtype=np.float64).reshape(gx.shape)
        filled = ax.contourf(
            gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55, vmin=0, vmax=1
        )
        if np.nanmin(prob) < 0.5 < np.nanmax(prob):
            ax.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1.6)
        for cls, color in enumerate(CLASS_COLORS):
            mask = labels["train"] == cls
            ax.scatter(train[mask, 0], train[mask, 1], s=7, color=color, linewidths=0, alpha=0.8)
            val = raw_features(objective, "validation")
            vmask = labels["validation"] == cls
            ax.scatter(
                val[vmask, 0],
                val[vmask, 1],
                s=22,
                marker="^",
                color=color,
                edgecolors="white",
                linewidths=0.6,
            )
        accuracy = score(objective, run, "validation").get("accuracy")
        if accuracy is None:
            accuracy = score(objective, run, "train").get("accuracy")
            where = "train"
        else:
            where = "validation"
        text = f"{run.name} ({run.state})"
        if accuracy is not None:
            text += f"\n{where} accuracy {accuracy:.2%}"
        ax.set_title(text, fontsize=9)
        ax.tick_params(labelsize=7, colors="0.45", length=2)
    for k in range(len(shown), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for k in range(len(shown)):
        ax = axes[k // cols][k % cols]
        if k % cols == 0:
            ax.set_ylabel("x[1]", fontsize=8, color="0.35")
        if k + cols >= len(shown):  # nothing drawn below: the bottom of its column
            ax.set_xlabel("x[0]", fontsize=8, color="0.35")
            ax.xaxis.set_tick_params(labelbottom=True)
    if filled is not None:
        figure.colorbar(filled, ax=axes, label="predicted probability of class 1", shrink=0.7)
    _key(figure, any(network(r, ctx).dataset.size("validation") for r in shown))
    add_notes(figure, [note], width)
    figure.suptitle(ctx.heading("decision boundary of each network (black line)"))
    return figure


def _key(figure: Figure, validation: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", color=CLASS_COLORS[0], markersize=5),
        Line2D([], [], marker="o", linestyle="", color=CLASS_COLORS[1], markersize=5),
        Line2D([], [], marker="^", linestyle="", color="0.4", markeredgecolor="white"),
        Line2D([], [], color="black", linewidth=1.6),
    ]
    labels = ["class 0 (training)", "class 1 (training)", "validation point", "boundary (p = ½)"]
    if not validation:
        del handles[2], labels[2]
    figure.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
