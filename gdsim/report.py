"""What a scenario's results look like to a person: the run table and the results folder."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.errors import GdsimError
from gdsim.fileio import (
    atomic_open,
    check_inside,
    inside,
    open_regular,
    read_regular,
    safe_name,
    write_json,
    write_text,
)
from gdsim.results import Results, RunResult, to_jsonable


def _format_number(value: Any) -> str:
    if value is None:
        return "-"
    return repr(float(value))


def _format_array(value: np.ndarray) -> str:
    if value.ndim == 0:
        return repr(float(value))
    if value.size <= 4:
        return "[" + ", ".join(repr(float(v)) for v in value.ravel()) + "]"
    return f"array{value.shape}"


MAX_LISTED_VALUES = 4
"""Final parameters with more values than this are summarised in the table, not listed."""


def _format_params(run: RunResult) -> str:
    params = run.final_params
    total = sum(int(np.size(v)) for v in params.values())
    if total <= MAX_LISTED_VALUES:
        return ", ".join(f"{k} = {_format_array(v)}" for k, v in params.items())
    names = list(params)
    span = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
    return f"{span} ({len(names)} arrays, {total} values)"


def _format_expectations(run: RunResult) -> str:
    if not run.expectations:
        return "-"
    ok = sum(o.passed for o in run.expectations)
    total = len(run.expectations)
    return f"ok ({ok}/{total})" if ok == total else f"FAILED ({total - ok} of {total})"


def _format_status(run: RunResult) -> str:
    if run.status == "diverged":
        return f"diverged@{run.diverged_at}"
    return run.status


def _format_target(run: RunResult) -> str | None:
    """Steps to the loss target, from a ``loss_target`` observer's outputs (None: no observer)."""
    for data in run.outputs.values():
        if isinstance(data, dict) and "steps_to_target" in data:
            hit = data["steps_to_target"]
            return "-" if hit is None else str(hit)
    return None


@attrs.frozen
class RunTable:
    """The run table's cells as text, shared by the plain, terminal and notebook views."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    right: frozenset[int]
    """Indices of the columns aligned right (counts)."""


def run_table(results: Results) -> RunTable:
    """One row per run: name, status, steps, (steps to target,) final params, loss, checks."""
    header = ("run", "status", "steps", "final params", "final loss", "expectations")
    rows = [
        (
            r.name,
            _format_status(r),
            str(r.steps),
            _format_params(r),
            _format_number(r.final_loss),
            _format_expectations(r),
        )
        for r in results.runs
    ]
    right = {2}
    targets = [_format_target(r) for r in results.runs]
    if any(t is not None for t in targets):  # a loss_target observer ran: add "to target"
        header = (*header[:3], "to target", *header[3:])
        rows = [(*row[:3], t or "-", *row[3:]) for row, t in zip(rows, targets, strict=True)]
        right = {2, 3}
    return RunTable(header, rows, frozenset(right))


def failed_expectations(results: Results) -> list[str]:
    """One line per expectation a run did not meet: run, check, expected and actual value."""
    lines = []
    for r in results.runs:
        for o in r.expectations:
            if not o.passed:
                detail = f" [{o.detail}]" if o.detail else ""
                lines.append(
                    f"{r.name}: {o.name}: expected {_plain(o.expected)}, got {_plain(o.actual)}"
                    f"{detail}"
                )
    return lines


def title_line(results: Results) -> str:
    """The scenario's name and description."""
    scenario = results.scenario
    return scenario.name + (f": {scenario.description}" if scenario.description else "")


def format_table(results: Results, width: int | None = None) -> str:
    """The human-readable table of a scenario's runs, with failed expectations below it.

    Columns are separated by two spaces and every number is printed in full: this is what
    pipes, files and scripts see. Given the terminal's ``width``, a table wider than that is
    printed run by run instead (:func:`format_runs`), so that no row wraps across columns and
    no number is split.
    """
    table = run_table(results)
    header, rows, right = table.header, table.rows, table.right
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    if width is not None and sum(widths) + 2 * (len(widths) - 1) > width:
        body = format_runs(table)
    else:

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        body = [line(header), line(tuple("-" * w for w in widths))] + [line(r) for r in rows]
    lines = [title_line(results), "", *body]
    failures = failed_expectations(results)
    if failures:
        lines.append("")
        lines.append("failed expectations:")
        lines += [f"  {failure}" for failure in failures]
    relaxed = promise_note(results)
    if relaxed:
        lines += ["", relaxed]
    lines.append("")
    lines.append(outcome_line(results))
    return "\n".join(lines)


def promise_note(results: Results) -> str | None:
    """A note when met expectations were checked at the backend's promise instead of the
    exact values they ask for (None when there are none)."""
    from gdsim.backends import promised_rtol
    from gdsim.expectations import at_backend_promise

    count = sum(
        1 for r in results.runs for o in r.expectations if o.passed and at_backend_promise(o)
    )
    if not count:
        return None
    backend = results.scenario.backend
    things = "value was" if count == 1 else "values were"
    return (
        f"note: {count} expected {things} checked to {promised_rtol(backend):g} relative, what "
        f"the {backend} backend promises, not to the exact bits asked for (those are the numpy "
        "backend's)"
    )


LONG_COLUMNS = ("final params", "final loss")
"""The cells that move to a run's second line when the table is too wide for the terminal."""


def format_runs(table: RunTable) -> list[str]:
    """The run table in two lines per run, for a narrow terminal.

    The first line holds the short cells (name, status, steps, expectations) aligned in
    columns; the second, indented, the final parameters and loss, each number whole.
    """
    short = [i for i, h in enumerate(table.header) if h not in LONG_COLUMNS]
    long = [i for i, h in enumerate(table.header) if h in LONG_COLUMNS]
    widths = {i: max(len(row[i]) for row in [table.header, *table.rows]) for i in short}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cells[i].rjust(widths[i]) if i in table.right else cells[i].ljust(widths[i])
            for i in short
        ).rstrip()

    long_widths = [max(len(row[i]) for row in [table.header, *table.rows]) for i in long]

    def second(cells: tuple[str, ...]) -> str:
        padded = [cells[i].ljust(w) for i, w in zip(long, long_widths, strict=True)]
        return ("    " + "  ".join(padded)).rstrip()

    rule = tuple("-" * widths.get(i, 0) for i in range(len(table.header)))
    lines = [line(table.header), second(table.header), line(rule)]
    for row in table.rows:
        lines += [line(row), second(row)]
    return lines


def outcome_line(results: Results) -> str:
    """How many runs met their expectations, not counting runs that have none."""
    checked, passed = results.expectation_counts()
    unchecked = len(results.runs) - checked
    if not checked:
        return f"no expectations to check ({unchecked} {'run' if unchecked == 1 else 'runs'})"
    if not unchecked:
        return f"{passed} of {checked} runs met their expectations"
    none = "1 run has none" if unchecked == 1 else f"{unchecked} runs have none"
    return f"{passed} of {checked} runs with expectations met them; {none}"


def _plain(value: Any) -> str:
    value = to_jsonable(value)
    return json.dumps(value) if not isinstance(value, str) else value


def write_results(results: Results, out: Path, parquet: bool | None = None) -> None:
    """Write ``summary.json`` and per-run traces into ``out``, every file atomically.

    Each run's recorded traces go to ``traces/RUN.OBSERVER.csv`` and, when pyarrow is
    importable (or ``parquet`` is true), also ``.parquet``. The summary holds the scenario's
    definition (so ``gdsim plot`` can redraw the objective), each run's result, the files
    written and what other observers reported (early stopping's best step, checkpoint files).
    """
    listed = results.listed()  # a big sweep: aggregates, its runs are in its columns
    if parquet is None:  # importing pyarrow costs tens of ms: only when a trace needs it
        traced = any(
            isinstance(d, dict) and d.get("trace") for r in listed for d in r.outputs.values()
        )
        parquet = traced and _has_pyarrow()
    out.mkdir(parents=True, exist_ok=True)
    summary = results.to_dict(listed)
    summary["scenario"]["definition"] = _definition(results)
    for run, entry in zip(listed, summary["runs"], strict=True):
        files = []
        reports = {}
        for observer, data in run.outputs.items():
            trace = data.get("trace") if isinstance(data, dict) else None
            if not trace:
                if data:
                    reports[observer] = to_jsonable(data)
                continue
            base = f"{safe_name(run.name)}.{safe_name(observer)}"
            write_text(inside(out, "traces", f"{base}.csv"), trace_to_csv(trace), root=out)
            files.append(f"traces/{base}.csv")
            if parquet:
                write_parquet(inside(out, "traces", f"{base}.parquet"), trace, root=out)
                files.append(f"traces/{base}.parquet")
        entry["files"] = files
        entry["observers"] = reports
    write_json(inside(out, "summary.json"), summary, root=out)


def _definition(results: Results) -> Any:
    """The scenario's mapping as JSON, or None when it holds values JSON cannot (dates)."""
    value = to_jsonable(dict(results.scenario.raw))
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def _has_pyarrow() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _columns(trace: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """One column per scalar entry and one per coordinate of array-valued entries."""
    columns: list[tuple[str, np.ndarray]] = []
    for key, values in trace.items():
        values = np.asarray(values)
        if values.ndim <= 1:
            columns.append((key, values))
        else:
            flat = values.reshape(values.shape[0], -1)
            for j in range(flat.shape[1]):
                index = np.unravel_index(j, values.shape[1:])
                columns.append((f"{key}[{','.join(str(i) for i in index)}]", flat[:, j]))
    return columns


def write_parquet(path: Path, trace: dict[str, np.ndarray], root: Path | None = None) -> None:
    """Atomically write a trace as a Parquet table with the same columns as its CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: values for name, values in _columns(trace)})
    with atomic_open(path, "wb", root=root) as handle:
        pq.write_table(table, handle)


def read_trace_csv(path: Path) -> dict[str, np.ndarray]:
    """Read a trace CSV back into arrays, regrouping ``name[i,j]`` columns into one array."""
    with open_regular(path, MAX_TRACE_BYTES, "trace CSV") as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        table = [row for row in csv.reader(handle) if row]
    if not table:
        return {}
    names, rows = table[0], table[1:]
    data = {
        name: np.array([float(r[i]) if r[i] else np.nan for r in rows], dtype=np.float64)
        for i, name in enumerate(names)
    }
    trace: dict[str, np.ndarray] = {}
    groups: dict[str, list[tuple[tuple[int, ...], np.ndarray]]] = {}
    for name, values in data.items():
        match = re.fullmatch(r"(.+)\[([0-9,]+)\]", name)
        if match:
            index = tuple(int(i) for i in match.group(2).split(","))
            groups.setdefault(match.group(1), []).append((index, values))
        else:
            trace[name] = values.astype(np.int64) if name == "step" else values
    for base, cells in groups.items():
        shape = tuple(max(idx[d] for idx, _ in cells) + 1 for d in range(len(cells[0][0])))
        array = np.full((len(rows), *shape), np.nan)
        for index, values in cells:
            array[(slice(None), *index)] = values
        trace[base] = array
    return trace


MAX_SUMMARY_BYTES = 256 * 1024 * 1024
MAX_TRACE_BYTES = 1024 * 1024 * 1024
"""Bounds on what ``gdsim plot`` reads from a results folder (which may come from anyone)."""


def read_results(folder: Path) -> dict[str, Any]:
    """Read a results folder: its summary, with each run's first trace under ``"trace"``."""
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(read_regular(summary_path, MAX_SUMMARY_BYTES, "summary").decode())
    except FileNotFoundError:
        if not folder.exists():
            raise GdsimError(
                f"{folder}: no such folder (expected a results folder written by gdsim run --out)"
            ) from None
        raise GdsimError(f"{folder}: not a results folder (no summary.json)") from None
    except (OSError, ValueError) as exc:
        raise GdsimError(f"{summary_path}: cannot read the summary ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("runs"), list):
        raise GdsimError(f"{summary_path}: not a gdsim summary (no 'runs' list)")
    for run in summary["runs"]:
        if not isinstance(run, dict):
            raise GdsimError(f"{summary_path}: not a gdsim summary (a run is not a table)")
        files = run.get("files", [])
        files = files if isinstance(files, list) else []
        csvs = [f for f in files if isinstance(f, str) and f.endswith(".csv")]
        run["trace"] = {}
        if csvs:
            try:  # a summary names its traces: only files inside the folder, regular ones
                check_inside(folder / csvs[0], folder, "read")
                run["trace"] = read_trace_csv(folder / csvs[0])
            except (OSError, ValueError, IndexError, GdsimError) as exc:
                raise GdsimError(f"{folder / csvs[0]}: cannot read the trace ({exc})") from None
    return summary


def trace_to_csv(trace: dict[str, np.ndarray]) -> str:
    """A CSV with one column per scalar and one per coordinate of array-valued entries."""
    columns = _columns(trace)
    lines = [",".join(f'"{name}"' if "," in name else name for name, _ in columns)]
    n = len(columns[0][1]) if columns else 0
    for i in range(n):
        lines.append(",".join(_csv_cell(col[i]) for _, col in columns))
    return "\n".join(lines) + "\n"


def _csv_cell(value: Any) -> str:
    if isinstance(value, np.integer | int):
        return str(int(value))
    value = float(value)
    return "" if np.isnan(value) else repr(value)
