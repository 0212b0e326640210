"""Results as pandas data frames: one row per run, and the recorded traces in long form.

pandas is optional (``pip install 'gdsim[notebook]'``, or just ``pip install pandas``); without
it these functions raise :class:`gdsim.errors.GdsimError` saying so. Column names follow the
results folder's files: a trace's array-valued entries are split into one column per
coordinate, ``params.W1[0,1]``, exactly as in ``traces/RUN.recorder.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim.errors import GdsimError

if TYPE_CHECKING:
    import pandas

    from gdsim.results import Results, RunResult

INSTALL_HINT = "pip install 'gdsim[notebook]' (or just pip install pandas)"

MAX_FINAL_VALUES = 16
"""A final parameter with more values than this gets no columns in the summary frame."""


def require_pandas() -> Any:
    """The pandas module, or a :class:`GdsimError` naming the install command."""
    try:
        import pandas
    except ImportError:
        raise GdsimError(
            f"data frames need pandas, which is not installed ({INSTALL_HINT})"
        ) from None
    return pandas


def _final_columns(run: RunResult) -> dict[str, float]:
    columns: dict[str, float] = {}
    for name, value in run.final_params.items():
        value = np.asarray(value, dtype=np.float64)
        if value.size > MAX_FINAL_VALUES:
            continue
        if value.ndim == 0:
            columns[f"final.{name}"] = float(value)
            continue
        for index in np.ndindex(value.shape):
            columns[f"final.{name}[{','.join(map(str, index))}]"] = float(value[index])
    return columns


def summary_frame(results: Results) -> pandas.DataFrame:
    """One row per run, indexed by run name.

    Columns: ``status``, ``steps``, ``epochs``, ``seed``, ``final_step``, ``final_loss``, one
    ``final.NAME`` column per value of each final parameter (parameters with more than
    :data:`MAX_FINAL_VALUES` values are left out: read them from ``run.final_params``),
    ``passed``, ``expectations`` and ``expectations_met`` (counts), ``stop_reason``,
    ``diverged_at`` and ``elapsed`` (seconds).
    """
    pd = require_pandas()
    from gdsim.results import RunList

    if isinstance(results.runs, RunList) and results.runs.columnar:
        return _summary_frame_columns(results.runs, pd)
    records = [_record(run) for run in results.runs]
    frame = pd.DataFrame.from_records(records)
    if "run" in frame:
        frame = frame.set_index("run")
    return frame


def _record(run: RunResult) -> dict[str, Any]:
    """One run's row of :func:`summary_frame`."""
    record: dict[str, Any] = {
        "run": run.name,
        "status": run.status,
        "steps": run.steps,
        "epochs": run.epochs,
        "seed": run.seed,
        "final_step": run.final_step,
        "final_loss": np.nan if run.final_loss is None else run.final_loss,
    }
    record.update(_final_columns(run))
    record.update(
        passed=run.passed,
        expectations=len(run.expectations),
        expectations_met=sum(o.passed for o in run.expectations),
        stop_reason=run.stop_reason,
        diverged_at=run.diverged_at,
        elapsed=run.elapsed,
    )
    return record


def _summary_frame_columns(runs: Any, pd: Any) -> pandas.DataFrame:
    """:func:`summary_frame` of results held partly as columns (a big sweep): each column
    built per block, from the arrays where the block is columns, without a run object."""
    from gdsim.results import Block, _names, _seeds

    columns: dict[str, list[Any]] = {}
    order: list[str] = []
    start = 0
    total = len(runs)

    def put(key: str, values: Any) -> None:
        if key not in columns:
            columns[key] = [np.nan] * total
            order.append(key)
        columns[key][start : start + len(values)] = list(values)

    for block in runs.blocks:
        if not isinstance(block, Block):
            for run in block:
                record = _record(run)
                for key, value in record.items():
                    put(key, [value])
                start += 1
            continue
        c = block.columns
        n = c.size
        names = list(_names(block))  # from the index columns: no run object per point
        seeds = _seeds(block)
        for i, more in c.extra.items():
            names[i], seeds[i] = more.get("name", names[i]), more.get("seed", seeds[i])
        passed = c.passed()
        expectations = [
            len(c.extra[i].get("expectations", ())) if i in c.extra else 0 for i in range(n)
        ]
        met = [
            sum(o.passed for o in c.extra[i].get("expectations", ())) if i in c.extra else 0
            for i in range(n)
        ]
        if c.no_divergence is not None:  # the implicit no_divergence outcome, failed
            for i in np.flatnonzero(c.no_divergence).tolist():
                if "expectations" not in c.extra.get(i, {}):
                    expectations[i] = 1
        losses = np.where(c.has_loss, c.final_loss, np.nan)
        put("run", names)
        put("status", c.status_names().tolist())
        put("steps", c.steps.tolist())
        put("epochs", c.epochs.tolist())
        put("seed", seeds)
        put("final_step", c.final_step.tolist())
        put("final_loss", losses.tolist())
        params = c.dense_params()
        for name, stacked in params.items():
            shape = stacked.shape[1:]
            if int(np.prod(shape)) > MAX_FINAL_VALUES:
                continue
            if not shape:
                put(f"final.{name}", stacked.tolist())
                continue
            for index in np.ndindex(shape):
                key = f"final.{name}[{','.join(map(str, index))}]"
                put(key, stacked[(slice(None), *index)].tolist())
        put("passed", passed.tolist())
        put("expectations", expectations)
        put("expectations_met", met)
        put("stop_reason", [c.reasons[k] for k in c.reason.tolist()])
        put("diverged_at", [None if d < 0 else d for d in c.diverged_at.tolist()])
        put("elapsed", c.elapsed.tolist())
        start += n
    frame = pd.DataFrame({key: columns[key] for key in order})
    if "run" in frame:
        frame = frame.set_index("run")
    return frame


def trace_frame(trace: Mapping[str, np.ndarray]) -> pandas.DataFrame:
    """One run's trace: a row per record, a column per scalar or coordinate."""
    from gdsim.report import _columns

    pd = require_pandas()
    return pd.DataFrame(dict(_columns(dict(trace))))


def traces_frame(runs: Iterable[RunResult]) -> pandas.DataFrame:
    """The traces of several runs stacked: a ``run`` column, then each run's trace columns.

    Runs recorded different columns (one recorded metrics, another not): the missing cells
    are NaN. Runs without a recorder contribute no rows.
    """
    pd = require_pandas()
    frames = []
    for run in runs:
        trace = run.trace
        if not trace:
            continue
        frame = trace_frame(trace)
        frame.insert(0, "run", run.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"run": pd.Series([], dtype=object)})
    return pd.concat(frames, ignore_index=True)
