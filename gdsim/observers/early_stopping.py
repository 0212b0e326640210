"""Early stopping: end a run when a monitored metric stops improving, keeping the best iterate.

The metric is read through the objective's one metrics contract,
``objective.metrics(params, split)``, so the same observer watches ``validation.loss`` of a
data-backed model or ``train.loss`` of an analytic function.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from gdsim.components import MemberObserver, MemberStep, Objective, Observer, overrides, param
from gdsim.hookspecs import hookimpl
from gdsim.observers.recorder import check_metric, monitor_name, read_metric
from gdsim.validators import int_at_least, non_negative, one_of

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.results import RunResult

STATUS_STOPPED_EARLY = "stopped_early"
log = logging.getLogger("gdsim")


@attrs.define
class EarlyStopping(Observer):
    """Stops the run when ``monitor`` has not improved for ``patience`` evaluations.

    The metric is evaluated when the run starts and after every ``every``-th step (or epoch,
    with ``unit = "epoch"``). An evaluation
    improves when it beats the best so far by more than ``min_delta`` (lower is better for
    ``mode = "min"``, higher for ``"max"``). After ``patience`` evaluations in a row without
    improvement the run ends with status ``stopped_early``; with ``restore_best`` its result
    reports the best parameters (and ``final.step`` the step they were reached at).
    ``monitor = "auto"`` watches ``validation.loss`` on data-backed objectives, else ``train.loss``.
    """

    name: ClassVar[str] = "early_stopping"

    monitor: str = param("auto", converter=monitor_name, doc="metric as 'split.metric', or 'auto'")
    mode: str = param("min", validator=one_of("min", "max"), doc="'min' or 'max': which is better")
    patience: int = param(
        10, validator=int_at_least(1), doc="evaluations without improvement before stopping"
    )
    min_delta: float = param(0.0, validator=non_negative(), doc="smallest change that counts")
    every: int = param(1, validator=int_at_least(1), doc="evaluate after every N-th step/epoch")
    unit: str = param("step", validator=one_of("step", "epoch"), doc="count 'step's or 'epoch's")
    restore_best: bool = param(True, doc="report the best parameters, not the last ones")

    _best: float = attrs.field(init=False, default=math.nan)
    _best_step: int = attrs.field(init=False, default=-1)
    _best_epoch: int = attrs.field(init=False, default=-1)
    _best_params: dict[str, np.ndarray] = attrs.field(init=False, factory=dict)
    _wait: int = attrs.field(init=False, default=0)
    _evaluations: int = attrs.field(init=False, default=0)
    _stopped_at: int = attrs.field(init=False, default=-1)

    def metric(self, run: RunContext) -> str:
        """The metric actually monitored for ``run`` (resolves ``auto``)."""
        return self._resolve(run.objective)

    def _resolve(self, objective: Objective) -> str:
        if self.monitor != "auto":
            return self.monitor
        return "validation.loss" if objective.data_backed else "train.loss"

    def check(self, objective: Objective) -> None:
        check_metric(objective, self._resolve(objective), "monitor")

    def run_started(self, run: RunContext) -> None:
        if self._evaluations == 0:  # a resumed run keeps its history
            self._evaluate(run)

    def step_completed(self, run: RunContext) -> None:
        if self.unit == "step":
            self._evaluate(run)

    def epoch_completed(self, run: RunContext) -> None:
        if self.unit == "epoch" and run.epoch % self.every == 0:
            self._evaluate(run)

    def _improves(self, value: float) -> bool:
        if self._best_step < 0 or math.isnan(self._best):
            return not math.isnan(value)
        if self.mode == "min":
            return value < self._best - self.min_delta
        return value > self._best + self.min_delta

    def _evaluate(self, run: RunContext) -> None:
        value = read_metric(run, self.metric(run), self.name)
        self._evaluations += 1
        if self._improves(value):
            self._best, self._best_step, self._wait = value, run.step, 0
            self._best_epoch = run.epoch
            self._best_params = dict(run.params)
            return
        self._wait += 1
        if self._wait >= self.patience and run.stop_status is None:
            self._stopped_at = run.step
            run.request_stop(
                f"{self.metric(run)} did not improve for {self.patience} evaluations "
                f"(best {self._best!r} at step {self._best_step})",
                STATUS_STOPPED_EARLY,
            )
            log.info("run '%s': %s at step %d", run.name, run.stop_reason, run.step)

    def run_completed(self, run: RunContext, result: RunResult) -> None:
        if not (self.restore_best and result.status == STATUS_STOPPED_EARLY and self._best_params):
            return
        from gdsim.expectations import evaluate

        result.final_params = {
            k: np.array(v, dtype=np.float64) for k, v in self._best_params.items()
        }
        result.final_loss = float(run.objective.value(self._best_params, None))
        result.final_step = self._best_step
        result.expectations = evaluate(run.spec, result)

    def outputs(self) -> dict[str, Any]:
        return {
            "best": None if math.isnan(self._best) else self._best,
            "best_step": self._best_step if self._best_step >= 0 else None,
            "best_epoch": self._best_epoch if self._best_step >= 0 else None,
            "stopped_at": self._stopped_at if self._stopped_at >= 0 else None,
            "evaluations": self._evaluations,
        }

    def for_members(self, size: int) -> MemberObserver | None:
        if self.unit != "step":
            return None  # epoch observers run after the step observers: stepped alone
        return MemberEarlyStopping(self, size)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self._best,
            "best_step": self._best_step,
            "best_epoch": self._best_epoch,
            "best_params": dict(self._best_params),
            "wait": self._wait,
            "evaluations": self._evaluations,
            "stopped_at": self._stopped_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._best = float(state["best"])
        self._best_step = int(state["best_step"])
        self._best_epoch = int(state["best_epoch"])
        self._best_params = dict(state["best_params"])
        self._wait = int(state["wait"])
        self._evaluations = int(state["evaluations"])
        self._stopped_at = int(state["stopped_at"])


class MemberEarlyStopping(MemberObserver):
    """Early stopping of every member of an ensemble at once: its best value, best step, wait
    and best parameters are columns, and a member that stops is ended by the ensemble with
    status ``stopped_early``, as the run stepped alone is ended by the engine.

    It reads the train loss of an objective whose metrics are its loss (the analytic ones);
    any other metric makes the ensemble's runs step one by one.
    """

    def __init__(self, config: EarlyStopping, size: int) -> None:
        self.config = config
        self.every = config.every
        self.best = np.full(size, np.nan)
        self.best_step = np.full(size, -1, dtype=np.int64)
        self.wait = np.zeros(size, dtype=np.int64)
        self.evaluations = np.zeros(size, dtype=np.int64)
        self.stopped_at = np.full(size, -1, dtype=np.int64)
        self.best_params: dict[str, np.ndarray] = {}
        self.objective: Any = None
        self.metric = ""

    def started(self, view: MemberStep) -> None:
        from gdsim.loop import NotElementwise

        self.objective = view.objective
        self.metric = self.config._resolve(view.objective)
        if self.metric != "train.loss" or overrides(view.objective, Objective, "metrics"):
            raise NotElementwise(f"early stopping on {self.metric} reads runs one at a time")
        self.best_params = {
            k: np.full((len(self.best), *np.shape(v)[1:]), np.nan) for k, v in view.params.items()
        }
        self._evaluate(view)

    def step_completed(self, view: MemberStep) -> None:
        self._evaluate(view)

    def _evaluate(self, view: MemberStep) -> None:
        c = self.config
        rows, idx = view.rows, view.members[view.rows]
        with np.errstate(all="ignore"):
            value = np.asarray(self.objective.value(view.params, None), dtype=np.float64)[rows]
        self.evaluations[idx] += 1
        best = self.best[idx]
        first = (self.best_step[idx] < 0) | np.isnan(best)
        better = value < best - c.min_delta if c.mode == "min" else value > best + c.min_delta
        improves = np.where(first, ~np.isnan(value), better)
        up = idx[improves]
        self.best[up], self.best_step[up], self.wait[up] = value[improves], view.step, 0
        for k, column in self.best_params.items():
            column[up] = view.params[k][rows[improves]]
        still = idx[~improves]
        self.wait[still] += 1
        if view.stopping is None:
            return  # at the start (no member has waited long enough: patience >= 1)
        due = ~improves & (self.wait[idx] >= c.patience) & ~view.stopping[rows]
        if due.any():
            ids = idx[due]
            self.stopped_at[ids] = view.step
            reasons = [
                f"{self.metric} did not improve for {c.patience} evaluations "
                f"(best {float(self.best[i])!r} at step {int(self.best_step[i])})"
                for i in ids.tolist()
            ]
            view.request_stop(rows[due], reasons, STATUS_STOPPED_EARLY)

    def run_completed(self, member: int, result: RunResult) -> None:
        if not (
            self.config.restore_best
            and result.status == STATUS_STOPPED_EARLY
            and self.best_step[member] >= 0
        ):
            return
        from gdsim.expectations import evaluate

        best = {k: np.array(v[member], dtype=np.float64) for k, v in self.best_params.items()}
        result.final_params = best
        result.final_loss = float(self.objective.value(best, None))
        result.final_step = int(self.best_step[member])
        if result.spec is not None:
            result.expectations = evaluate(result.spec, result)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.copy(),
            "best_step": self.best_step.copy(),
            "wait": self.wait.copy(),
            "evaluations": self.evaluations.copy(),
            "stopped_at": self.stopped_at.copy(),
            "best_params": {k: v.copy() for k, v in self.best_params.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = np.array(state["best"], dtype=np.float64)
        for name in ("best_step", "wait", "evaluations", "stopped_at"):
            setattr(self, name, np.array(state[name], dtype=np.int64))
        self.best_params = {
            k: np.array(v, dtype=np.float64) for k, v in state["best_params"].items()
        }

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        found = self.best_step[member] >= 0
        return {
            "best": None if np.isnan(self.best[member]) else float(self.best[member]),
            "best_step": int(self.best_step[member]) if found else None,
            "best_epoch": int(self.best_step[member]) if found else None,  # full batch
            "stopped_at": int(self.stopped_at[member]) if self.stopped_at[member] >= 0 else None,
            "evaluations": int(self.evaluations[member]),
        }


@hookimpl
def gdsim_observers() -> list[type]:
    return [EarlyStopping]
