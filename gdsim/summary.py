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
    """A sweep with its results matched up, and the class of every run, as columns over the
    sweep's points (statistics per axis value are then array operations).

    ``runs`` holds the result objects when the results were objects; for a sweep whose
    results are columns (:class:`gdsim.results.RunList`) it is None and nothing per run is
    made. ``final_loss`` is NaN where there is none (and for diverged runs), ``status`` ""
    for runs left out with ``--run``, ``finals`` the final parameters stacked (NaN rows for
    runs without them).
    """

    sweep: Sweep
    runs: tuple[RunResult | None, ...] | None
    minima: tuple[dict[str, Any], ...]
    classes: np.ndarray
    steps: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=np.int64))
    final_loss: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0))
    converged: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=bool))
    present: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=bool))
    errors: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=bool))
    status: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=str))
    final_step: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=np.int64))
    diverged_at: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=np.int64))
    passed: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0, dtype=bool))
    finals: dict[str, np.ndarray] = attrs.field(eq=False, factory=dict)
    loss: np.ndarray = attrs.field(eq=False, factory=lambda: np.zeros(0))
    """The final loss as reported (a diverged run's last finite one too), NaN for none."""
    codes: tuple[np.ndarray, tuple[str, ...]] | None = attrs.field(eq=False, default=None)
    """For results held as columns: each run's status as a code into the statuses (then
    ``status`` is empty; :func:`status_names` makes the strings)."""


def status_names(matched: SweepRuns) -> np.ndarray:
    """Each run's status as a string ("" where absent), as narrow as the statuses need."""
    if matched.codes is None:
        status = matched.status
    else:
        codes, statuses = matched.codes
        used = np.unique(codes)
        status = np.asarray(statuses, dtype=str)[used][np.searchsorted(used, codes)]
    used_names = np.unique(status).tolist()
    return status.astype(f"<U{max([1, *map(len, used_names)])}")


def _matched(results: Results, sweep: Sweep) -> tuple[RunResult | None, ...]:
    """The result of each of the sweep's points (None for runs left out with ``--run``).

    Results come in scenario order, so when every run is there the sweep's results are a slice
    of them (checked at both ends); otherwise they are matched by name.
    """
    runs = results.runs
    start = _offset(results, sweep)
    n = len(sweep.points)
    if (
        start is not None
        and start + n <= len(runs)
        and runs[start].name == sweep.name(0)
        and runs[start + n - 1].name == sweep.name(n - 1)
    ):
        return tuple(runs[start : start + n])
    by_name = {r.name: r for r in runs}
    return tuple(by_name.get(name) for name in sweep.runs)


def _entry(results: Results, sweep: Sweep) -> tuple[int, Any] | None:
    """Where the sweep's runs start among the scenario's runs and its entry, when all ran."""
    scenario_runs = results.scenario.runs
    if len(results.runs) != len(scenario_runs):
        return None
    from gdsim.runs import Runs
    from gdsim.runs import SweepRuns as Made

    if isinstance(scenario_runs, Runs):
        for item, start in zip(scenario_runs.items, scenario_runs.starts.tolist(), strict=False):
            if isinstance(item, Made) and item.sweep is sweep:
                return int(start), item
    return None


def _entry_of(scenario: Any, sweep: Sweep) -> Any:
    """The swept entry (:class:`gdsim.runs.SweepRuns`) of ``sweep`` in ``scenario``."""
    from gdsim.runs import Runs
    from gdsim.runs import SweepRuns as Made

    runs = scenario.runs
    if isinstance(runs, Runs):
        for item in runs.items:
            if isinstance(item, Made) and item.sweep is sweep:
                return item
    return None


def _offset(results: Results, sweep: Sweep) -> int | None:
    """Where the sweep's runs start among the scenario's runs, when all of them ran."""
    found = _entry(results, sweep)
    return None if found is None else found[0]


def _objective_minima(
    objective: Any, minima: list[dict[str, Any]], index: dict[str, int]
) -> list[int]:
    """The positions in ``minima`` (extended as needed) of ``objective``'s minima."""
    positions = []
    for minimum in objective.minima():
        label = repr(to_jsonable(minimum))
        if label not in index:
            index[label] = len(minima)
            minima.append(minimum)
        positions.append(index[label])
    return positions


def collect(results: Results, sweep: Sweep) -> SweepRuns:
    """Match a sweep's runs to results (runs left out with ``--run`` are None), classify them."""
    from gdsim.results import RunList

    found = _entry(results, sweep)
    if found is not None and isinstance(results.runs, RunList):
        start, entry = found
        columns = results.runs.columns(start, start + len(sweep.points))
        if columns is not None:
            return _collect_columns(sweep, columns, entry.template.objective)
    runs = _matched(results, sweep)
    minima: list[dict[str, Any]] = []  # the union over the runs' objectives, first seen first
    index: dict[str, int] = {}
    cache: dict[Any, list[int]] = {}
    by_objective: dict[Any, list[int]] = {}
    n = len(runs)
    classes = np.full(n, NONE, dtype=np.int64)
    steps = np.zeros(n, dtype=np.int64)
    final_loss = np.full(n, np.nan)
    present = np.zeros(n, dtype=bool)
    status = np.array(["" if r is None else r.status for r in runs], dtype=str)
    for k, run in enumerate(runs):
        if run is None or run.spec is None:
            continue
        present[k] = True
        steps[k] = run.steps
        if run.status != "diverged" and run.final_loss is not None:
            final_loss[k] = run.final_loss
        # a run may override the objective (even sweep it): use that run's own minima
        objective = run.spec.objective
        try:
            key: Any = (type(objective), objective)
            hash(key)
        except TypeError:
            key = id(objective)
        if key not in cache:
            cache[key] = _objective_minima(objective, minima, index)
        by_objective.setdefault(key, []).append(k)
    for key, members in by_objective.items():
        rows = np.asarray(members)
        own = [minima[i] for i in cache[key]]
        found_at = _classify_all([runs[k] for k in members], own, sweep.tol)  # type: ignore[misc]
        classes[rows] = np.where(found_at >= 0, np.asarray(cache[key] + [0])[found_at], found_at)
    classes[status == "diverged"] = DIVERGED
    shapes: dict[str, tuple[int, ...]] = {}
    for r in runs:
        for name, value in (r.final_params if r is not None else {}).items():
            shapes.setdefault(name, np.shape(value))
    finals = {}
    for name, shape in shapes.items():
        stacked = np.full((n, *shape), np.nan)
        for k, r in enumerate(runs):
            value = None if r is None else r.final_params.get(name)
            if value is not None and np.shape(value) == shape:
                stacked[k] = value
        finals[name] = stacked
    return SweepRuns(
        sweep,
        runs,
        tuple(minima),
        classes,
        steps,
        final_loss,
        status == "converged",
        present,
        status == "error",
        status,
        np.array([0 if r is None else r.final_step for r in runs], dtype=np.int64),
        np.array(
            [-1 if r is None or r.diverged_at is None else r.diverged_at for r in runs],
            dtype=np.int64,
        ),
        np.array([r is not None and r.passed for r in runs], dtype=bool),
        finals,
        np.array(
            [np.nan if r is None or r.final_loss is None else r.final_loss for r in runs],
            dtype=np.float64,
        ),
    )


def _collect_columns(sweep: Sweep, columns: Any, objective: Any) -> SweepRuns:
    """:func:`collect` from a sweep's results held as columns (no object per run)."""
    minima: list[dict[str, Any]] = []
    _objective_minima(objective, minima, {})
    codes = np.asarray(columns.status)

    def named(name: str) -> np.ndarray:
        return codes == columns.statuses.index(name) if name in columns.statuses else codes < 0

    diverged = named("diverged")
    finals = columns.dense_params()
    classes = _classify_finals(finals, columns.size, minima, sweep.tol)
    if classes is None:  # parameters unlike the minima's: one run at a time
        runs = columns.runs([_Spec(objective)] * columns.size)
        classes = np.array([classify(r, minima, sweep.tol) for r in runs], dtype=np.int64)
    classes[diverged] = DIVERGED
    final_loss = np.where(columns.has_loss & ~diverged, columns.final_loss, np.nan)
    return SweepRuns(
        sweep,
        None,
        tuple(minima),
        classes,
        np.asarray(columns.steps, dtype=np.int64),
        final_loss,
        named("converged"),
        np.ones(columns.size, dtype=bool),
        named("error"),
        np.zeros(0, dtype=str),  # made from the codes only when written (sweep_columns)
        np.asarray(columns.final_step, dtype=np.int64),
        np.asarray(columns.diverged_at, dtype=np.int64),
        columns.passed(),
        finals,
        np.where(columns.has_loss, columns.final_loss, np.nan),
        (codes, columns.statuses),
    )


@attrs.frozen
class _Spec:
    """The little of a spec :func:`classify` needs of a columnar run (its objective)."""

    objective: Any
    name: str = ""
    seed: int = 0


def _classify_all(runs: list[RunResult], minima: list[dict[str, Any]], tol: float) -> np.ndarray:
    """:func:`classify` for many runs at once: the index into ``minima`` or ``NONE``."""
    finals: dict[str, np.ndarray] = {}
    names = {name for minimum in minima for name in minimum["params"]}
    for name in names:
        try:
            finals[name] = np.stack(
                [np.asarray(r.final_params[name], dtype=np.float64) for r in runs]
            )
        except (KeyError, ValueError):  # a run without it (or of another shape)
            return np.array([classify(r, minima, tol) for r in runs], dtype=np.int64)
    found = _classify_finals(finals, len(runs), minima, tol)
    if found is None:
        return np.array([classify(r, minima, tol) for r in runs], dtype=np.int64)
    return found


def _classify_finals(
    finals: dict[str, np.ndarray], n: int, minima: list[dict[str, Any]], tol: float
) -> np.ndarray | None:
    """The minimum each of ``n`` runs ended in, from their final parameters stacked (a run
    without a parameter has NaN there and reaches none); None when a minimum names a
    parameter the runs do not have."""
    best = np.full(n, NONE, dtype=np.int64)
    best_distance = np.full(n, np.inf)
    for i, minimum in enumerate(minima):
        distance = np.zeros(n)
        for name, value in minimum["params"].items():
            final = finals.get(name)
            if final is None:
                return None
            target = np.asarray(value, dtype=np.float64)
            if final.shape[1:] != np.broadcast_shapes(final.shape[1:], target.shape):
                return None
            diff = np.abs(final - target).reshape(n, -1).max(axis=1, initial=0.0)
            distance = np.maximum(distance, diff)
        better = (distance <= tol) & (distance < best_distance)
        best[better], best_distance[better] = i, distance[better]
    return best


def _stats(matched: SweepRuns, rows: np.ndarray) -> dict[str, Any]:
    """Statistics over the runs ``rows`` (indices into the sweep's points, present ones)."""
    minima = matched.minima
    classes = matched.classes[rows]
    globals_ = [i for i, m in enumerate(minima) if m.get("kind") == "global"]
    n = len(rows)
    success = int(np.isin(classes, globals_).sum())
    diverged = int((classes == DIVERGED).sum())
    converged = matched.steps[rows][matched.converged[rows]]
    losses = matched.final_loss[rows]
    losses = losses[~np.isnan(losses)]
    counts = np.bincount(classes[classes >= 0], minlength=len(minima))
    reached = {minimum_label(m): int(counts[i]) for i, m in enumerate(minima)}
    return {
        "runs": n,
        "success_rate": success / n if n else None,
        "diverged_rate": diverged / n if n else None,
        "reached": reached,
        "converged": len(converged),
        "errors": int(matched.errors[rows].sum()),
        "steps_to_tolerance": {
            "median": float(np.median(converged)) if len(converged) else None,
            "max": int(converged.max()) if len(converged) else None,
        },
        "final_loss": {
            "min": float(losses.min()) if losses.size else None,
            "median": float(np.median(losses)) if losses.size else None,
            "mean": float(losses.mean()) if losses.size else None,
            "max": float(losses.max()) if losses.size else None,
        },
    }


def _stats_by_value(
    matched: SweepRuns,
    rows: np.ndarray,
    value: np.ndarray,
    count: int,
    orders: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """:func:`_stats` of the runs ``rows`` grouped by ``value`` (each row's value index, of
    ``count``), for all values at once: counts by ``bincount``, medians, minima and maxima
    from one sort per column (an axis of 10 000 values costs a few array operations, not
    10 000 calls). The medians are :func:`numpy.median`'s; a mean is a sum over the value's
    runs in sorted order divided by their number (it may differ from ``numpy.mean`` in the
    last bit). ``orders`` keeps each column's sort for the next axis (same ``rows``)."""
    orders = {} if orders is None else orders
    if len(rows) == len(matched.classes):  # every run present: views, not copies
        rows = slice(None)  # type: ignore[assignment]
    minima = matched.minima
    classes = matched.classes[rows]
    globals_ = [i for i, m in enumerate(minima) if m.get("kind") == "global"]

    def counted(mask: np.ndarray) -> list[int]:
        return np.bincount(value[mask], minlength=count).tolist()

    runs = np.bincount(value, minlength=count).tolist()
    success = counted(np.isin(classes, globals_))
    diverged = counted(classes == DIVERGED)
    errors = counted(matched.errors[rows])
    labels = [minimum_label(m) for m in minima]
    reached = [counted(classes == i) for i in range(len(minima))]
    converged = matched.converged[rows]
    steps = _grouped(value[converged], matched.steps[rows][converged], count, orders, "steps")
    losses = matched.final_loss[rows]
    finite = ~np.isnan(losses)
    loss = _grouped(value[finite], losses[finite], count, orders, "loss")
    out = []
    for j in range(count):
        n = runs[j]
        out.append(
            {
                "runs": n,
                "success_rate": success[j] / n if n else None,
                "diverged_rate": diverged[j] / n if n else None,
                "reached": {label: reached[i][j] for i, label in enumerate(labels)},
                "converged": steps["count"][j],
                "errors": errors[j],
                "steps_to_tolerance": {
                    "median": steps["median"][j],
                    "max": None if steps["max"][j] is None else int(steps["max"][j]),
                },
                "final_loss": {k: loss[k][j] for k in ("min", "median", "mean", "max")},
            }
        )
    return out


def _grouped(
    group: np.ndarray,
    values: np.ndarray,
    count: int,
    orders: dict[str, np.ndarray] | None = None,
    key: str = "",
) -> dict[str, list[Any]]:
    """Count, min, median, mean and max of ``values`` per ``group`` (None for empty groups).

    The values are sorted once (kept in ``orders[key]`` for other groupings of the same
    values), then stably by group: a radix sort of small integers."""
    orders = {} if orders is None else orders
    if key not in orders:
        orders[key] = np.argsort(values, kind="stable")
    by_value = orders[key]
    narrow = group[by_value].astype(np.min_scalar_type(max(count - 1, 0)))
    order = by_value[np.argsort(narrow, kind="stable")]
    values = np.asarray(values, dtype=np.float64)[order]
    counts = np.bincount(group, minlength=count)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    some = counts > 0
    s, c = starts[some], counts[some]
    upper = values[s + c // 2] if len(values) else np.zeros(0)
    lower = values[s + (c - 1) // 2] if len(values) else np.zeros(0)
    stats = {
        "min": values[s] if len(values) else np.zeros(0),
        "median": (lower + upper) / 2,  # numpy.median's mean of the two middle values
        "mean": np.add.reduceat(values, s) / c if len(values) else np.zeros(0),
        "max": values[s + c - 1] if len(values) else np.zeros(0),
    }
    out: dict[str, list[Any]] = {"count": counts.tolist()}
    where = np.flatnonzero(some).tolist()
    for key, column in stats.items():
        full: list[Any] = [None] * count
        for j, v in zip(where, column.tolist(), strict=True):
            full[j] = v
        out[key] = full
    return out


def summarise_sweep(results: Results, sweep: Sweep) -> dict[str, Any]:
    """The JSON-ready summary of one sweep: overall and per value of every axis."""
    matched = collect(results, sweep)
    present = np.flatnonzero(matched.present)
    overall = _stats(matched, present)
    axes = []
    orders: dict[str, np.ndarray] = {}  # each column sorted once, for every axis
    points = np.asarray(sweep.points)[present].reshape(len(present), len(sweep.axes))
    for a, axis in enumerate(sweep.axes):
        per_value = _stats_by_value(matched, present, points[:, a], len(axis.values), orders)
        rows = [
            {"value": to_jsonable(value), "text": axis.texts[j], **per_value[j]}
            for j, value in enumerate(axis.values)
        ]
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


def ran(results: Results) -> list[Sweep]:
    """The scenario's sweeps that have runs in ``results`` (``--run`` and a resume of one run
    leave the others out)."""
    return [s for s in results.scenario.sweeps if collect(results, s).present.any()]


def summarise(results: Results) -> list[dict[str, Any]]:
    """Summaries of every sweep of the scenario that ran (for ``--json``)."""
    return [summarise_sweep(results, s) for s in ran(results)]


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
    """The run table (short for big sweeps: the runs outside sweeps and the first 10 swept
    runs that failed) followed by one summary per sweep, aggregated per swept value."""
    from gdsim.report import format_table

    if len(results.runs) <= max_rows:
        table = format_table(results)
    else:
        ranges = results._sweep_ranges()
        if ranges:  # every run ran: the sweeps by position, failing runs from their columns
            shown = results.listed(limit=max_rows, failing=10)
            outside = len(results.runs) - sum(hi - lo for lo, hi in ranges)
            swept_shown = len(shown) - outside
        else:
            swept = {name for s in results.scenario.sweeps for name in s.runs}
            shown = [r for r in results.runs if r.name not in swept]
            failing = [r for r in results.runs if r.name in swept and not r.passed]
            shown += failing[:10]
            swept_shown = min(10, len(failing))
        subset = Results(scenario=results.scenario, runs=shown)
        lines = format_table(subset).splitlines()[:-1]  # drop its "k of k runs" line
        if not shown:
            lines = lines[:2]  # the title only
        hidden = len(results.runs) - len(shown)
        note = f"({hidden} swept runs not listed; see the summary below, --json or --out)"
        if swept_shown:
            note = f"(showing {swept_shown} failing swept runs; {hidden} not listed)"
        passed = results.passed_count()
        lines += [note, "", f"{passed} of {len(results.runs)} runs met their expectations"]
        table = "\n".join(lines)
    parts = [table]
    for sweep in ran(results):
        parts.append(format_sweep_summary(results, sweep))
    return "\n\n".join(parts)


def write_sweep_outputs(results: Results, out: Path, maps: bool = True) -> list[Path]:
    """Write ``sweeps.json``, each sweep's results as columns (:func:`write_sweep_columns`)
    and, when matplotlib is installed, one basin map PNG per sweep.

    ``maps=False`` (``gdsim run --plot``) leaves the PNGs to the ``basins`` figure.
    """
    from gdsim.basin import basin_grid, plot_basin_map
    from gdsim.fileio import inside, safe_name, write_json

    written = [inside(out, "sweeps.json")]
    write_json(written[0], summarise(results), root=out)
    for sweep in ran(results):
        written.append(write_sweep_columns(results, sweep, out))
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


def sweep_columns(results: Results, sweep: Sweep) -> dict[str, np.ndarray]:
    """A sweep's results as columns, one row per point in sweep order.

    ``index.LABEL`` (the value index on each axis) and ``value.LABEL`` (the value, for axes of
    plain numbers) or ``text.LABEL`` (as written in run names); ``present`` (false for runs
    left out with ``--run``), ``status`` (empty where absent), ``steps``, ``final_step``,
    ``diverged_at`` (-1 for none), ``final_loss`` (NaN for none), ``passed``, ``minimum``
    (the index into the summary's ``minima``, -1 none, -2 diverged) and ``final.NAME`` (the
    final parameters stacked, NaN where a run has none).
    """
    matched = collect(results, sweep)
    n = len(matched.classes)
    points = np.asarray(sweep.points).reshape(n, -1)
    columns: dict[str, np.ndarray] = {}
    for a, axis in enumerate(sweep.axes):
        index = points[:, a].astype(np.int64)
        columns[f"index.{axis.label}"] = index
        if all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in axis.values
        ):
            columns[f"value.{axis.label}"] = np.asarray(axis.values, dtype=np.float64)[index]
        else:
            columns[f"text.{axis.label}"] = np.asarray(axis.texts, dtype=str)[index]
    columns["present"] = matched.present
    columns["status"] = status_names(matched)
    columns["steps"] = matched.steps
    columns["final_step"] = matched.final_step
    columns["diverged_at"] = matched.diverged_at
    columns["final_loss"] = matched.loss
    columns["passed"] = matched.passed
    columns["minimum"] = matched.classes
    for name, stacked in matched.finals.items():
        columns[f"final.{name}"] = stacked
    return columns


def write_sweep_columns(
    results: Results, sweep: Sweep, out: Path, format: str | None = None
) -> Path:
    """Write :func:`sweep_columns` into ``out`` as ``sweep_NAME.parquet`` (when pyarrow is
    installed, or ``format="parquet"``) or ``sweep_NAME.npz``, atomically, inside ``out``.

    Parquet has one column per coordinate of a final parameter that is not a number
    (``final.w[0]``, ``final.w[1]``, …); the npz keeps its shape (runs × parameter shape).
    """
    from gdsim.fileio import atomic_open, inside, safe_name

    if format is None:
        try:
            import pyarrow  # noqa: F401

            format = "parquet"
        except ImportError:
            format = "npz"
    columns = sweep_columns(results, sweep)
    path = inside(out, f"sweep_{safe_name(sweep.base)}.{format}")
    if format == "npz":
        with atomic_open(path, "wb", root=out) as handle:
            np.savez(handle, **columns)  # type: ignore[arg-type]
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat: dict[str, np.ndarray] = {}
    for key, column in columns.items():
        if column.ndim <= 1:
            flat[key] = column
            continue
        for where in np.ndindex(*column.shape[1:]):
            flat[f"{key}[{','.join(map(str, where))}]"] = column[(slice(None), *where)]
    table = pa.table({k: pa.array(v) for k, v in flat.items()})
    with atomic_open(path, "wb", root=out) as handle:
        pq.write_table(table, handle)
    return path
