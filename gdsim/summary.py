"""Sweep summaries: which minimum each run reached, success rates and losses per axis value.

A run *reaches* a minimum of the objective (``Objective.minima()``) when it did not diverge and
its final parameters lie within the sweep's ``tol`` of that minimum (largest coordinate
difference). It *succeeds* when that minimum is a global one. For every axis of a sweep and
every value on it, the summary gives, over the runs with that value: how many there were, the
fraction that succeeded, the fraction that diverged, the median number of steps of the runs
that converged (met their tolerance), and the median final loss. With a starting point on one
axis and μ on the other, the table for μ answers the lecture's escape question: from which
fraction of starting points does momentum end in the global minimum?
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.results import Results, RunResult, to_jsonable
from gdsim.sweep import Sweep

DIVERGED = -2
NONE = -1
MAX_TABLE_ROWS = 40


def classify(run: RunResult, minima: list[dict[str, Any]], tol: float) -> int:
    """Index of the minimum ``run`` ended in, ``NONE`` (-1) or ``DIVERGED`` (-2)."""
    if run.status == "diverged":
        return DIVERGED
    best, best_distance = NONE, np.inf
    for i, minimum in enumerate(minima):
        distance = 0.0
        for name, value in minimum["params"].items():
            final = run.final_params.get(name)
            if final is None:
                distance = np.inf
                break
            diff = np.max(np.abs(np.asarray(final) - np.asarray(value, dtype=np.float64)))
            distance = max(distance, float(diff))
        if distance <= tol and distance < best_distance:
            best, best_distance = i, distance
    return best


def minimum_label(minimum: dict[str, Any]) -> str:
    """``x=3.2728 (global)``: a minimum's position and kind, for legends."""
    where = ", ".join(f"{k}={_short(v)}" for k, v in minimum["params"].items())
    return f"{where} ({minimum.get('kind', 'local')})"


def _short(value: Any) -> str:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{float(array):.5g}"
    return "[" + ", ".join(f"{float(v):.5g}" for v in array.ravel()) + "]"


@attrs.frozen
class SweepRuns:
    """A sweep with its results matched up, and the class of every run."""

    sweep: Sweep
    runs: tuple[RunResult | None, ...]
    minima: tuple[dict[str, Any], ...]
    classes: np.ndarray


def collect(results: Results, sweep: Sweep) -> SweepRuns:
    """Match a sweep's run names to results (runs left out with ``--run`` are None)."""
    by_name = {r.name: r for r in results.runs}
    runs = tuple(by_name.get(name) for name in sweep.runs)
    minima: list[dict[str, Any]] = []  # the union over the runs' objectives, first seen first
    index: dict[str, int] = {}
    cache: dict[Any, list[int]] = {}
    classes = np.full(len(runs), NONE, dtype=np.int64)
    for k, run in enumerate(runs):
        if run is None or run.spec is None:
            continue
        # a run may override the objective (even sweep it): use that run's own minima
        objective = run.spec.objective
        try:
            key: Any = (type(objective), objective)
            hash(key)
        except TypeError:
            key = id(objective)
        if key not in cache:
            positions = []
            for minimum in objective.minima():
                label = repr(to_jsonable(minimum))
                if label not in index:
                    index[label] = len(minima)
                    minima.append(minimum)
                positions.append(index[label])
            cache[key] = positions
        own = [minima[i] for i in cache[key]]
        found = classify(run, own, sweep.tol)
        classes[k] = cache[key][found] if found >= 0 else found
    return SweepRuns(sweep, runs, tuple(minima), classes)


def _stats(runs: list[RunResult], classes: list[int], minima: tuple[dict[str, Any], ...]) -> dict:
    globals_ = {i for i, m in enumerate(minima) if m.get("kind") == "global"}
    n = len(runs)
    success = sum(1 for c in classes if c in globals_)
    diverged = sum(1 for c in classes if c == DIVERGED)
    converged = [r.steps for r in runs if r.status == "converged"]
    losses = np.array(
        [r.final_loss for r in runs if r.status != "diverged" and r.final_loss is not None],
        dtype=np.float64,
    )
    reached = {minimum_label(m): sum(1 for c in classes if c == i) for i, m in enumerate(minima)}
    return {
        "runs": n,
        "success_rate": success / n if n else None,
        "diverged_rate": diverged / n if n else None,
        "reached": reached,
        "converged": len(converged),
        "errors": sum(1 for r in runs if r.status == "error"),
        "steps_to_tolerance": {
            "median": float(np.median(converged)) if converged else None,
            "max": int(max(converged)) if converged else None,
        },
        "final_loss": {
            "min": float(losses.min()) if losses.size else None,
            "median": float(np.median(losses)) if losses.size else None,
            "mean": float(losses.mean()) if losses.size else None,
            "max": float(losses.max()) if losses.size else None,
        },
    }


def summarise_sweep(results: Results, sweep: Sweep) -> dict[str, Any]:
    """The JSON-ready summary of one sweep: overall and per value of every axis."""
    matched = collect(results, sweep)
    present = [(k, r) for k, r in enumerate(matched.runs) if r is not None]
    overall = _stats(
        [r for _, r in present], [int(matched.classes[k]) for k, _ in present], matched.minima
    )
    axes = []
    for a, axis in enumerate(sweep.axes):
        rows = []
        by_value: list[list[tuple[int, RunResult]]] = [[] for _ in axis.values]
        for k, r in present:  # one pass per axis, not one per value
            by_value[sweep.points[k][a]].append((k, r))
        for j, value in enumerate(axis.values):
            sel = by_value[j]
            stats = _stats(
                [r for _, r in sel], [int(matched.classes[k]) for k, _ in sel], matched.minima
            )
            rows.append({"value": to_jsonable(value), "text": axis.texts[j], **stats})
        axes.append(
            {"path": axis.path, "label": axis.label, "initial_value": axis.is_init, "rows": rows}
        )
    return {
        "run": f"runs[{sweep.index}]",
        "name": sweep.base,
        "mode": sweep.mode,
        "tol": sweep.tol,
        "minima": [to_jsonable(m) for m in matched.minima],
        "overall": overall,
        "axes": axes,
    }


def summarise(results: Results) -> list[dict[str, Any]]:
    """Summaries of every sweep of the scenario (for ``--json``)."""
    return [summarise_sweep(results, s) for s in results.scenario.sweeps]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def format_axis_table(summary: dict[str, Any], axis: dict[str, Any]) -> str:
    """One row per value of an axis: success rate, divergence, steps, final loss."""
    header = ("", "runs", "global min", "diverged", "median steps*", "median loss")
    rows = [
        (
            f"{axis['label']}={row['text']}",
            str(row["runs"]),
            _pct(row["success_rate"]),
            _pct(row["diverged_rate"]),
            _num(row["steps_to_tolerance"]["median"]),
            _num(row["final_loss"]["median"]),
        )
        for row in axis["rows"]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, tuple("-" * w for w in widths), *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def format_sweep_summary(results: Results, sweep: Sweep) -> str:
    """The text summary of one sweep: what was swept, overall rates, then per-axis tables."""
    from gdsim.basin import basin_grid, format_basin_map

    summary = summarise_sweep(results, sweep)
    overall = summary["overall"]
    axes_text = " × ".join(f"{a.label} ({len(a.values)} values)" for a in sweep.axes)
    lines = [
        f"sweep {summary['name']} ({summary['run']}, {sweep.mode}): {axes_text}, "
        f"{overall['runs']} runs",
        f"  reached the global minimum (within {sweep.tol:g}): {_pct(overall['success_rate'])};"
        f" diverged: {_pct(overall['diverged_rate'])}; converged: {overall['converged']}"
        + (f"; raised an error: {overall['errors']}" if overall["errors"] else ""),
    ]
    if not summary["minima"]:
        lines.append("  (the objective lists no minima, so no run counts as a success)")
    for label, count in overall["reached"].items():
        lines.append(f"  ended at {label}: {count}")
    fl = overall["final_loss"]
    lines.append(
        f"  final loss: min {_num(fl['min'])}, median {_num(fl['median'])}, max {_num(fl['max'])}"
    )
    hyper = [a for a in summary["axes"] if not a["initial_value"]]
    for axis in hyper or summary["axes"][:1]:
        lines.append("")
        if any(a["initial_value"] for a in summary["axes"]):
            starts = ", ".join(a["label"] for a in summary["axes"] if a["initial_value"])
            lines.append(f"per {axis['label']}, over all starting points ({starts}):")
        lines.append(format_axis_table(summary, axis))
    lines.append("  * median steps of the runs that met their tolerance")
    grid = basin_grid(results, sweep)
    if grid is not None:
        lines.append("")
        lines.append(format_basin_map(grid))
    return "\n".join(lines)


def format_sweep_report(results: Results, max_rows: int = MAX_TABLE_ROWS) -> str:
    """The run table (short for big sweeps) followed by one summary per sweep."""
    from gdsim.report import format_table

    swept = {name for s in results.scenario.sweeps for name in s.runs}
    if len(results.runs) <= max_rows:
        table = format_table(results)
    else:
        shown = [r for r in results.runs if r.name not in swept]
        failing = [r for r in results.runs if r.name in swept and not r.passed]
        shown += failing[:10]
        subset = Results(scenario=results.scenario, runs=shown)
        lines = format_table(subset).splitlines()[:-1]  # drop its "k of k runs" line
        if not shown:
            lines = lines[:2]  # the title only
        hidden = len(results.runs) - len(shown)
        note = f"({hidden} swept runs not listed; see the summary below, --json or --out)"
        if failing:
            note = f"(showing {min(10, len(failing))} failing swept runs; {hidden} not listed)"
        passed = sum(r.passed for r in results.runs)
        lines += [note, "", f"{passed} of {len(results.runs)} runs met their expectations"]
        table = "\n".join(lines)
    parts = [table]
    for sweep in results.scenario.sweeps:
        parts.append(format_sweep_summary(results, sweep))
    return "\n\n".join(parts)


def write_sweep_outputs(results: Results, out: Path, maps: bool = True) -> list[Path]:
    """Write ``sweeps.json`` and, when matplotlib is installed, one basin map PNG per sweep.

    ``maps=False`` (``gdsim run --plot``) leaves the PNGs to the ``basins`` figure.
    """
    from gdsim.basin import basin_grid, plot_basin_map
    from gdsim.fileio import inside, safe_name, write_json

    written = [inside(out, "sweeps.json")]
    write_json(written[0], summarise(results), root=out)
    for sweep in results.scenario.sweeps:
        grid = basin_grid(results, sweep) if maps else None
        if grid is None:
            continue
        path = inside(out, f"basin_{safe_name(sweep.base)}.png")
        try:
            plot_basin_map(grid, path, root=out)
        except ImportError:
            continue
        written.append(path)
    return written
