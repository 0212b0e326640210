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
    records = []
    for run in results.runs:
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
        records.append(record)
    frame = pd.DataFrame.from_records(records)
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
