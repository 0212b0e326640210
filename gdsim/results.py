"""Run results: final values, status, expectation outcomes, and their JSON form."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

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


@attrs.define(repr=False)
class Results:
    """All runs of a scenario, in scenario order.

    Index it by position or run name; in a notebook it shows as the run table
    (``_repr_html_``); ``to_pandas()`` and ``traces_to_pandas()`` export it as data frames.
    """

    scenario: Scenario
    runs: list[RunResult]

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, key: int | str) -> RunResult:
        if isinstance(key, str):
            for run in self.runs:
                if run.name == key:
                    return run
            raise KeyError(key)
        return self.runs[key]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runs)

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

        return traces_frame(self.runs)

    def __repr__(self) -> str:
        return (
            f"Results(scenario={self.scenario.name!r}, runs={len(self.runs)}, passed={self.passed})"
        )

    def _repr_html_(self) -> str:
        from gdsim.notebook import results_html

        return results_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": {
                "name": self.scenario.name,
                "description": self.scenario.description,
                "source": self.scenario.source,
            },
            "passed": self.passed,
            "runs": [r.to_dict() for r in self.runs],
        }


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
