"""``curves``: loss, accuracy, learning rate and gradient norm against steps, epochs, samples
seen or wall time (``[plot] x``).

Which axis is fair depends on the comparison: SGD takes 16 000 steps where full-batch GD takes
10 in the same budget of samples, so runs whose steps see different numbers of samples are
drawn against samples seen unless the scenario says otherwise. The loss is the full training
loss (``train.loss``) where the diagnostics observer recorded it, with validation and test
dashed and dotted; otherwise the loss of each step's batch. Accuracy is on a linear axis;
other panels are logarithmic only where their values span decades. Each run has one colour in
every panel; a sweep over one numeric hyperparameter is coloured along a colour bar instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.plotting.common import (
    PlotContext,
    RunData,
    add_notes,
    choose_scale,
    legend_outside,
    missing_note,
    names_list,
    natural,
    new_figure,
    run_colors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NAME = "curves"
MAX_CURVES = 60
"""More recorded runs than this: an evenly spaced sample of them is drawn, and a note says so."""
MAX_OVERLAID = 10
"""More runs than this (not a numeric sweep): one loss panel per run, the others in grey."""
ABSURD_DECADES = 6
"""A diverged run's last loss this many decades above every recorded loss is drawn on the edge."""
SPLIT_STYLES = {"train": "-", "validation": "--", "test": ":"}
X_LABELS = {
    "steps": "step",
    "epochs": "epoch (passes over the training set)",
    "samples": "training samples seen",
    "time": "wall time (s, spread evenly over each run's steps)",
}


@attrs.frozen
class XAxis:
    """The horizontal axis chosen for the curves, and why, when it is not the one asked for."""

    kind: str
    note: str | None = None


def draw(ctx: PlotContext) -> Figure | None:
    """The curves figure of the recorded runs (None when no run recorded a trace)."""
    traced = ctx.recorded
    if not traced:
        return None
    notes: list[str | None] = [missing_note(ctx.runs)]
    if len(traced) > MAX_CURVES:
        keep = np.unique(np.linspace(0, len(traced) - 1, MAX_CURVES).round().astype(int))
        notes.append(f"{len(keep)} of {len(traced)} recorded runs drawn, evenly spaced")
        traced = [traced[k] for k in keep]
    x_axis = choose_x(ctx, traced)
    notes.append(x_axis.note)
    colors, colorbar = _run_colors(ctx, traced)
    if colorbar is None and len(traced) > MAX_OVERLAID:
        return _small_multiples(ctx, traced, x_axis, notes)
    panels = _panels(traced)
    width = 10.5
    figure = new_figure(width, 2.5 * len(panels) + 1.0)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (key, label) in zip(axes, panels, strict=True):
        series: list[np.ndarray] = []
        for run in traced:
            _draw_panel(ax, run, key, colors[run.name], x_axis.kind, ctx, series)
        if key == "loss":
            cut, note = _last_finite_losses(ax, traced, colors, series, x_axis.kind, ctx)
            notes.append(note)
            choose_scale(ax, series)
            if cut is not None:
                _cut_axis(ax, series, cut)
        else:
            choose_scale(ax, series, linear=key == "accuracy")
        if key == "accuracy":
            ax.set_ylim(top=1.0 + 0.02)
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].set_xlabel(X_LABELS[x_axis.kind])
    if colorbar is not None:
        mappable, axis_label = colorbar
        figure.colorbar(mappable, ax=list(axes), label=axis_label, shrink=0.8)
    else:
        _legend(axes[0], traced, colors)
    _split_key(axes, traced)
    add_notes(figure, notes, width)
    heading = ", ".join(label for _, label in panels)
    figure.suptitle(ctx.heading(f"{heading} against {X_LABELS[x_axis.kind].split(' (')[0]}"))
    return figure


def _small_multiples(
    ctx: PlotContext, runs: Sequence[RunData], x_axis: XAxis, notes: list[str | None]
) -> Figure:
    """One loss panel per run: the run in colour over every other run in light grey."""
    from gdsim.plotting.common import grid_shape

    rows, cols = grid_shape(len(runs))
    width = 3.3 * cols + 0.8
    figure = new_figure(width, 2.4 * rows + 1.2)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    lines = {}
    for run in runs:
        x = _x_values(run, x_axis.kind, ctx)
        if x is None:
            x = _x_values(run, "steps", ctx)
        column = _loss_columns(run)[0][0]
        y = np.asarray(run.trace.get(column, []), dtype=np.float64)
        at = _shift_to_start(run, x_axis.kind, ctx, x) if column == "loss" else x
        mask = np.isfinite(y)
        lines[run.name] = (at[mask], y[mask])
    series = [y for _, y in lines.values()]
    for k, run in enumerate(runs):
        ax = axes[k // cols][k % cols]
        for other, (x, y) in lines.items():
            if other != run.name:
                ax.plot(x, y, color="0.82", linewidth=0.8, zorder=1)
        x, y = lines[run.name]
        ax.plot(x, y, color="#1f4e9c", linewidth=1.8, zorder=3)
        if run.diverged_at is not None:
            if len(x):
                ax.plot(x[-1:], y[-1:], "X", color="black", markersize=8, zorder=4)
            last = "" if run.final_loss is None else f", last finite loss {run.final_loss:.3g}"
            ax.text(
                0.5,
                0.5,
                f"diverged at step {run.diverged_at}{last}",
                ha="center",
                transform=ax.transAxes,
                fontsize=8,
                color="#b2182b",
                wrap=True,
            )
        lr = np.asarray(run.trace.get("lr", []), dtype=np.float64)
        lr = lr[np.isfinite(lr)]
        rate = f", lr {lr[0]:.3g}" if lr.size and lr.min() == lr.max() else ""
        ax.set_title(f"{run.name}\n({run.state}{rate})", fontsize=8)
        ax.grid(True, alpha=0.3)
    choose_scale(axes[0][0], series)
    for k in range(len(runs), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for row in axes:
        row[0].set_ylabel("loss")
    for c in range(cols):
        last = max(r for r in range(rows) if r * cols + c < len(runs))
        axes[last][c].set_xlabel(X_LABELS[x_axis.kind].split(" (")[0])
        axes[last][c].xaxis.set_tick_params(labelbottom=True)
    notes.append("each panel: one run (blue) over all the others (grey); ✕ marks a divergence")
    add_notes(figure, notes, width)
    figure.suptitle(ctx.heading(f"loss of each of the {len(runs)} runs"))
    return figure


# --------------------------------------------------------------------------------------------
# the horizontal axis


def choose_x(ctx: PlotContext, runs: Sequence[RunData]) -> XAxis:
    """``[plot] x`` when every run can give it; else samples seen when the runs' steps see
    different numbers of samples (a fair comparison of batch sizes), else steps."""
    asked = ctx.settings.x
    if asked is not None:
        missing = [r.name for r in runs if _x_values(r, asked, ctx) is None]
        if not missing:
            return XAxis(asked)
        why = {
            "samples": "record no 'samples' (add the diagnostics observer)",
            "epochs": "record no 'samples' (add the diagnostics observer)",
            "time": "have no run time (results read from a folder)",
        }.get(asked, "")
        return XAxis("steps", f"drawn against steps: {names_list(missing)} {why}")
    rates = set()
    for run in runs:
        samples, steps = run.trace.get("samples"), run.trace.get("step")
        if samples is None or steps is None or len(steps) < 2 or steps[-1] <= 0:
            return XAxis("steps")
        rates.add(round(float(samples[-1] - samples[0]) / float(steps[-1] - steps[0]), 6))
    return XAxis("samples" if len(rates) > 1 else "steps")


def _x_values(run: RunData, kind: str, ctx: PlotContext) -> np.ndarray | None:
    """The run's records on the ``kind`` axis (None when it cannot be known)."""
    steps = np.asarray(run.trace["step"], dtype=np.float64)
    if kind == "steps":
        return steps
    if kind == "samples":
        samples = run.trace.get("samples")
        return None if samples is None else np.asarray(samples, dtype=np.float64)
    if kind == "epochs":
        samples = run.trace.get("samples")
        objective = run.objective or ctx.objective
        try:
            size = objective.num_samples() if objective is not None else None
        except NotImplementedError:
            size = None
        if samples is None or not size:
            return None
        return np.asarray(samples, dtype=np.float64) / size
    if kind == "time":
        if not run.elapsed or run.final_step is None or run.final_step <= 0:
            return None
        return steps * (run.elapsed / run.final_step)
    return None


def _shift_to_start(run: RunData, kind: str, ctx: PlotContext, x: np.ndarray) -> np.ndarray:
    """The x of a step's own loss, learning rate and gradient: where the step started."""
    if kind == "steps":
        return x - 1
    return np.concatenate([x[:1], x[:-1]]) if len(x) else x


# --------------------------------------------------------------------------------------------
# panels


def _panels(runs: Sequence[RunData]) -> list[tuple[str, str]]:
    keys = {k for r in runs for k in r.trace}
    panels = [("loss", "loss")]
    if any(k.endswith(".accuracy") for k in keys):
        panels.append(("accuracy", "accuracy"))
    if _varies(runs, "lr"):
        panels.append(("lr", "learning rate"))
    if "grad_norm" in keys:
        panels.append(("grad_norm", "gradient norm ‖∇f‖"))
    return panels


def _varies(runs: Sequence[RunData], key: str) -> bool:
    """Whether a column changes over time in a run, or differs between runs."""
    seen: set[float] = set()
    for run in runs:
        values = np.asarray(run.trace.get(key, []), dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size and values.min() != values.max():
            return True
        seen.update(values[:1].tolist())
    return len(seen) > 1


def _loss_columns(run: RunData) -> list[tuple[str, str]]:
    """The run's loss columns with their line styles: split losses, else the batch loss."""
    splits = [(f"{s}.loss", style) for s, style in SPLIT_STYLES.items() if f"{s}.loss" in run.trace]
    if any(c == "train.loss" for c, _ in splits):
        return splits
    return [("loss", "-"), *splits]


def _draw_panel(
    ax: Axes,
    run: RunData,
    key: str,
    color: Any,
    kind: str,
    ctx: PlotContext,
    series: list[np.ndarray],
) -> None:
    x = _x_values(run, kind, ctx)
    if x is None:
        x = _x_values(run, "steps", ctx)
    assert x is not None
    if key == "loss":
        columns = _loss_columns(run)
    elif key == "accuracy":
        columns = [
            (f"{s}.accuracy", st) for s, st in SPLIT_STYLES.items() if f"{s}.accuracy" in run.trace
        ]
    else:
        columns = [(key, "-")]
    for column, style in columns:
        if column not in run.trace:
            continue
        y = np.asarray(run.trace[column], dtype=np.float64)
        # a step's own loss, rate and gradient belong to where it started; metrics to where it ended
        at = _shift_to_start(run, kind, ctx, x) if column in ("loss", "lr", "grad_norm") else x
        mask = np.isfinite(y)
        if not mask.any():
            continue
        # beside split losses, the noisy loss of each step's batch is drawn faint
        faint = column == "loss" and len(columns) > 1
        ax.plot(
            at[mask],
            y[mask],
            linestyle=style,
            color=color,
            linewidth=0.9 if faint else 1.3,
            alpha=0.35 if faint else 1.0,
        )
        series.append(y[mask])


def _last_finite_losses(
    ax: Axes,
    runs: Sequence[RunData],
    colors: Mapping[str, Any],
    series: list[np.ndarray],
    kind: str,
    ctx: PlotContext,
) -> tuple[float | None, str | None]:
    """Mark each diverged run's last finite loss with an ✕ (on the top edge when absurd).

    A last finite loss more than ``10**ABSURD_DECADES`` times above every recorded loss would
    squash the other curves to a line; such marks sit on the panel's top edge, and the
    returned note gives their values. Returns (the cut, if any, and the note).
    """
    marks = [
        (r, float(r.final_loss))
        for r in runs
        if r.diverged_at is not None and r.final_loss is not None and math.isfinite(r.final_loss)
    ]
    recorded = np.concatenate([s[np.isfinite(s)] for s in series] or [np.array([])])
    top = float(np.abs(recorded).max()) * 10.0**ABSURD_DECADES if recorded.size else math.inf
    clipped = [(r, v) for r, v in marks if abs(v) > top]
    for run, value in marks:
        x = _x_values(run, kind, ctx)
        at = float(x[-1]) if x is not None and len(x) else float(run.final_step or 0)
        if kind == "steps":
            at = float(run.final_step or 0)
        shown = min(value, top)
        ax.plot(
            [at],
            [shown],
            "X",
            color=colors[run.name],
            markersize=10,
            markeredgecolor="black",
            zorder=5,
            clip_on=False,
        )
        series.append(np.array([shown]))
    note = None
    if clipped:
        note = "loss axis cut above the recorded losses; last finite loss (✕ on the top edge): " + (
            "; ".join(f"{r.label}: {v:.3g} after {r.final_step} steps" for r, v in clipped)
        )
    return (top if clipped else None), note


def _cut_axis(ax: Axes, series: list[np.ndarray], cut: float) -> None:
    values = np.concatenate([v[np.isfinite(v)] for v in series])
    low = float(values.min())
    if ax.get_yscale() == "log":
        ax.set_ylim(low / 2, cut * 2)
    else:
        ax.set_ylim(low - 0.05 * (cut - low), cut + 0.05 * (cut - low))


# --------------------------------------------------------------------------------------------
# colours and keys


def _run_colors(
    ctx: PlotContext, runs: Sequence[RunData]
) -> tuple[dict[str, Any], tuple[Any, str] | None]:
    """A distinct colour per run, or along a colour bar for a numeric one-axis sweep."""
    axis = _numeric_axis(runs)
    if axis is None or len(runs) <= 10:
        return {r.name: c for r, c in zip(runs, run_colors(len(runs)), strict=True)}, None
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, Normalize

    values = np.array([float(r.swept[axis]) for r in runs])
    positive = values.min() > 0 and values.max() / values.min() > 30
    norm = (LogNorm if positive else Normalize)(values.min(), values.max())
    cmap = colormaps["viridis"]
    colors = {r.name: cmap(norm(v)) for r, v in zip(runs, values, strict=True)}
    return colors, (ScalarMappable(norm=norm, cmap=cmap), axis)


def _numeric_axis(runs: Sequence[RunData]) -> str | None:
    """The one swept hyperparameter shared by all runs, when it is numeric."""
    labels = {tuple(r.swept) for r in runs}
    if len(labels) != 1 or not next(iter(labels)):
        return None
    for label in next(iter(labels)):
        values = [r.swept[label] for r in runs]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 1:
            return label
    return None


def _legend(ax: Axes, runs: Sequence[RunData], colors: Mapping[str, Any]) -> None:
    from matplotlib.lines import Line2D

    handles: list[Any] = [Line2D([], [], color=colors[r.name], linewidth=2) for r in runs]
    labels = [r.label for r in runs]
    if any(r.diverged_at is not None for r in runs):
        handles.append(
            Line2D([], [], marker="X", linestyle="", color="0.8", markeredgecolor="black")
        )
        labels.append("last finite loss (diverged)")
    legend_outside(ax, handles, labels, "run")


def _split_key(axes: Sequence[Axes], runs: Sequence[RunData]) -> None:
    """Which line style is which split, when splits were recorded."""
    from matplotlib.lines import Line2D

    present = [s for s in SPLIT_STYLES if any(f"{s}.loss" in r.trace for r in runs)]
    if not present:
        return
    ax = axes[1] if len(axes) > 1 else axes[0]
    if ax is axes[0] and ax.get_legend() is not None:
        return
    handles = [Line2D([], [], color="0.3", linestyle=SPLIT_STYLES[s]) for s in present]
    labels = list(present)
    if any(len(_loss_columns(r)) > 1 and _loss_columns(r)[0][0] == "loss" for r in runs):
        handles.insert(0, Line2D([], [], color="0.3", alpha=0.35, linewidth=0.9))
        labels.insert(0, "each step's batch (loss)")
    legend_outside(ax, handles, labels, "data split")


def sorted_columns(names: Sequence[str]) -> list[str]:
    return sorted(names, key=natural)
