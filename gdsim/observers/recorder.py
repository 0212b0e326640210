"""The recorder: keeps a per-step trace of loss, learning rate, gradient norm and parameters.

Its trace becomes ``RunResult.trace`` (numpy arrays), the CSV/Parquet files of a results folder
and the curves of ``gdsim plot``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from gdsim.components import MemberObserver, MemberStep, Observer, param
from gdsim.errors import GdsimError, ParamError
from gdsim.hookspecs import hookimpl
from gdsim.state import global_norm
from gdsim.validators import int_at_least

if TYPE_CHECKING:
    from gdsim.components import Objective
    from gdsim.engine import RunContext


def split_metric(name: str, field: str = "monitor") -> tuple[str, str]:
    """Split ``"validation.loss"`` into ``("validation", "loss")``; ParamError when malformed."""
    split, dot, metric = name.partition(".")
    if not dot or not split or not metric:
        raise ParamError(field, f"expected 'split.metric' such as 'validation.loss', got {name!r}")
    return split, metric


def monitor_name(value: Any) -> str:
    """A ``monitor`` parameter: ``'split.metric'`` or ``'auto'``; ParamError otherwise."""
    if not isinstance(value, str):
        raise ParamError("monitor", f"expected 'split.metric' or 'auto', got {value!r}")
    if value != "auto":
        split_metric(value)
    return value


def _metric_names(values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise ParamError("metrics", f"expected a list of 'split.metric' names, got {values!r}")
    for value in values:
        if not isinstance(value, str):
            raise ParamError("metrics", f"expected 'split.metric' names, got {value!r}")
        split_metric(value, "metrics")
    return tuple(values)


_last_offered: list[Any] = [None, None]  # (objective, its metrics): sweep runs share one


def available_metrics(objective: Objective) -> dict[str, tuple[str, ...]]:
    """The metrics ``objective`` offers on each of the standard splits, at its default start."""
    if _last_offered[0] is objective:
        return _last_offered[1]
    params = objective.init(np.random.default_rng(0))
    offered: dict[str, tuple[str, ...]] = {}
    for split in ("train", "validation", "test"):
        try:
            offered[split] = tuple(sorted(objective.metrics(params, split)))
        except KeyError:
            continue
    _last_offered[:] = [objective, offered]
    return offered


def check_metric(objective: Objective, name: str, field: str) -> None:
    """ParamError naming ``field`` unless ``objective`` offers the metric ``split.metric``."""
    split, metric = split_metric(name, field)
    offered = available_metrics(objective)
    if metric in offered.get(split, ()):
        return
    listing = "; ".join(f"{s}: {', '.join(m)}" for s, m in offered.items()) or "none"
    raise ParamError(
        field,
        f"objective '{objective.name}' offers no '{name}' (its metrics are {listing})",
    )


def read_metric(run: RunContext, name: str, owner: str) -> float:
    """The metric ``split.name`` of the run's objective at the current parameters."""
    split, metric = split_metric(name)
    try:
        values = run.objective.metrics(run.params, split)
    except KeyError as exc:
        raise GdsimError(
            f"run '{run.name}': observer '{owner}' reads '{name}', but objective "
            f"'{run.objective.name}' has no '{split}' split ({exc.args[0] if exc.args else ''})"
        ) from None
    if metric not in values:
        raise GdsimError(
            f"run '{run.name}': observer '{owner}' reads '{name}', but objective "
            f"'{run.objective.name}' gives only {', '.join(sorted(values)) or 'no metrics'} "
            f"on the '{split}' split"
        )
    return float(values[metric])


def _metric_at(run: RunContext, params: Any, name: str) -> float:
    """The metric ``split.name`` at ``params`` (NaN when the objective cannot give it there)."""
    split, metric = split_metric(name)
    try:
        with np.errstate(all="ignore"):
            return float(run.objective.metrics(params, split)[metric])
    except (KeyError, ArithmeticError, ValueError):
        return np.nan


@attrs.define
class Recorder(Observer):
    """Records step, loss, learning rate, gradient norm and parameters every N steps.

    Row k holds the step count after the step, the loss and gradient at the parameters the step
    started from, the learning rate it used and the parameters it produced. A first row
    (step 0, initial parameters, no loss yet) is written when the run starts. ``metrics`` adds
    named objective metrics at the new parameters (e.g. ``"validation.loss"``) as columns.

    When a run diverges the trace ends at its last finite iterate (``final_step``): rows after it
    (whose parameters gave a non-finite or over-``max_loss`` loss) are dropped, and when that step
    was not due a row is added holding its parameters, with loss, learning rate and gradient
    norm unknown (NaN: they belong to the step before, which was not seen).
    """

    name: ClassVar[str] = "recorder"

    every: int = param(1, validator=int_at_least(1), doc="record after every N-th step")
    params: bool = param(True, doc="record parameters (only those with <= max_param_size values)")
    max_param_size: int = param(
        64, validator=int_at_least(1), doc="largest parameter (in values) that is recorded"
    )
    grad_norm: bool = param(True, doc="record the global gradient norm (one norm per record)")
    metrics: tuple[str, ...] = param(
        (),
        converter=_metric_names,
        doc="objective metrics to record, as 'split.metric' (e.g. 'validation.accuracy')",
    )

    _steps: list[int] = attrs.field(init=False, factory=list)
    _loss: list[Any] = attrs.field(init=False, factory=list)
    _lr: list[Any] = attrs.field(init=False, factory=list)
    _grad_norm: list[Any] = attrs.field(init=False, factory=list)
    _params: dict[str, list[Any]] = attrs.field(init=False, factory=dict)
    _metrics: dict[str, list[float]] = attrs.field(init=False, factory=dict)
    _names: tuple[str, ...] = attrs.field(init=False, default=())

    def check(self, objective: Objective) -> None:
        for name in self.metrics:
            check_metric(objective, name, "metrics")

    def run_started(self, run: RunContext) -> None:
        if self.params:
            self._names = tuple(
                k for k, v in run.params.items() if np.size(v) <= self.max_param_size
            )
            for k in self._names:
                self._params.setdefault(k, [])
        if not self._steps:  # a resumed run keeps its rows
            self._steps.append(run.step)
            self._loss.append(np.nan)
            self._lr.append(np.nan)
            if self.grad_norm:
                self._grad_norm.append(np.nan)
            for k in self._names:
                self._params[k].append(run.params[k])
            for m in self.metrics:
                self._metrics.setdefault(m, []).append(read_metric(run, m, self.name))

    def step_completed(self, run: RunContext) -> None:
        self._steps.append(run.state.step)
        self._loss.append(run.loss)
        self._lr.append(run.lr)
        if self.grad_norm:
            self._grad_norm.append(global_norm(run.grads))
        params = run.state.params
        for k in self._names:
            self._params[k].append(params[k])
        for m in self.metrics:
            self._metrics[m].append(read_metric(run, m, self.name))

    def diverged(self, run: RunContext) -> None:
        """End the trace at the run's last finite iterate, never at the diverged one."""
        last = int(run.final_step)
        keep = sum(1 for s in self._steps if s <= last)
        del self._steps[keep:], self._loss[keep:], self._lr[keep:]
        if self.grad_norm:
            del self._grad_norm[keep:]
        for k in self._names:
            del self._params[k][keep:]
        for m in self.metrics:
            del self._metrics[m][keep:]
        if (self._steps and self._steps[-1] == last) or run.final_params is None:
            return
        self._steps.append(last)
        self._loss.append(np.nan)
        self._lr.append(np.nan)
        if self.grad_norm:
            self._grad_norm.append(np.nan)
        for k in self._names:
            self._params[k].append(run.final_params[k])
        for m in self.metrics:
            self._metrics[m].append(_metric_at(run, run.final_params, m))

    def outputs(self) -> dict[str, Any]:
        trace: dict[str, np.ndarray] = {
            "step": np.asarray(self._steps, dtype=np.int64),
            "loss": np.asarray(self._loss, dtype=np.float64),
            "lr": np.asarray(self._lr, dtype=np.float64),
        }
        if self.grad_norm:
            trace["grad_norm"] = np.asarray(self._grad_norm, dtype=np.float64)
        for m in self.metrics:
            trace[m] = np.asarray(self._metrics.get(m, []), dtype=np.float64)
        for k in self._names:
            trace[f"params.{k}"] = np.asarray(self._params[k], dtype=np.float64)
        return {"trace": trace}

    def for_members(self, size: int) -> MemberObserver | None:
        if self.metrics:
            return None  # metrics are read per run, through the objective's metrics contract
        return MemberRecorder(self, size)

    def state_dict(self) -> dict[str, Any]:
        return self.outputs()["trace"]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._steps = [int(s) for s in state["step"]]
        self._loss = list(state["loss"])
        self._lr = list(state["lr"])
        if "grad_norm" in state:
            self._grad_norm = list(state["grad_norm"])
        self._params = {
            key.removeprefix("params."): list(value)
            for key, value in state.items()
            if key.startswith("params.")
        }
        self._metrics = {m: [float(v) for v in state[m]] for m in self.metrics if m in state}


class MemberRecorder(MemberObserver):
    """The recorder of a whole ensemble: one record per due step, member × time arrays.

    Each record holds a value for every member of the ensemble (NaN where a member was not
    due), and a mask of the members it is a row of; a member's trace is its column of the
    records it was due at, cut at its last finite iterate as :meth:`Recorder.diverged` cuts a
    run's — so each member gets the trace of the run stepped alone, bit for bit.
    """

    def __init__(self, recorder: Recorder, size: int) -> None:
        self.every = recorder.every
        self.size = size
        self.recorder = recorder
        self._steps: list[int] = []
        self._due: list[np.ndarray] = []
        self._columns: dict[str, list[np.ndarray]] = {"loss": [], "lr": []}
        if recorder.grad_norm:
            self._columns["grad_norm"] = []
        self._names: tuple[str, ...] = ()
        self._stacked: dict[str, np.ndarray] | None = None

    def started(self, view: MemberStep) -> None:
        if self.recorder.params:
            limit = self.recorder.max_param_size
            self._names = tuple(
                k for k, v in view.params.items() if np.size(v) // max(len(v), 1) <= limit
            )
            for k in self._names:
                self._columns[f"params.{k}"] = []
        self._record(view, None)

    def step_completed(self, view: MemberStep) -> None:
        self._record(view, view)

    def _record(self, view: MemberStep, step: MemberStep | None) -> None:
        rows, idx = view.rows, view.members[view.rows]
        live = len(view.members)
        due = np.zeros(self.size, dtype=bool)
        due[idx] = True
        self._steps.append(view.step)
        self._due.append(due)

        def put(name: str, values: Any) -> None:
            column = np.full((self.size, *np.shape(values)[1:]), np.nan)
            column[idx] = values[rows]
            self._columns[name].append(column)

        nan = np.full(live, np.nan)
        if step is None:
            put("loss", nan)
            put("lr", nan)
            if "grad_norm" in self._columns:
                put("grad_norm", nan)
        else:
            put("loss", np.asarray(step.loss, dtype=np.float64))
            lr = np.asarray(step.lr, dtype=np.float64)
            put("lr", np.broadcast_to(lr, live) if lr.ndim == 0 else lr.reshape(live, -1)[:, 0])
            if "grad_norm" in self._columns:
                put("grad_norm", global_norm(step.grads, ensemble=True))  # type: ignore[arg-type]
        for k in self._names:
            put(f"params.{k}", view.params[k])

    def _stack(self) -> dict[str, np.ndarray]:
        if self._stacked is None:
            self._stacked = {name: np.stack(c) for name, c in self._columns.items()}
            self._stacked["step"] = np.asarray(self._steps, dtype=np.int64)
            self._stacked["due"] = np.stack(self._due)
            self._columns.clear()
            self._due.clear()
        return self._stacked

    def state_dict(self) -> dict[str, Any]:
        stacked = self._stack()
        self._stacked = None  # recording goes on: back to one record per list entry
        self._columns = {k: list(v) for k, v in stacked.items() if k not in ("step", "due")}
        self._steps = stacked["step"].tolist()
        self._due = list(stacked["due"])
        return {"names": list(self._names), **stacked}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._stacked = None
        self._names = tuple(str(k) for k in state["names"])
        self._steps = np.asarray(state["step"]).tolist()
        self._due = list(np.asarray(state["due"], dtype=bool))
        self._columns = {
            k: list(np.asarray(v, dtype=np.float64))
            for k, v in state.items()
            if k not in ("step", "due", "names")
        }

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        stacked = self._stack()
        rows = np.flatnonzero(stacked["due"][:, member])
        steps = stacked["step"][rows]
        extra: dict[str, Any] | None = None
        if outcome.diverged_at(member) is not None:  # Recorder.diverged, per member
            last = outcome.final_step(member)
            rows = rows[steps <= last]
            steps = steps[steps <= last]
            if not (len(steps) and steps[-1] == last):
                extra = {k: outcome.final_params[k][member] for k in self._names}
                steps = np.append(steps, last)
        trace: dict[str, np.ndarray] = {"step": steps}
        for name in ("loss", "lr", "grad_norm"):
            if name in stacked:
                values = stacked[name][rows, member]
                trace[name] = values if extra is None else np.append(values, np.nan)
        for k in self._names:
            values = stacked[f"params.{k}"][rows, member]
            if extra is not None:
                values = np.concatenate([values, np.asarray(extra[k])[None]])
            trace[f"params.{k}"] = values
        return {"trace": trace}


@hookimpl
def gdsim_observers() -> list[type]:
    return [Recorder]
