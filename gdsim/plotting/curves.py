"""``curves``: loss, accuracy, learning rate and gradient norm against steps, epochs, samples
seen or wall time (``[plot] x``).

Which axis is fair depends on the comparison: SGD takes 16 000 steps where full-batch GD takes
10 in the same budget of samples, so runs whose steps see different numbers of samples are
drawn against samples seen unless the scenario says otherwise. The loss is the full training
loss (``train.loss``) where the diagnostics observer recorded it, with validation and test
dashed and dotted; otherwise the loss of each step's batch. Beside evaluated (split) losses the
batch loss is noise: it is drawn as a running mean (:func:`running_mean`), thin and faint.
Accuracy is on a linear axis; other panels are logarithmic only where their values span
decades. Each run has one colour in every panel; a sweep over one numeric hyperparameter is
coloured along a colour bar instead.

More than :data:`MAX_OVERLAID_LOSS` runs (not a numeric sweep) get one loss panel per run,
every other run in grey behind it, with the other panels (learning rate …) still overlaid
below while the runs' colours stay distinct. Runs whose objectives differ (a regression's MSE
beside a classifier's cross-entropy: see :func:`objective_key`) never share a panel: each
objective gets its own block of panels.
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
    grid_shape,
    legend_outside,
    missing_note,
    names_list,
    natural,
    new_figure,
    run_colors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, FigureBase

NAME = "curves"
MAX_CURVES = 60
"""More recorded runs than this: an evenly spaced sample of them is drawn, and a note says so."""
MAX_OVERLAID = 10
"""More runs than this (not a numeric sweep): only the loss panels, one per run."""
MAX_OVERLAID_LOSS = 6
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
OTHERS = "0.82"
"""The colour of the other runs behind a run's own loss panel."""
HIGHLIGHT = "#1f4e9c"
"""A run's colour in its own loss panel when there are too many runs for distinct colours."""


@attrs.frozen
class XAxis:
    """The horizontal axis chosen for the curves, and why, when it is not the one asked for."""

    kind: str
    note: str | None = None


@attrs.frozen
class Block:
    """The curves of the runs of one objective: how they are laid out, and how big."""

    label: str | None
    runs: tuple[RunData, ...]
    x_axis: XAxis
    colors: Mapping[str, Any]
    colorbar: tuple[Any, str] | None
    panels: tuple[tuple[str, str], ...]
    """The overlaid panels, ``(key, label)``; without the loss when it has small multiples."""
    multiples: tuple[int, int] | None
    """Rows and columns of the per-run loss panels, or None when the loss is overlaid."""

    @property
    def width(self) -> float:
        if self.multiples is None:
            return 10.5
        return max(10.5, 3.3 * self.multiples[1] + 2.6)

    @property
    def height(self) -> float:
        grid = 0.0 if self.multiples is None else 2.3 * self.multiples[0] + 0.4
        title = 0.5 if self.label is not None else 0.0
        return grid + 2.5 * len(self.panels) + title + 1.0


def objective_key(run: RunData, ctx: PlotContext) -> str:
    """What makes two runs' losses comparable: the objective's name and, for a network, its
    loss (``mlp (mse loss)`` is not ``mlp (bce loss)``)."""
    objective = run.objective or ctx.objective
    if objective is None:
        return ""
    name = str(getattr(objective, "name", None) or type(objective).__name__)
    coefficients = getattr(objective, "coefficients", None)
    if name == "polynomial" and coefficients is not None:
        name = f"polynomial {polynomial_text(coefficients)}"
    loss = getattr(objective, "loss", None)
    return f"{name} ({loss} loss)" if isinstance(loss, str) else name


SHORT = 0.05
"""A run whose last step is below this fraction of the longest run's gets a block of its own
(20 steps on a 3000-step axis would be a tick at zero)."""


def _last_step(run: RunData) -> float:
    steps = run.trace.get("step")
    return float(steps[-1]) if steps is not None and len(steps) else 0.0


def _same_scales(axes: Sequence[Axes]) -> None:
    """Panels of one quantity in several blocks on one kind of y axis: logarithmic in all
    when it is in one and every other can take it (positive values only)."""
    by_label: dict[str, list[Axes]] = {}
    for ax in axes:
        by_label.setdefault(ax.get_ylabel(), []).append(ax)
    for group in by_label.values():
        if len(group) < 2 or not any(ax.get_yscale() == "log" for ax in group):
            continue
        linear = [ax for ax in group if ax.get_yscale() == "linear"]
        if all(_positive(ax) for ax in linear):
            for ax in linear:
                ax.set_yscale("log")


def _positive(ax: Axes) -> bool:
    values = [np.asarray(line.get_ydata(), dtype=np.float64) for line in ax.get_lines()]
    values = [v[np.isfinite(v)] for v in values]
    return bool(values) and all(v.size == 0 or v.min() > 0 for v in values)


def _split_short(
    ctx: PlotContext, groups: list[tuple[str, list[RunData]]], by_objective: bool
) -> tuple[list[tuple[str, list[RunData]]], str | None]:
    """Each group's runs much shorter than its longest run (drawn against steps) as a block
    of their own."""
    out: list[tuple[str, list[RunData]]] = []
    split = []
    for label, members in groups:
        longest = max(_last_step(r) for r in members)
        # only runs planned short (completed all their steps); one that diverged or stopped
        # early belongs beside the runs it is compared with
        short = [
            r
            for r in members
            if _last_step(r) < SHORT * longest and r.status == "completed" and not r.diverged_at
        ]
        long = [r for r in members if r not in short]
        if not short or not long or choose_x(ctx, members).kind != "steps":
            out.append((label, members))
            continue
        most = int(max(_last_step(r) for r in short))
        prefix = f"{label}, " if by_objective else ""
        out.append((f"{prefix}runs of up to {int(longest)} steps", long))
        out.append((f"{prefix}runs of up to {most} steps", short))
        split.append(names_list([r.name for r in short]))
    if not split:
        return out, None
    loaded = [
        f"{r.name} from {r.init_from}"
        for _, members in out
        for r in members
        if r.init_from is not None
    ]
    note = f"short runs in a block of their own, on their own step axis: {'; '.join(split)}"
    if loaded:
        note += f"; its step 0 is where the saved weights left off: {'; '.join(loaded)}"
    return out, note


def polynomial_text(coefficients: Sequence[float]) -> str:
    """``(1, 0, -2, 0.5)`` as ``x³ − 2x + 0.5``: how a student writes the polynomial."""
    powers = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    degree = len(coefficients) - 1
    terms = []
    for k, c in enumerate(coefficients):
        c, power = float(c), degree - k
        if c == 0:
            continue
        size = f"{abs(c):g}"
        variable = "" if power == 0 else "x" if power == 1 else f"x{str(power).translate(powers)}"
        body = variable if size == "1" and variable else f"{size}{variable}"
        sign = "−" if c < 0 else "+"
        terms.append(f"{'-' if c < 0 else ''}{body}" if not terms else f"{sign} {body}")
    return " ".join(terms) or "0"


def objective_groups(ctx: PlotContext, runs: Sequence[RunData]) -> list[tuple[str, list[RunData]]]:
    """The runs by :func:`objective_key`, in the order each objective first appears."""
    groups: dict[str, list[RunData]] = {}
    for run in runs:
        groups.setdefault(objective_key(run, ctx), []).append(run)
    return list(groups.items())


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
    groups = objective_groups(ctx, traced)
    by_objective = len(groups) > 1
    groups, short_note = _split_short(ctx, groups, by_objective)
    notes.append(short_note)
    mixed = len(groups) > 1
    blocks = [_plan(ctx, members, label if mixed else None) for label, members in groups]
    if len({b.x_axis.kind for b in blocks}) > 1:  # one x quantity per figure
        kinds = [b.x_axis.kind for b in blocks]
        blocks = [
            attrs.evolve(b, x_axis=XAxis("steps", b.x_axis.note if kind == "steps" else None))
            for b, kind in zip(blocks, kinds, strict=True)
        ]
        notes.append(
            "every block against steps (one x axis for the figure); some runs' steps see "
            'different numbers of samples: [plot] x = "samples" compares them per sample'
        )
    width = max(b.width for b in blocks)
    figure = new_figure(width, sum(b.height for b in blocks) + (0.4 if mixed else 0.0))
    if not mixed:
        notes.extend(_draw_block(figure, ctx, blocks[0]))
        heading = _heading(blocks[0])
    else:
        subs = figure.subfigures(len(blocks), 1, height_ratios=[b.height for b in blocks])
        for sub, block in zip(subs, blocks, strict=True):
            add_notes(sub, _draw_block(sub, ctx, block), width)
            sub.suptitle(f"{block.label}: {_heading(block)}", fontsize=11)
        if by_objective:  # (a short run's block stays on the scale its few values suit)
            _same_scales([ax for sub in subs for ax in sub.axes])
        if by_objective:
            notes.append("runs on different objectives: one block of panels per objective and loss")
            heading = f"curves of {len(groups)} objectives (their losses are not comparable)"
        else:
            heading = "curves of long and short runs, each block on its own step axis"
    add_notes(figure, notes, width)
    figure.suptitle(ctx.heading(heading))
    return figure


def _heading(block: Block) -> str:
    what = X_LABELS[block.x_axis.kind].split(" (")[0]
    if block.multiples is not None and not block.panels:
        return f"loss of each of the {len(block.runs)} runs against {what}"
    labels = ["loss", *(label for _, label in block.panels if label != "loss")]
    return f"{', '.join(labels)} against {what}"


def _plan(ctx: PlotContext, runs: Sequence[RunData], label: str | None) -> Block:
    x_axis = choose_x(ctx, runs)
    colors, colorbar = _run_colors(ctx, runs)
    panels = _panels(runs)
    multiples = None
    if colorbar is None and len(runs) > MAX_OVERLAID_LOSS:
        multiples = grid_shape(len(runs))
        panels = [p for p in panels if p[0] != "loss"] if len(runs) <= MAX_OVERLAID else []
    return Block(label, tuple(runs), x_axis, colors, colorbar, tuple(panels), multiples)


def _draw_block(container: FigureBase, ctx: PlotContext, block: Block) -> list[str | None]:
    """Draw one objective's curves into ``container`` (a figure or subfigure); return notes."""
    notes: list[str | None] = [block.x_axis.note]
    runs, x_axis = block.runs, block.x_axis
    overlaid_in = container
    if block.multiples is not None:
        rows = block.multiples[0]
        grid_height = 2.3 * rows + 0.4
        if block.panels:
            top, overlaid_in = container.subfigures(
                2, 1, height_ratios=[grid_height, 2.5 * len(block.panels)]
            )
        else:
            top = container
        notes.extend(_loss_multiples(top, ctx, block))
    if not block.panels:
        return notes
    axes = overlaid_in.subplots(len(block.panels), 1, sharex=True, squeeze=False)[:, 0]
    twins: set[tuple[str, str, str]] = set()
    for ax, (key, label) in zip(axes, block.panels, strict=True):
        series: list[np.ndarray] = []
        under = _hidden_twins(runs, key)
        twins.update((a, b, label) for a, b in under.items())
        for run in runs:
            _draw_panel(
                ax,
                run,
                key,
                block.colors[run.name],
                x_axis.kind,
                ctx,
                series,
                halo=run.name in under,
            )
        if key == "loss":
            cut, note = _last_finite_losses(ax, runs, block.colors, series, x_axis.kind, ctx)
            notes.append(note)
            choose_scale(ax, series)
            if cut is not None:
                _cut_axis(ax, series, cut)
        else:
            choose_scale(ax, series, linear=key == "accuracy")
        if key == "accuracy":
            ax.set_ylim(top=1.0 + 0.02)
        for run in runs:
            _stop_marks(ax, run, block.colors[run.name], x_axis.kind, ctx, text=key == "loss")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].set_xlabel(X_LABELS[x_axis.kind])
    if block.colorbar is not None:
        mappable, axis_label = block.colorbar
        overlaid_in.colorbar(mappable, ax=list(axes), label=axis_label, shrink=0.8)
    else:
        _legend(axes[0], runs, block.colors)
    if block.multiples is None:
        _split_key(axes, runs)
    if twins:
        pairs = sorted({f"{a} overlaps {b} ({what})" for a, b, what in twins})
        notes.append(
            f"identical curves: {'; '.join(pairs)} (the first drawn wide and pale underneath)"
        )
    return notes


def _early_stop(run: RunData) -> tuple[int, int] | None:
    """An early-stopped run's ``(best step, stopped at)`` from its observer's outputs."""
    for name, out in run.outputs.items():
        if name.split(":")[-1] != "early_stopping" or not isinstance(out, Mapping):
            continue
        best, stopped = out.get("best_step"), out.get("stopped_at")
        if best is not None and stopped is not None:
            return int(best), int(stopped)
    return None


def _stop_marks(
    ax: Axes, run: RunData, color: Any, kind: str, ctx: PlotContext, text: bool
) -> None:
    """Where early stopping stopped (dotted) and the best step whose weights it kept (solid)."""
    found = _early_stop(run)
    x = _x_values(run, kind, ctx)
    if found is None or x is None or not len(x):
        return
    steps = np.asarray(run.trace["step"], dtype=np.float64)
    from matplotlib.transforms import blended_transform_factory

    where = blended_transform_factory(ax.transData, ax.transAxes)
    for step, style, words, y in (
        (found[0], "-", f"{run.name}: best, step {found[0]}\n(weights kept)", 0.97),
        (found[1], ":", f"{run.name}: stopped\nat step {found[1]}", 0.72),
    ):
        at = float(np.interp(step, steps, x))
        ax.axvline(at, color=color, linestyle=style, linewidth=1.2, alpha=0.9, zorder=1)
        if text:
            ax.text(
                at,
                y,
                " " + words.replace("\n", "\n "),
                transform=where,
                ha="left",
                va="top",
                fontsize=7,
                color=color,
            )


def _hidden_twins(runs: Sequence[RunData], key: str) -> dict[str, str]:
    """Runs whose ``key`` columns equal a later run's (within 0.1 %): a line drawn exactly
    under another would be invisible. Maps each such run to the run that covers it."""
    found: dict[str, str] = {}
    for i, run in enumerate(runs):
        for other in runs[i + 1 :]:
            columns = [c for c in run.trace if c == key or c.endswith(f".{key}")]
            if not columns or any(c not in other.trace for c in columns):
                continue
            if all(
                len(run.trace[c]) == len(other.trace[c])
                and np.allclose(
                    np.asarray(run.trace[c], dtype=np.float64),
                    np.asarray(other.trace[c], dtype=np.float64),
                    rtol=1e-3,
                    atol=0.0,
                    equal_nan=True,
                )
                for c in columns
            ):
                found[run.name] = other.name
                break
    return found


def _loss_multiples(container: FigureBase, ctx: PlotContext, block: Block) -> list[str | None]:
    """One loss panel per run: the run in its colour over every other run in light grey."""
    runs, kind = block.runs, block.x_axis.kind
    rows, cols = block.multiples or grid_shape(len(runs))
    axes = container.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    distinct = bool(block.panels)  # its colour links the panel to the overlaid ones below
    behind = {run.name: _main_loss(run, kind, ctx) for run in runs}
    series: list[np.ndarray] = []
    for k, run in enumerate(runs):
        ax = axes[k // cols][k % cols]
        for other, (x, y) in behind.items():
            if other != run.name and len(x):
                ax.plot(x, y, color=OTHERS, linewidth=0.8, zorder=1)
        color = block.colors[run.name] if distinct else HIGHLIGHT
        _draw_panel(ax, run, "loss", color, kind, ctx, series, raw_batch=True)
        if run.diverged_at is not None:
            _diverged_text(ax, run, behind[run.name], color)
        lr = np.asarray(run.trace.get("lr", []), dtype=np.float64)
        lr = lr[np.isfinite(lr)]
        rate = f", lr {lr[0]:.3g}" if lr.size and lr.min() == lr.max() else ""
        ax.set_title(f"{run.name}\n({run.state}{rate}){_last_loss(run)}", fontsize=8)
        ax.grid(True, alpha=0.3)
    choose_scale(axes[0][0], series)
    for k in range(len(runs), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for row in axes:
        row[0].set_ylabel("loss")
    for c in range(cols):
        last = max(r for r in range(rows) if r * cols + c < len(runs))
        axes[last][c].set_xlabel(X_LABELS[kind].split(" (")[0])
        axes[last][c].xaxis.set_tick_params(labelbottom=True)
    _multiples_key(container, runs, distinct)
    own = "its colour" if distinct else "blue"
    return [f"each loss panel: one run ({own}) over all the others (grey); ✕ marks a divergence"]


def _last_loss(run: RunData) -> str:
    """``, end: validation 0.134``: the last evaluated loss, the number the panels compare."""
    column, _, role = _loss_lines(run)[0]
    if column == "loss" or role != "main":
        return ""
    values = np.asarray(run.trace.get(column, []), dtype=np.float64)
    values = values[np.isfinite(values)]
    return f"\nend: {column.split('.')[0]} loss {values[-1]:.3g}" if values.size else ""


def _main_loss(run: RunData, kind: str, ctx: PlotContext) -> tuple[np.ndarray, np.ndarray]:
    """The run's loss line drawn behind the other runs' panels: its first evaluated split
    (training, else validation, else test), else its batch loss."""
    x = _x_values(run, kind, ctx)
    if x is None:
        x = _x_values(run, "steps", ctx)
    assert x is not None
    column, _, _ = _loss_lines(run)[0]
    y = np.asarray(run.trace.get(column, []), dtype=np.float64)
    at = _shift_to_start(run, kind, ctx, x) if column == "loss" else x
    mask = np.isfinite(y)
    return at[mask], y[mask]


def _diverged_text(ax: Axes, run: RunData, line: tuple[np.ndarray, np.ndarray], color: Any) -> None:
    x, y = line
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


def _multiples_key(container: FigureBase, runs: Sequence[RunData], distinct: bool) -> None:
    """Which line is which in the per-run loss panels, right of them."""
    from matplotlib.lines import Line2D

    color = "0.25" if distinct else HIGHLIGHT
    handles: list[Any] = [Line2D([], [], color=OTHERS, linewidth=1.5)]
    labels = ["the other runs"]
    splits = [s for s in SPLIT_STYLES if any(f"{s}.loss" in r.trace for r in runs)]
    for split in splits:
        handles.append(Line2D([], [], color=color, linestyle=SPLIT_STYLES[split], linewidth=1.6))
        labels.append(f"{split} loss")
    if any(role == "batch" for r in runs for _, _, role in _loss_lines(r)):
        handles.append(Line2D([], [], color=color, alpha=BATCH_ALPHA, linewidth=1.1))
        labels.append("training batches: running mean")
        handles.append(Line2D([], [], color=color, alpha=RAW_ALPHA, linewidth=0.7))
        labels.append("… each recorded batch")
    elif not splits:
        handles.append(Line2D([], [], color=color, linewidth=1.6))
        labels.append("this run's loss")
    container.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)


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


BATCH_ALPHA = 0.55
"""How strong the running mean of the batch loss is drawn beside evaluated losses."""
RAW_ALPHA = 0.2
"""How faint each recorded batch's loss is drawn, in a run's own loss panel."""


def _loss_lines(run: RunData) -> list[tuple[str, str, str]]:
    """The run's loss columns as ``(column, line style, role)``, the main line first.

    With the full training loss (``train.loss``) recorded, the split losses are all there is
    (role ``main``). With only held-out splits, those are the main lines and the loss of each
    step's batch (role ``batch``) is noise beside them. Without splits, the batch loss is the
    main line.
    """
    splits = [(f"{s}.loss", style, "main") for s, style in SPLIT_STYLES.items()]
    splits = [line for line in splits if line[0] in run.trace]
    if any(c == "train.loss" for c, _, _ in splits):
        return splits
    if splits:
        return [*splits, ("loss", "-", "batch")]
    return [("loss", "-", "main")]


def running_mean(y: np.ndarray) -> np.ndarray:
    """A centred running mean over ``2 * max(1, len(y) // 20) + 1`` values (about a tenth of
    them, at least 3), the window shrinking symmetrically at both ends, so that the first and
    last values are their own mean: the batch loss's trend without its batch-to-batch noise."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    half = max(1, n // 20)
    if n < 3:
        return y.copy()
    cumulative = np.concatenate([[0.0], np.cumsum(y)])
    index = np.arange(n)
    reach = np.minimum(np.minimum(index, n - 1 - index), half)
    return (cumulative[index + reach + 1] - cumulative[index - reach]) / (2 * reach + 1)


def _draw_panel(
    ax: Axes,
    run: RunData,
    key: str,
    color: Any,
    kind: str,
    ctx: PlotContext,
    series: list[np.ndarray],
    raw_batch: bool = False,
    halo: bool = False,
) -> None:
    """One run's lines in one panel. Beside evaluated losses the batch loss is its running
    mean, thin and faint (and each recorded batch fainter still with ``raw_batch``)."""
    x = _x_values(run, kind, ctx)
    if x is None:
        x = _x_values(run, "steps", ctx)
    assert x is not None
    if key == "loss":
        columns = _loss_lines(run)
    elif key == "accuracy":
        columns = [
            (f"{s}.accuracy", st, "main")
            for s, st in SPLIT_STYLES.items()
            if f"{s}.accuracy" in run.trace
        ]
    else:
        columns = [(key, "-", "main")]
    for column, style, role in columns:
        if column not in run.trace:
            continue
        y = np.asarray(run.trace[column], dtype=np.float64)
        # a step's own loss, rate and gradient belong to where it started; metrics to where it ended
        at = _shift_to_start(run, kind, ctx, x) if column in ("loss", "lr", "grad_norm") else x
        mask = np.isfinite(y)
        if not mask.any():
            continue
        if role == "batch":
            if raw_batch:
                ax.plot(at[mask], y[mask], color=color, linewidth=0.7, alpha=RAW_ALPHA, zorder=2)
            mean = running_mean(y[mask])
            ax.plot(at[mask], mean, color=color, linewidth=1.1, alpha=BATCH_ALPHA, zorder=2)
            series.append(mean)
            continue
        if halo:  # an identical curve drawn over it: wide and pale underneath
            ax.plot(
                at[mask], y[mask], linestyle=style, color=color, linewidth=5, alpha=0.4, zorder=2
            )
        else:
            ax.plot(at[mask], y[mask], linestyle=style, color=color, linewidth=1.5, zorder=3)
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
    """A distinct colour per run (never grey: that is the other runs' colour), or along a
    colour bar for a numeric one-axis sweep."""
    axis = _numeric_axis(runs)
    if axis is None or len(runs) <= 10:
        if len(runs) <= 10:  # tab10 without its grey, which reads as "the other runs"
            from matplotlib import colormaps

            palette = [colormaps["tab10"](i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)] + ["black"]
            return {r.name: c for r, c in zip(runs, palette, strict=False)}, None
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
    handles = [Line2D([], [], color="0.3", linestyle=SPLIT_STYLES[s]) for s in present]
    labels = list(present)
    if any(role == "batch" for r in runs for _, _, role in _loss_lines(r)):
        handles.insert(0, Line2D([], [], color="0.3", alpha=BATCH_ALPHA, linewidth=1.1))
        labels.insert(0, "training batches (loss):\nrunning mean")
    runs_key = ax.get_legend()
    if runs_key is None:
        legend_outside(ax, handles, labels, "data split")
        return
    # one panel: the split key goes into the run key, under a heading of its own
    old = list(runs_key.legend_handles)
    names = [t.get_text() for t in runs_key.get_texts()]
    named = [label if "\n" in label else f"{label} split" for label in labels]
    legend_outside(ax, [*old, *handles], [*names, *named], "run")


def sorted_columns(names: Sequence[str]) -> list[str]:
    return sorted(names, key=natural)
