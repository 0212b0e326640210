"""Run results: final values, status, expectation outcomes, and their JSON form."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
