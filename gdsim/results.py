"""Run results: final values, status, expectation outcomes, and their JSON form."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.chained import Chained
from gdsim.expectations import Outcome, evaluate

if TYPE_CHECKING:
    import pandas

    from gdsim.engine import RunContext
    from gdsim.notebook import Figures
    from gdsim.scenario import RunSpec, Scenario


def to_jsonable(value: Any) -> Any:
    """Numbers, nested lists and dicts from arrays and numpy scalars (non-finite → None)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class Trace(dict):  # type: ignore[type-arg]
    """A run's recorded trace: column name → numpy array, one entry per record.

    Columns are ``step``, ``loss``, ``lr``, ``grad_norm``, recorded metrics such as
    ``validation.loss``, and ``params.NAME`` (records × parameter shape).
    """

    def __init__(self, run: str, columns: Mapping[str, np.ndarray]) -> None:
        super().__init__(columns)
        self.run = run

    def __missing__(self, key: str) -> np.ndarray:
        if not self:
            raise KeyError(
                f"run '{self.run}' has no recorded trace; add observers = "
                f'[{{ name = "recorder" }}] to the run'
            )
        raise KeyError(f"run '{self.run}' recorded no '{key}' (recorded: {', '.join(self)})")


@attrs.define(repr=False)
class RunResult:
    """The outcome of one run.

    ``final_params``/``final_loss`` are the last finite iterate: after ``final_step`` steps.
    For a diverged run ``diverged_at`` is the step count whose values were non-finite.
    In a notebook a run shows as a small table (``_repr_html_``); ``to_pandas()`` gives its
    trace as a data frame.
    """

    name: str
    status: str
    steps: int
    epochs: int
    final_params: dict[str, np.ndarray]
    final_loss: float | None
    final_step: int
    seed: int
    stop_reason: str | None = None
    diverged_at: int | None = None
    elapsed: float = 0.0
    expectations: list[Outcome] = attrs.field(factory=list)
    outputs: dict[str, Any] = attrs.field(factory=dict)
    spec: RunSpec | None = attrs.field(default=None, repr=False)
    error: str | None = None
    """For status ``error``: what the run raised, as one line."""
    traceback: str | None = attrs.field(default=None, repr=False)
    """For status ``error``: where it was raised (not part of the JSON summary)."""

    @classmethod
    def failed(
        cls, spec: RunSpec, exc: BaseException, ctx: RunContext | None = None, elapsed: float = 0.0
    ) -> RunResult:
        """The result of a run that raised ``exc``: status ``error``, the step it reached.

        It has no final values (the state may be half-updated) and fails an implicit
        ``no_error`` expectation, so the scenario does not pass. Observers' outputs gathered
        so far (a recorder's trace up to the failure) are kept where they can be read.
        """
        import traceback as tb

        from gdsim.errors import GdsimError

        message = str(exc) if isinstance(exc, GdsimError) else f"{type(exc).__name__}: {exc}"
        message = " ".join(message.split()) or type(exc).__name__
        steps = int(ctx.state.step) if ctx is not None else 0
        outputs: dict[str, Any] = {}
        for i, obs in enumerate(ctx.observers if ctx is not None else ()):
            try:
                outputs[f"{i}:{obs.name}" if obs.name in outputs else obs.name] = obs.outputs()
            except Exception:  # an observer that cannot report does not hide the error
                continue
        return cls(
            name=spec.name,
            status="error",
            steps=steps,
            epochs=int(ctx.state.epoch) if ctx is not None else 0,
            final_params={},
            final_loss=None,
            final_step=steps,
            seed=spec.seed,
            elapsed=elapsed,
            expectations=[Outcome("no_error", False, "no error", message)],
            outputs=outputs,
            spec=spec,
            error=message,
            traceback="".join(tb.format_exception(exc)),
        )

    @classmethod
    def from_context(cls, ctx: RunContext, elapsed: float = 0.0) -> RunResult:
        spec = ctx.spec
        loss = None if ctx.final_loss is None else float(ctx.final_loss)
        result = cls(
            name=spec.name,
            status=ctx.stop_status or "completed",
            steps=ctx.state.step if ctx.diverged_at is None else ctx.diverged_at,
            epochs=ctx.state.epoch,
            final_params={k: np.array(v, dtype=np.float64) for k, v in ctx.final_params.items()}
            if ctx.final_params is not None
            else {},
            final_loss=loss,
            final_step=ctx.final_step,
            seed=spec.seed,
            stop_reason=ctx.stop_reason,
            diverged_at=ctx.diverged_at,
            elapsed=elapsed,
            spec=spec,
        )
        result.expectations = evaluate(spec, result)
        return result

    @property
    def passed(self) -> bool:
        """All expectations met, no divergence the scenario did not allow, and no error."""
        return self.status != "error" and all(o.passed for o in self.expectations)

    @property
    def trace(self) -> Trace:
        """The recorder's trace as numpy arrays (the first recorder when there are several)."""
        traces = [
            (key, data["trace"])
            for key, data in self.outputs.items()
            if isinstance(data, Mapping) and isinstance(data.get("trace"), Mapping)
        ]
        traces.sort(key=lambda item: item[0] != "recorder")
        return Trace(self.name, traces[0][1] if traces else {})

    def plot(self, out: str | Path | None = None, format: str = "png") -> Figures:
        """Figures of this run (curves, and its path on the objective); saved when ``out``.

        The figures come as a dict by name, which a notebook draws inline.
        """
        from gdsim import plotting
        from gdsim.notebook import Figures

        return Figures(plotting.plot_runs([self], out=out, format=format))

    def to_pandas(self) -> pandas.DataFrame:
        """The recorded trace as a data frame, one row per record (needs pandas)."""
        from gdsim.errors import GdsimError
        from gdsim.frames import trace_frame

        trace = self.trace
        if not trace:
            raise GdsimError(
                f"run '{self.name}' has no recorded trace; add observers = "
                f'[{{ name = "recorder" }}] to the run'
            )
        return trace_frame(trace)

    def __repr__(self) -> str:
        loss = "None" if self.final_loss is None else f"{self.final_loss:.6g}"
        return (
            f"RunResult(name={self.name!r}, status={self.status!r}, steps={self.steps}, "
            f"final_loss={loss}, passed={self.passed})"
        )

    def _repr_html_(self) -> str:
        from gdsim.notebook import run_html

        return run_html(self)

    def recorded_metrics(self) -> dict[str, Any]:
        """The last recorded metrics per split (``validation.loss``, ``test.accuracy``, …).

        Read from the run's trace (a recorder's or the diagnostics'), with the ``step`` they
        were recorded at: for an early-stopped run that restores its best weights this is the
        last evaluation, not the restored step. Empty when the run records no split metrics.
        """
        best: dict[str, Any] = {}
        for data in self.outputs.values():
            trace = data.get("trace") if isinstance(data, Mapping) else None
            if not isinstance(trace, Mapping) or "step" not in trace:
                continue
            steps = np.asarray(trace["step"])
            names = sorted(
                k for k in trace if k.split(".", 1)[0] in ("train", "validation", "test")
            )
            if not names or steps.size == 0:
                continue
            step = int(steps[-1])
            if best and step <= best["step"]:
                continue
            row: dict[str, Any] = {"step": step}
            for name in names:
                column = np.asarray(trace[name])
                if column.ndim == 1 and column.size == steps.size:
                    row[name] = to_jsonable(column[-1])
            if len(row) > 1:
                best = row
        return best

    def to_dict(self) -> dict[str, Any]:
        final: dict[str, Any] = {
            "step": self.final_step,
            "params": to_jsonable(self.final_params),
            "loss": to_jsonable(self.final_loss),
        }
        recorded = self.recorded_metrics()
        if recorded:
            final["recorded"] = recorded
        return {
            "name": self.name,
            "status": self.status,
            "steps": self.steps,
            "epochs": self.epochs,
            "seed": self.seed,
            "stop_reason": self.stop_reason,
            "diverged_at": self.diverged_at,
            "final": final,
            "passed": self.passed,
            "expectations": [o.to_dict() for o in self.expectations],
            **({"error": self.error} if self.error is not None else {}),
        }


JSON_RUN_LIMIT = 10_000
"""Above this many runs, a scenario's JSON summary (``--json``, ``summary.json``) lists only
the runs outside its sweeps and the first :data:`JSON_FAILING` swept runs that failed, with
aggregates (``"aggregate"``) for the rest; every swept run is in the sweep's columns
(``sweep_NAME.parquet``/``.npz`` under ``--out``) and its summary (``sweeps``)."""
JSON_FAILING = 100


@attrs.define(repr=False)
class Results:
    """All runs of a scenario, in scenario order.

    Index it by position or run name; in a notebook it shows as the run table
    (``_repr_html_``); ``to_pandas()`` and ``traces_to_pandas()`` export it as data frames.
    """

    scenario: Scenario
    runs: Sequence[RunResult]
    """The runs' results: a list, or a :class:`RunList` holding big sweeps as columns (a
    run's :class:`RunResult` is then made when it is read)."""

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, key: int | str) -> RunResult:
        if isinstance(key, str):
            if isinstance(self.runs, RunList):
                return self.runs.find(key)
            for run in self.runs:
                if run.name == key:
                    return run
            raise KeyError(key)
        return self.runs[key]

    def trace(self, key: int | str) -> Trace:
        """The recorded trace of one run, by position or name (``results.trace("adam")``):
        the run's :attr:`RunResult.trace`; only that run's result is made from the columns."""
        return self[key].trace

    @property
    def passed(self) -> bool:
        if isinstance(self.runs, RunList):
            return self.runs.passed()
        return all(r.passed for r in self.runs)

    def passed_count(self) -> int:
        """How many runs passed (from the columns for big sweeps)."""
        return sum(int(self._passed(lo, hi).sum()) for lo, hi in self._spans())

    def _spans(self) -> list[tuple[int, int]]:
        """The results cut at sweep boundaries (each sweep one span), in order."""
        bounds = {0, len(self.runs)}
        for lo, hi in self._sweep_ranges() or []:
            bounds |= {lo, hi}
        cuts = sorted(bounds)
        return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]

    def _passed(self, start: int, stop: int) -> np.ndarray:
        """Whether each of runs ``start`` to ``stop`` passed (their columns when held so)."""
        if isinstance(self.runs, RunList):
            columns = self.runs.columns(start, stop)
            if columns is not None:
                return columns.passed()
        return np.array([r.passed for r in self.runs[start:stop]], dtype=bool)

    def _sweep_ranges(self) -> list[tuple[int, int]] | None:
        """Where each swept entry's runs are among the results, when every run ran."""
        from gdsim.runs import Runs, SweepRuns

        runs = getattr(self.scenario, "runs", None)
        if not isinstance(runs, Runs) or len(runs) != len(self.runs):
            return None
        return [
            (start, start + len(item))
            for item, start in zip(runs.items, runs.starts.tolist(), strict=False)
            if isinstance(item, SweepRuns)
        ]

    def listed(self, limit: int | None = None, failing: int | None = None) -> list[RunResult]:
        """The runs a summary lists one by one: all of them up to ``limit`` runs; above, the
        runs outside sweeps and the first ``failing`` swept runs that did not pass (only
        those runs are made from the columns)."""
        limit = JSON_RUN_LIMIT if limit is None else limit
        failing = JSON_FAILING if failing is None else failing
        ranges = self._sweep_ranges()
        if len(self.runs) <= limit or not ranges:
            return list(self.runs)
        picked: list[int] = []
        bad: list[int] = []
        previous = 0
        for lo, hi in ranges:
            picked.extend(range(previous, lo))
            previous = hi
            if len(bad) < failing:
                bad.extend((lo + np.flatnonzero(~self._passed(lo, hi))[:failing]).tolist())
        picked.extend(range(previous, len(self.runs)))
        return [self.runs[i] for i in sorted(picked + bad[:failing])]

    def aggregate(self, listed: int) -> dict[str, Any]:
        """What a summary listing ``listed`` of the runs says of all of them."""
        return {
            "runs": len(self.runs),
            "listed": listed,
            "passed": self.passed_count(),
            "statuses": self.status_counts(),
            "note": f"more than {JSON_RUN_LIMIT} runs: listed are the runs outside sweeps "
            f"and the first {JSON_FAILING} swept runs that failed; every swept run is in its "
            "sweep's columns (sweep_NAME.parquet or .npz with --out) and summary (sweeps)",
        }

    def expectation_counts(self) -> tuple[int, int]:
        """How many runs have expectations, and how many of those passed (from the columns
        for big sweeps)."""
        checked = met = 0
        blocks = self.runs.blocks if isinstance(self.runs, RunList) else [self.runs]
        for block in blocks:
            if isinstance(block, Block):
                has = block.columns.checked()
                checked += int(has.sum())
                met += int((has & block.columns.passed()).sum())
            else:
                runs = [r for r in block if r.expectations]
                checked += len(runs)
                met += sum(r.passed for r in runs)
        return checked, met

    def status_counts(self) -> dict[str, int]:
        """How many runs ended with each status (from the columns for big sweeps)."""
        if isinstance(self.runs, RunList):
            return self.runs.counts()
        out: dict[str, int] = {}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def plot(self, out: str | Path | None = None, format: str = "png") -> Figures:
        """Matplotlib figures of all runs, by name; written into ``out`` when it is given.

        The dict of figures draws itself inline as the last expression of a notebook cell.
        """
        from gdsim import plotting
        from gdsim.notebook import Figures

        return Figures(plotting.plot_results(self, out=out, format=format))

    def to_pandas(self) -> pandas.DataFrame:
        """The summary as a data frame: one row per run, indexed by name (needs pandas)."""
        from gdsim.frames import summary_frame

        return summary_frame(self)

    def traces_to_pandas(self) -> pandas.DataFrame:
        """Every run's recorded trace in one data frame with a ``run`` column (needs pandas)."""
        from gdsim.frames import traces_frame

        runs = self.runs.with_outputs() if isinstance(self.runs, RunList) else self.runs
        return traces_frame(runs)

    def __repr__(self) -> str:
        return (
            f"Results(scenario={self.scenario.name!r}, runs={len(self.runs)}, passed={self.passed})"
        )

    def _repr_html_(self) -> str:
        from gdsim.notebook import results_html

        return results_html(self)

    def to_dict(self, listed: Sequence[RunResult] | None = None) -> dict[str, Any]:
        """The JSON summary: every run (up to :data:`JSON_RUN_LIMIT` runs), else the runs
        :meth:`listed` and an ``aggregate`` of all (``listed``: the runs to list, when the
        caller has them already)."""
        runs = self.listed() if listed is None else listed
        out = {
            "scenario": {
                "name": self.scenario.name,
                "description": self.scenario.description,
                "source": self.scenario.source,
            },
            "passed": self.passed,
            "runs": [r.to_dict() for r in runs],
        }
        if len(runs) < len(self.runs):
            out["aggregate"] = self.aggregate(len(runs))
        return out


@attrs.define(eq=False)
class ResultColumns:
    """Results of consecutive runs as columns: what a worker sends back for its chunk.

    Pickling one :class:`RunResult` per run (with its :class:`RunSpec`) and unpickling it in
    the main process cost more than running a large sweep; here the numbers every result has
    travel as arrays (``status`` and ``stop_reason`` as codes into their distinct values, the
    final parameters stacked per name), and only what some runs have (expectation outcomes,
    observer outputs, errors, parameters of another shape) as a sparse ``extra`` per run. The
    runs' specifications do not travel: :meth:`runs` puts the results back together with the
    receiver's own specs of the same runs (the same runs, made from the same columns), equal
    field by field and bit for bit to the results that were sent
    (``tests/test_result_columns.py``).
    """

    size: int
    statuses: tuple[str, ...]
    status: np.ndarray
    reasons: tuple[str | None, ...]
    reason: np.ndarray
    steps: np.ndarray
    epochs: np.ndarray
    final_step: np.ndarray
    final_loss: np.ndarray
    has_loss: np.ndarray
    diverged_at: np.ndarray
    elapsed: np.ndarray
    param_rows: np.ndarray
    params: dict[str, np.ndarray]
    extra: dict[int, dict[str, Any]]
    no_divergence: np.ndarray | None = None
    """Rows that fail the implicit ``no_divergence`` expectation (diverged where the run does
    not allow it), when their expectations are made from the columns (a columnar sweep's runs
    have no others); None when expectations travel in ``extra``."""
    every_row_has_params: bool | None = attrs.field(default=None, init=False, eq=False)
    """Cached ``param_rows.all()`` (reading one run must not scan them all)."""

    @classmethod
    def from_outcome(
        cls, outcome: Any, elapsed: float, allowed: bool | np.ndarray = False
    ) -> ResultColumns:
        """The columns of an ensemble's :class:`gdsim.ensemble.Outcome` (no object per
        member): ``allowed`` says per member (or for all) whether divergence is allowed."""
        from gdsim.ensemble import CODE, CODES

        n = len(outcome)
        code = np.asarray(outcome.code)
        steps = np.asarray(outcome.steps, dtype=np.int64)
        diverged = code == CODE["diverged"]
        reasons: dict[str | None, int] = {None: 0}
        reason = np.zeros(n, dtype=np.int32)
        if outcome.reasons:
            rows = np.fromiter(outcome.reasons.keys(), dtype=np.int64, count=len(outcome.reasons))
            reason[rows] = [reasons.setdefault(r, len(reasons)) for r in outcome.reasons.values()]
        return cls(
            size=n,
            statuses=tuple(CODES),
            status=code,
            reasons=tuple(reasons),
            reason=reason,
            steps=steps,
            epochs=steps,
            final_step=steps - (diverged & (steps > 0)),
            final_loss=np.asarray(outcome.final_loss, dtype=np.float64),
            has_loss=~(diverged & (steps == 0)),
            diverged_at=np.where(diverged, steps, -1),
            elapsed=np.broadcast_to(np.float64(elapsed), (n,)),
            param_rows=np.broadcast_to(True, (n,)),
            params=dict(outcome.final_params),
            extra={},
            no_divergence=diverged & ~np.asarray(allowed, dtype=bool),
        )

    @classmethod
    def concat(cls, parts: Sequence[ResultColumns]) -> ResultColumns:
        """The columns of consecutive chunks as one (codes renumbered, rows shifted)."""
        if len(parts) == 1:
            return parts[0]
        shapes = [
            {k: v.shape[1:] for k, v in p.params.items()} for p in parts if p.param_rows.any()
        ]
        if any(s != shapes[0] for s in shapes):
            runs: list[RunResult] = []
            for p in parts:
                runs.extend(p.runs(_Unnamed(p.size)))
            return cls.from_runs(runs)
        statuses: dict[str, int] = {}
        reasons: dict[str | None, int] = {}
        status, reason, extra, failing = [], [], {}, []
        start = 0
        for p in parts:
            status.append(
                np.array([statuses.setdefault(s, len(statuses)) for s in p.statuses])[p.status]
                if p.size
                else np.zeros(0, dtype=np.int16)
            )
            reason.append(
                np.array([reasons.setdefault(r, len(reasons)) for r in p.reasons])[p.reason]
                if p.size
                else np.zeros(0, dtype=np.int32)
            )
            extra.update((start + i, more) for i, more in p.extra.items())
            failing.append(
                np.zeros(p.size, dtype=bool) if p.no_divergence is None else p.no_divergence
            )
            start += p.size
        names = list(shapes[0]) if shapes else []

        def cat(get: Callable[[ResultColumns], np.ndarray]) -> np.ndarray:
            return np.concatenate([get(p) for p in parts])

        return cls(
            size=start,
            statuses=tuple(statuses),
            status=np.concatenate(status),
            reasons=tuple(reasons),
            reason=np.concatenate(reason),
            steps=cat(lambda p: p.steps),
            epochs=cat(lambda p: p.epochs),
            final_step=cat(lambda p: p.final_step),
            final_loss=cat(lambda p: p.final_loss),
            has_loss=cat(lambda p: p.has_loss),
            diverged_at=cat(lambda p: p.diverged_at),
            elapsed=cat(lambda p: p.elapsed),
            param_rows=cat(lambda p: p.param_rows),
            params={
                k: np.concatenate([p.params[k] for p in parts if p.param_rows.any()]) for k in names
            },
            extra=extra,
            no_divergence=None
            if all(p.no_divergence is None for p in parts)
            else np.concatenate(failing),
        )

    def take(self, start: int, stop: int) -> ResultColumns:
        """The columns of runs ``start`` to ``stop`` (a view where it can be)."""
        if start == 0 and stop == self.size:
            return self
        rows = np.asarray(self.param_rows)
        first, last = int(np.count_nonzero(rows[:start])), int(np.count_nonzero(rows[:stop]))
        return ResultColumns(
            size=stop - start,
            statuses=self.statuses,
            status=self.status[start:stop],
            reasons=self.reasons,
            reason=self.reason[start:stop],
            steps=self.steps[start:stop],
            epochs=self.epochs[start:stop],
            final_step=self.final_step[start:stop],
            final_loss=self.final_loss[start:stop],
            has_loss=self.has_loss[start:stop],
            diverged_at=self.diverged_at[start:stop],
            elapsed=self.elapsed[start:stop],
            param_rows=self.param_rows[start:stop],
            params={k: v[first:last] for k, v in self.params.items()},
            extra={i - start: v for i, v in self.extra.items() if start <= i < stop},
            no_divergence=None if self.no_divergence is None else self.no_divergence[start:stop],
        )

    def passed(self) -> np.ndarray:
        """Whether each run passed (:attr:`RunResult.passed`), without making it."""
        ok = self.status != self.statuses.index("error") if "error" in self.statuses else None
        ok = np.ones(self.size, dtype=bool) if ok is None else np.asarray(ok, dtype=bool)
        if self.no_divergence is not None:
            ok &= ~self.no_divergence
        for i, more in self.extra.items():
            if more.get("expectations") and not all(o.passed for o in more["expectations"]):
                ok[i] = False
        return ok

    def checked(self) -> np.ndarray:
        """Whether each run has expectations (an implicit failed ``no_divergence`` counts)."""
        out = np.zeros(self.size, dtype=bool)
        if self.no_divergence is not None:
            out |= self.no_divergence
        for i, more in self.extra.items():
            if more.get("expectations"):
                out[i] = True
        return out

    def status_names(self) -> np.ndarray:
        """The status of each run as strings."""
        return np.asarray(self.statuses, dtype=str)[self.status]

    def dense_params(self) -> dict[str, np.ndarray]:
        """The final parameters stacked over every run (NaN rows for runs without them)."""
        if self.param_rows.all():
            return self.params
        out = {}
        rows = np.flatnonzero(self.param_rows)
        for k, v in self.params.items():
            full = np.full((self.size, *v.shape[1:]), np.nan)
            full[rows] = v
            out[k] = full
        return out

    def row(self, i: int, spec: RunSpec) -> RunResult:
        """The result of run ``i`` alone (``spec`` its specification)."""
        params: dict[str, np.ndarray] = {}
        if self.every_row_has_params is None:
            self.every_row_has_params = bool(np.all(self.param_rows))
        if self.param_rows[i]:
            at = i if self.every_row_has_params else int(np.count_nonzero(self.param_rows[:i]))
            params = {k: np.array(c[at]) for k, c in self.params.items()}
        more = self.extra.get(i, _NO_EXTRA)
        diverged = int(self.diverged_at[i])
        result = RunResult(
            name=more.get("name", spec.name),
            status=self.statuses[int(self.status[i])],
            steps=int(self.steps[i]),
            epochs=int(self.epochs[i]),
            final_params=more.get("final_params", params),
            final_loss=float(self.final_loss[i]) if self.has_loss[i] else None,
            final_step=int(self.final_step[i]),
            seed=more.get("seed", spec.seed),
            stop_reason=self.reasons[int(self.reason[i])],
            diverged_at=None if diverged < 0 else diverged,
            elapsed=float(self.elapsed[i]),
            expectations=more.get("expectations", []),
            outputs=more.get("outputs", {}),
            spec=spec,
            error=more.get("error"),
            traceback=more.get("traceback"),
        )
        if self.no_divergence is not None and "expectations" not in more:
            result.expectations = evaluate(spec, result)  # the implicit ones (no expect table)
        return result

    @classmethod
    def from_runs(cls, runs: list[RunResult]) -> ResultColumns:
        n = len(runs)
        statuses: dict[str, int] = {}
        reasons: dict[str | None, int] = {}
        status = np.empty(n, dtype=np.int16)
        reason = np.empty(n, dtype=np.int32)
        loss = np.zeros(n, dtype=np.float64)
        has_loss = np.zeros(n, dtype=bool)
        diverged = np.full(n, -1, dtype=np.int64)
        template = next(
            ({k: v.shape for k, v in r.final_params.items()} for r in runs if r.final_params), {}
        )
        param_rows = np.zeros(n, dtype=bool)
        stacked: dict[str, list[np.ndarray]] = {k: [] for k in template}
        extra: dict[int, dict[str, Any]] = {}
        for i, r in enumerate(runs):
            status[i] = statuses.setdefault(r.status, len(statuses))
            reason[i] = reasons.setdefault(r.stop_reason, len(reasons))
            if r.final_loss is not None:
                loss[i], has_loss[i] = r.final_loss, True
            if r.diverged_at is not None:
                diverged[i] = r.diverged_at
            more: dict[str, Any] = {}
            params = r.final_params
            if (
                params
                and params.keys() == template.keys()
                and all(
                    isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == template[k]
                    for k, v in params.items()
                )
            ):
                param_rows[i] = True
                for k, v in params.items():
                    stacked[k].append(v)
            elif params:
                more["final_params"] = params
            if r.expectations:
                more["expectations"] = r.expectations
            if r.outputs:
                more["outputs"] = r.outputs
            if r.error is not None:
                more["error"] = r.error
            if r.traceback is not None:
                more["traceback"] = r.traceback
            if r.spec is None or r.name != r.spec.name or r.seed != r.spec.seed:
                more["name"], more["seed"] = r.name, r.seed
            if more:
                extra[i] = more
        empty = {k: np.zeros((0, *shape)) for k, shape in template.items()}
        return cls(
            size=n,
            statuses=tuple(statuses),
            status=status,
            reasons=tuple(reasons),
            reason=reason,
            steps=np.array([r.steps for r in runs], dtype=np.int64),
            epochs=np.array([r.epochs for r in runs], dtype=np.int64),
            final_step=np.array([r.final_step for r in runs], dtype=np.int64),
            final_loss=loss,
            has_loss=has_loss,
            diverged_at=diverged,
            elapsed=np.array([r.elapsed for r in runs], dtype=np.float64),
            param_rows=param_rows,
            params={k: np.stack(v) if v else empty[k] for k, v in stacked.items()},
            extra=extra,
        )

    def __len__(self) -> int:
        return self.size

    def runs(self, specs: Iterable[RunSpec]) -> list[RunResult]:
        """The results, each with its run's specification from ``specs`` (the same runs in
        the same order as those the columns were made from)."""
        statuses = [self.statuses[c] for c in self.status.tolist()]
        reasons = [self.reasons[c] for c in self.reason.tolist()]
        losses = self.final_loss.tolist()
        has_loss = self.has_loss.tolist()
        diverged = self.diverged_at.tolist()
        rows = self.param_rows.tolist()
        names = list(self.params)
        columns = [self.params[k] for k in names]
        if self.no_divergence is not None:
            return [self.row(i, spec) for i, spec in enumerate(specs)]
        out: list[RunResult] = []
        row = 0
        for i, (spec, steps, epochs, final_step, elapsed) in enumerate(
            zip(
                specs,
                self.steps.tolist(),
                self.epochs.tolist(),
                self.final_step.tolist(),
                self.elapsed.tolist(),
                strict=True,
            )
        ):
            params: dict[str, np.ndarray] = {}
            if rows[i]:
                params = {k: np.array(c[row]) for k, c in zip(names, columns, strict=True)}
                row += 1
            more = self.extra.get(i, _NO_EXTRA)
            out.append(
                RunResult(
                    name=more.get("name", spec.name),
                    status=statuses[i],
                    steps=steps,
                    epochs=epochs,
                    final_params=more.get("final_params", params),
                    final_loss=losses[i] if has_loss[i] else None,
                    final_step=final_step,
                    seed=more.get("seed", spec.seed),
                    stop_reason=reasons[i],
                    diverged_at=None if diverged[i] < 0 else diverged[i],
                    elapsed=elapsed,
                    expectations=more.get("expectations", []),
                    outputs=more.get("outputs", {}),
                    spec=spec,
                    error=more.get("error"),
                    traceback=more.get("traceback"),
                )
            )
        return out


_NO_EXTRA: dict[str, Any] = {}


class _Unnamed(Sequence[Any]):
    """Stand-in specs for :meth:`ResultColumns.concat` (names and seeds travel in extra)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, k: Any) -> Any:
        raise IndexError(k)

    def __iter__(self) -> Iterator[Any]:
        return iter([None] * self.size)


@attrs.frozen
class Block:
    """Consecutive runs' results as columns and the runs' specifications (made when read)."""

    columns: ResultColumns
    specs: Sequence[RunSpec]

    def __len__(self) -> int:
        return self.columns.size


class RunList(Chained[RunResult]):
    """A scenario's results in order: lists of result objects and :class:`Block` s of columns,
    whose :class:`RunResult` is made only when that run is read (indexed or iterated)."""

    def __init__(self, blocks: Iterable[Sequence[RunResult] | Block]) -> None:
        self.blocks = [b for b in blocks if len(b)]
        self.chain([len(b) for b in self.blocks])

    def item(self, part: int, offset: int) -> RunResult:
        block = self.blocks[part]
        if isinstance(block, Block):
            return block.columns.row(offset, block.specs[offset])
        return block[offset]

    def __iter__(self) -> Iterator[RunResult]:
        for block in self.blocks:
            if isinstance(block, Block):
                for i, spec in enumerate(block.specs):
                    yield block.columns.row(i, spec)
            else:
                yield from block

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def columnar(self) -> bool:
        """True when some results are held as columns (big sweeps)."""
        return any(isinstance(b, Block) for b in self.blocks)

    def columns(self, start: int, stop: int) -> ResultColumns | None:
        """The results of runs ``start`` to ``stop`` as one set of columns, when every one of
        them is held as columns (None otherwise)."""
        parts = []
        for block, lo in zip(self.blocks, self.starts[:-1].tolist(), strict=True):
            hi = lo + len(block)
            if hi <= start or lo >= stop:
                continue
            if not isinstance(block, Block):
                return None
            parts.append(block.columns.take(max(start, lo) - lo, min(stop, hi) - lo))
        return ResultColumns.concat(parts) if parts else None

    def with_outputs(self) -> Iterator[RunResult]:
        """The runs that have observer outputs (a trace), in order: a block of columns makes
        only its runs that have some."""
        for block in self.blocks:
            if isinstance(block, Block):
                for i in sorted(
                    k for k, more in block.columns.extra.items() if more.get("outputs")
                ):
                    yield block.columns.row(i, block.specs[i])
            else:
                yield from (r for r in block if r.outputs)

    def passed(self) -> bool:
        return all(
            bool(b.columns.passed().all()) if isinstance(b, Block) else all(r.passed for r in b)
            for b in self.blocks
        )

    def find(self, name: str) -> RunResult:
        """The run named ``name`` (a swept run's name is made from its point to compare)."""
        for block in self.blocks:
            if not isinstance(block, Block):
                for run in block:
                    if run.name == name:
                        return run
                continue
            i = _position(block, name)
            if i is not None:
                return block.columns.row(i, block.specs[i])
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        """How many runs have each status."""
        out: dict[str, int] = {}
        for block in self.blocks:
            if isinstance(block, Block):
                c = block.columns
                found = np.bincount(np.asarray(c.status, dtype=np.int64), minlength=len(c.statuses))
                for status, n in zip(c.statuses, found.tolist(), strict=True):
                    if n:
                        out[status] = out.get(status, 0) + n
            else:
                for r in block:
                    out[r.status] = out.get(r.status, 0) + 1
        return out


def _position(block: Block, name: str) -> int | None:
    """Where the run named ``name`` is in a block: a swept run's name is read back into its
    value indices and looked up among the points (no name is made per point)."""
    from gdsim.runs import Runs, SweepRuns

    specs = block.specs
    items = specs.items if isinstance(specs, Runs) else (specs,)
    at = 0
    for item in items:
        if isinstance(item, SweepRuns):
            sweep = item.sweep
            combo = _point_of(sweep, name)
            if combo is not None:
                found = np.flatnonzero((np.asarray(sweep.points) == combo).all(axis=1))
                if len(found):
                    return at + int(found[0])
            at += len(item)
        elif isinstance(item, Sequence):
            for spec in item:
                if spec.name == name:
                    return at
                at += 1
        else:
            if item.name == name:
                return at
            at += 1
    return None


def _point_of(sweep: Any, name: str) -> np.ndarray | None:
    """The value indices a swept run name stands for (None when it is not one of the sweep's
    names: other base, labels or texts)."""
    prefix = f"{sweep.base}["
    if not (name.startswith(prefix) and name.endswith("]")):
        return None
    rest = name[len(prefix) : -1]
    combo = []
    for k, axis in enumerate(sweep.axes):
        head = f"{axis.label}="
        if not rest.startswith(head):
            return None
        rest = rest[len(head) :]
        # the longest text of this axis that the name continues with, then "," or the end
        last = k == len(sweep.axes) - 1
        found = None
        for j, text in enumerate(axis.texts):
            if (
                rest.startswith(text)
                and (
                    (last and len(rest) == len(text)) or (not last and rest[len(text) :][:1] == ",")
                )
                and (found is None or len(text) > len(axis.texts[found]))
            ):
                found = j
        if found is None:
            return None
        rest = rest[len(axis.texts[found]) + (0 if last else 1) :]
        combo.append(found)
    return np.array(combo)


def _seeds(block: Block) -> list[int]:
    """The seed of each run of a block, from the sweeps' template and seed axis."""
    from gdsim.runs import Number, Runs, SweepRuns

    specs = block.specs
    items = specs.items if isinstance(specs, Runs) else (specs,)
    out: list[int] = []
    for item in items:
        if isinstance(item, SweepRuns):
            seed = [p for p in item.parts if isinstance(p, Number) and p.field == "seed"]
            if seed:
                column = np.asarray(item.sweep.points)[:, seed[0].axis]
                out.extend(np.asarray(seed[0].values, dtype=object)[column].tolist())
            else:
                out.extend([item.template.seed] * len(item))
        elif isinstance(item, Sequence):
            out.extend(spec.seed for spec in item)
        else:
            out.append(item.seed)
    return out


def _names(block: Block) -> Iterator[str]:
    """The run names of a block's runs, made one at a time from the sweep's index columns."""
    from gdsim.runs import Runs, SweepRuns

    specs = block.specs
    items = specs.items if isinstance(specs, Runs) else (specs,)
    for item in items:
        if isinstance(item, SweepRuns):
            sweep = item.sweep
            for i in range(len(sweep.points)):
                yield sweep.name(i)
        elif isinstance(item, Sequence):
            yield from (spec.name for spec in item)
        else:
            yield item.name
