"""Per-layer training diagnostics: gradient, update and weight norms, metrics, samples seen.

Vanishing and exploding gradients show up layer by layer: the recorder's single global norm
hides that the first layer of a deep sigmoid network gets gradients orders of magnitude smaller
than the last. This observer records, every N steps, for each parameter ``k``:

* ``grad.k`` — ‖∇_k L‖₂ of the gradient backpropagation produced (before gradient transforms
  such as clipping), on the step's batch;
* ``update.k`` — ‖k_after − k_before‖₂, the step the rule actually took (after clipping);
* ``weight.k`` — ‖k‖₂ after the step (``weights = true``);
* ``spread.k`` — for 2-D weights, max |W[:, j] − W[:, 0]| over units j: zero while the units
  of a layer are identical (the symmetry a zeros initialization never breaks) (``spread = true``);

plus ``samples`` (training samples seen so far) and, for each split in ``splits``, the
objective's metrics (``train.loss``, ``validation.accuracy`` …). The engine fills
``prev_params``/``raw_grads`` only on steps an observer sees, so nothing costs when unused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from gdsim.components import MemberObserver, MemberStep, Observer, param
from gdsim.errors import GdsimError, ParamError
from gdsim.hookspecs import hookimpl
from gdsim.state import Params
from gdsim.validators import int_at_least

if TYPE_CHECKING:
    from gdsim.components import Objective
    from gdsim.engine import RunContext

SPLIT_NAMES = ("train", "validation", "test")


def _splits(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(v in SPLIT_NAMES for v in value):
        raise ParamError(
            "splits", f"expected a list of 'train', 'validation', 'test', got {value!r}"
        )
    return tuple(value)


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.vdot(a, a)))


def _spread(w: np.ndarray) -> float:
    if w.ndim != 2 or w.shape[1] < 2:
        return 0.0
    return float(np.max(np.abs(w - w[:, :1])))


@attrs.define
class Diagnostics(Observer):
    """Per-parameter gradient, update and weight norms, unit spread and split metrics."""

    name: ClassVar[str] = "diagnostics"

    every: int = param(1, validator=int_at_least(1), doc="record after every N-th step")
    grads: bool = param(True, doc="record ‖∇k‖ per parameter (before transforms)")
    updates: bool = param(True, doc="record ‖Δk‖ per parameter")
    weights: bool = param(False, doc="record ‖k‖ per parameter")
    spread: bool = param(False, doc="record max |W[:, j] − W[:, 0]| for 2-D weights")
    splits: tuple[str, ...] = param(
        (), converter=_splits, doc="data splits whose metrics are recorded, e.g. ['train']"
    )

    _rows: dict[str, list[Any]] = attrs.field(init=False, factory=dict)

    def check(self, objective: Objective) -> None:
        from gdsim.observers.recorder import available_metrics

        offered = available_metrics(objective)
        for split in self.splits:
            if split not in offered:
                raise ParamError(
                    "splits",
                    f"objective '{objective.name}' has no (non-empty) '{split}' split "
                    f"(it has: {', '.join(offered) or 'none'})",
                )

    def _add(self, key: str, value: Any) -> None:
        self._rows.setdefault(key, []).append(value)

    def _record_state(self, run: RunContext, params: Params) -> None:
        for k, v in params.items():
            if self.weights:
                self._add(f"weight.{k}", _norm(v))
            if self.spread and np.ndim(v) == 2:
                self._add(f"spread.{k}", _spread(v))
        for split in self.splits:
            try:
                metrics = run.objective.metrics(params, split)
            except KeyError:
                raise GdsimError(
                    f"run '{run.name}': observer 'diagnostics' records the '{split}' split, but "
                    f"objective '{run.objective.name}' has no such split (or it is empty)"
                ) from None
            for metric, value in metrics.items():
                self._add(f"{split}.{metric}", value)

    def _samples(self, run: RunContext) -> int:
        seen = run.estimator_state.get("seen") if isinstance(run.estimator_state, dict) else None
        if seen is not None:
            return int(seen)
        try:
            return run.step * run.objective.num_samples()
        except NotImplementedError:
            return run.step

    def run_started(self, run: RunContext) -> None:
        if self._rows:  # resumed: keep the rows
            return
        self._add("step", run.step)
        self._add("samples", self._samples(run))
        self._add("loss", np.nan)
        for k in run.params:
            if self.grads:
                self._add(f"grad.{k}", np.nan)
            if self.updates:
                self._add(f"update.{k}", np.nan)
        self._record_state(run, run.params)

    def step_completed(self, run: RunContext) -> None:
        params = run.state.params
        self._add("step", run.step)
        self._add("samples", self._samples(run))
        self._add("loss", float(run.loss))
        grads = run.raw_grads if run.raw_grads is not None else run.grads
        before = run.prev_params
        for k, v in params.items():
            if self.grads and grads is not None:
                self._add(f"grad.{k}", _norm(grads[k]))
            if self.updates and before is not None:
                self._add(f"update.{k}", _norm(v - before[k]))
        self._record_state(run, params)

    def outputs(self) -> dict[str, Any]:
        trace = {
            k: np.asarray(v, dtype=np.int64 if k in ("step", "samples") else np.float64)
            for k, v in self._rows.items()
        }
        return {"trace": trace}

    def state_dict(self) -> dict[str, Any]:
        return self.outputs()["trace"]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rows = {k: list(v) for k, v in state.items()}

    def for_members(self, size: int) -> MemberObserver | None:
        # split metrics come from objective.metrics, one run at a time (data-backed objectives,
        # which never step as an ensemble anyway)
        return None if self.splits else MemberDiagnostics(self, size)


def _row_norms(values: np.ndarray) -> np.ndarray:
    """``_norm`` of each member's row, bit for bit as the run stepped alone computes it.

    A scalar parameter's norm is ``sqrt(x·x)`` (what ``vdot`` of one element gives), done for
    every member at once; larger parameters go through ``vdot`` row by row, so that the sum is
    taken in the same order as for the run alone.
    """
    if values.ndim == 1:
        return np.sqrt(values * values)
    return np.array([np.sqrt(np.vdot(row, row)) for row in values], dtype=np.float64)


class MemberDiagnostics(MemberObserver):
    """The diagnostics of a whole ensemble: one record per due step, member × time arrays.

    A record holds every member's value (NaN where the member was not due) and a mask of the
    members it is a row of; a member's trace is its column of the records it was due at, which
    is exactly the rows the observer records for the run stepped alone.
    """

    def __init__(self, config: Diagnostics, size: int) -> None:
        self.config = config
        self.every = config.every
        self.size = size
        self._steps: list[int] = []
        self._samples_per_step = 1
        self._due: list[np.ndarray] = []
        self._columns: dict[str, list[np.ndarray]] = {}
        self._stacked: dict[str, np.ndarray] | None = None

    def started(self, view: MemberStep) -> None:
        try:
            self._samples_per_step = int(view.objective.num_samples())
        except NotImplementedError:
            self._samples_per_step = 1
        self._record(view, None)

    def step_completed(self, view: MemberStep) -> None:
        self._record(view, view)

    def _record(self, view: MemberStep, step: MemberStep | None) -> None:
        c = self.config
        rows, idx = view.rows, view.members[view.rows]
        due = np.zeros(self.size, dtype=bool)
        due[idx] = True
        self._steps.append(view.step)
        self._due.append(due)

        def put(name: str, values: Any) -> None:
            column = np.full((self.size, *np.shape(values)[1:]), np.nan)
            column[idx] = values
            self._columns.setdefault(name, []).append(column)

        nan = np.full(len(rows), np.nan)
        put("loss", nan if step is None else np.asarray(step.loss, dtype=np.float64)[rows])
        grads = None
        if step is not None:
            grads = step.raw_grads if step.raw_grads is not None else step.grads
        for k, v in view.params.items():
            if c.grads:
                put(f"grad.{k}", nan if grads is None else _row_norms(grads[k][rows]))
            if c.updates:
                before = None if step is None else step.prev_params
                put(f"update.{k}", nan if before is None else _row_norms(v[rows] - before[k][rows]))
        for k, v in view.params.items():
            if c.weights:
                put(f"weight.{k}", _row_norms(v[rows]))
            if c.spread and np.ndim(v) == 3:
                w = v[rows]
                put(
                    f"spread.{k}",
                    np.zeros(len(rows))
                    if w.shape[2] < 2
                    else np.max(np.abs(w - w[:, :, :1]), axis=(1, 2)),
                )

    def _stack(self) -> dict[str, np.ndarray]:
        if self._stacked is None:
            self._stacked = {name: np.stack(c) for name, c in self._columns.items()}
            self._stacked["step"] = np.asarray(self._steps, dtype=np.int64)
            self._stacked["due"] = np.stack(self._due)
            self._columns.clear()
            self._due.clear()
        return self._stacked

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        stacked = self._stack()
        rows = np.flatnonzero(stacked["due"][:, member])
        steps = stacked["step"][rows]
        trace: dict[str, np.ndarray] = {"step": steps, "samples": steps * self._samples_per_step}
        for name, values in stacked.items():  # recorded in the run's key order
            if name not in ("step", "due"):
                trace[name] = values[rows, member]
        return {"trace": trace}

    def state_dict(self) -> dict[str, Any]:
        stacked = dict(self._stack())
        self._stacked = None
        self._columns = {k: list(v) for k, v in stacked.items() if k not in ("step", "due")}
        self._steps = stacked["step"].tolist()
        self._due = list(stacked["due"])
        return stacked

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._stacked = None
        self._steps = np.asarray(state["step"]).tolist()
        self._due = list(np.asarray(state["due"], dtype=bool))
        self._columns = {
            k: list(np.asarray(v, dtype=np.float64))
            for k, v in state.items()
            if k not in ("step", "due")
        }


@hookimpl
def gdsim_observers() -> list[type]:
    return [Diagnostics]
