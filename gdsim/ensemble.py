"""Vectorised ensembles: many runs stepped together as one array with a leading ensemble axis.

Runs that share their objective and the *kinds* of their components, and whose objective, rule,
schedule and transforms are ``elementwise``, can be stepped as one: every parameter gets a
leading axis of length E (one row per run), and a hyperparameter that differs between the runs
(say ``mu``) becomes a float64 array of shape ``(E, 1, …)`` that broadcasts against the
parameters. Each step is then a handful of numpy operations over all runs, with no Python loop
over runs.

Every run keeps its own fate. The loop reproduces :func:`gdsim.engine.run` check by check: a run
whose loss becomes non-finite or exceeds ``max_loss`` is diverged at that step and reports its
last finite iterate; tolerances and step budgets end runs one by one. A run that ends is removed
from the arrays (its rows are copied out first), so the others continue unchanged. Since the
arithmetic is elementwise and identical, a run's result equals the result of the same run
stepped alone, bit for bit (``tests/test_ensemble.py`` checks this).

Runs that cannot be vectorised (observers, data-backed objectives or estimators, components that
are not elementwise, hyperparameters that are not floats) are stepped one by one by the engine:
:func:`run_specs` decides this transparently.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import logging
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim import engine, loop
from gdsim.backends import BackendError, LiveMembers
from gdsim.backends import current as current_backend
from gdsim.checkpoint import Checkpoint, check_ensemble
from gdsim.components import Component, MemberObserver, MemberStep, overrides
from gdsim.errors import CheckpointError, GdsimError, Interrupted
from gdsim.estimators import FullBatch
from gdsim.state import Params

if TYPE_CHECKING:
    from pathlib import Path

    import pluggy

    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec, Scenario

Progress = Callable[[int], None]
"""Called with the number of runs just finished."""

EVENT_HOOKS = (
    "gdsim_run_started",
    "gdsim_step_completed",
    "gdsim_epoch_completed",
    "gdsim_diverged",
    "gdsim_run_completed",
)


# --------------------------------------------------------------------------------------------
# the vectorised core

CODES = (
    engine.STATUS_COMPLETED,
    engine.STATUS_CONVERGED,
    engine.STATUS_DIVERGED,
    "stopped_early",  # an observer's request (early stopping)
)
CODE = {status: i for i, status in enumerate(CODES)}


@attrs.define
class Outcome:
    """Per-member results of an ensemble, as arrays (row i is member i).

    Only what cannot be derived is stored: as in the engine, a member's epochs equal its steps
    (full batch), a diverged member's last finite iterate is from the step before, and only a
    member that diverged at step 0 has no finite loss.
    """

    code: Any = None
    """Status of each member as an index into :data:`CODES` (int8: cheap for millions)."""
    steps: Any = None
    """Steps taken; for a diverged member the step whose loss was not finite."""
    final_params: dict[str, np.ndarray] = attrs.field(factory=dict)
    final_loss: Any = None
    """The loss at ``final_params``; NaN for a member that diverged at step 0."""
    reasons: dict[int, str] = attrs.field(factory=dict)
    """Stop reason of each member that has one."""

    def __len__(self) -> int:
        return len(self.code)

    def status(self, i: int) -> str:
        """The status string of member ``i``."""
        return CODES[int(self.code[i])]

    def diverged_at(self, i: int) -> int | None:
        return int(self.steps[i]) if self.code[i] == CODE[engine.STATUS_DIVERGED] else None

    def final_step(self, i: int) -> int:
        steps = int(self.steps[i])
        return max(steps - 1, 0) if self.diverged_at(i) is not None else steps

    def has_loss(self, i: int) -> bool:
        return self.diverged_at(i) != 0


def simulate(
    objective: Any,
    rule: Any,
    schedule: Any,
    params: Params,
    steps: int | np.ndarray,
    *,
    transforms: Sequence[Any] = (),
    max_loss: float | np.ndarray = 1e100,
    grad_norm: float | np.ndarray | None = None,
    step_size: float | np.ndarray | None = None,
    hyper: Sequence[tuple[int, Any, np.ndarray]] = (),
    progress: Progress | None = None,
    observers: Sequence[MemberObserver] = (),
    resume: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> Outcome:
    """Step an ensemble (leading axis of every parameter) to the end of every member.

    ``steps``, ``max_loss``, ``grad_norm`` and ``step_size`` are scalars or per-member arrays
    (``grad_norm``/``step_size`` None or NaN: no tolerance). ``hyper`` lists per-member
    hyperparameter arrays as ``(slot, field, array)``, slot 0 the rule, 1 the schedule, 2+ the
    transforms, ``field`` a name or a :data:`Path` into nested components (a warm-up's
    ``("inner", "lr")``); they are attached to the components here and follow the members when
    some end. ``observers`` see every live member at once, after each step some member is due
    at (their ``every``, and a member's own budget), as the engine calls a run's observers.

    Observers that save the ensemble (``saves_ensemble``: the checkpoint's counterpart) are
    not called after steps: at each of their ``every`` steps, once the members that ended at
    that step are recorded, they get :func:`snapshot`'s state of the whole ensemble (and once
    more at the end with ``at_end``). ``resume`` is such a state: the ensemble continues from
    it exactly as it would have gone on.

    ``backend`` names where the steps run (:mod:`gdsim.backends`; None: the one in force,
    numpy by default); every fate, observer call and checkpoint is handled here on the host
    whatever the backend.
    """
    from gdsim.backends import get_backend

    stepper = get_backend(backend)
    names = list(params)
    size = int(np.shape(params[names[0]])[0])
    budget = _per_member(steps, size, np.int64)
    max_loss_m = _per_member(max_loss, size, np.float64)
    grad_tol = _per_member(grad_norm, size, np.float64)
    step_tol = _per_member(step_size, size, np.float64)
    out = Outcome()
    comps = [rule, schedule, *transforms]
    estimator = FullBatch()

    def attach(rows: np.ndarray | None) -> None:
        by_slot: dict[int, dict[Any, np.ndarray]] = {}
        for slot, field, array in hyper:
            by_slot.setdefault(slot, {})[field] = array if rows is None else array[rows]
        for slot, values in by_slot.items():
            comps[slot] = with_values(comps[slot], values)

    def write(idx: Any, status: str, step_count: int, values: Params, losses: Any) -> None:
        """Record members ``idx`` (a slice when all members end together, at once)."""
        if isinstance(idx, slice) and out.code is None:  # keep references, copy nothing
            out.code = np.broadcast_to(np.int8(CODE[status]), (size,))
            out.steps = np.broadcast_to(np.int64(step_count), (size,))
            out.final_params = dict(values)
            out.final_loss = np.full(size, np.nan) if losses is None else losses
            return
        if out.code is None or not out.code.flags.writeable:
            out.code = np.zeros(size, dtype=np.int8)
            out.steps = np.zeros(size, dtype=np.int64)
            out.final_params = {
                k: np.empty((size, *np.shape(v)[1:]), dtype=np.float64) for k, v in params.items()
            }
            out.final_loss = np.full(size, np.nan)
        out.code[idx] = CODE[status]
        out.steps[idx] = step_count
        for k in names:
            out.final_params[k][idx] = values[k]
        if losses is not None:
            out.final_loss[idx] = losses

    def at(value: Any, rows: Any) -> Any:
        return value[rows] if isinstance(value, np.ndarray) else value

    members = np.arange(size)  # original index of each live row

    def unit_for_members() -> loop.Unit:
        """The unit of work of the live members (their hyperparameters and tolerances)."""
        attach(None if len(members) == size else members)
        return stepper.ensemble_unit(
            LiveMembers(
                objective,
                comps[0],
                comps[1],
                comps[2:],
                at(max_loss_m, members),
                at(grad_tol, members),
                at(step_tol, members),
                size,
                len(members),
                params,
                outputs_read=bool(observers),
            )
        )

    def live(rows: np.ndarray) -> Any:
        """Where rows ``rows`` of the live arrays go in the outcome."""
        if len(rows) == size:
            return slice(None)  # nobody has left yet: plain slices, no scatter
        return members[rows]

    def diverge(rows: np.ndarray, losses: np.ndarray) -> None:
        """Members whose loss at ``step`` is not acceptable: keep their last finite iterate."""
        idx = live(rows)
        if step > 0:
            last = _rows(prev_params, rows)
            # the loss of the last finite iterate, recomputed exactly as the step computed it
            # (cheaper than keeping every step's loss array alive for the rare divergence),
            # on the device when the backend computes losses there
            on_backend = getattr(unit, "final_loss", None)
            if on_backend is None:
                recomputed = objective.value_and_grad(last, None)[0]
            else:
                recomputed = on_backend(last)
            write(idx, engine.STATUS_DIVERGED, step, last, recomputed)
        else:
            write(idx, engine.STATUS_DIVERGED, step, _rows(params, rows), None)
        for i, value in zip(members[rows].tolist(), losses.tolist(), strict=True):
            out.reasons[i] = f"loss became {value!r} at step {step}"

    def finish(rows: np.ndarray, status: str, reason: str | list[str] | None) -> None:
        """The engine's ``_finish`` for members ending without divergence at ``step``
        (``reason`` one for all, or one per row)."""

        def reasons(sel: np.ndarray) -> dict[int, str]:
            ids = members[rows[sel]].tolist()
            if isinstance(reason, list):
                return dict(zip(ids, [reason[j] for j in sel.tolist()], strict=True))
            return dict.fromkeys(ids, reason)

        everyone = len(rows) == len(members)
        sub = params if everyone else _rows(params, rows)
        on_backend = getattr(unit, "final_loss", None)  # a compiled backend's own evaluation
        final_loss = objective.value(sub, None) if on_backend is None else on_backend(sub)
        limit = max_loss_m[members[rows]] if isinstance(max_loss_m, np.ndarray) else max_loss_m
        ok = (final_loss <= limit) & (final_loss >= -limit)  # |loss| <= limit, NaN not
        for v in sub.values():
            finite = np.isfinite(v)
            ok &= finite if finite.ndim == 1 else finite.reshape(len(rows), -1).all(axis=1)
        if ok.all():
            write(live(rows), status, step, sub, final_loss)
            if reason is not None:
                out.reasons.update(reasons(np.arange(len(rows))))
            return
        bad = np.flatnonzero(~ok)
        diverge(rows[bad], final_loss[bad])  # the engine re-checks the final loss
        good = np.flatnonzero(ok)
        if len(good):
            write(members[rows[good]], status, step, _rows(sub, good), final_loss[good])
            if reason is not None:
                out.reasons.update(reasons(good))

    def converge(rows: np.ndarray, tol: Any, label: str) -> None:
        tols = at(tol, members[rows])
        for value in np.unique(tols):
            sel = rows[tols == value] if np.ndim(tols) else rows
            finish(sel, engine.STATUS_CONVERGED, f"{label} <= {value:g}")

    savers = [obs for obs in observers if getattr(obs, "saves_ensemble", False)]
    watchers = [obs for obs in observers if not getattr(obs, "saves_ensemble", False)]
    if resume is None:
        attach(None)
        carry = loop.start(
            params,
            comps[0].init(params),
            comps[1].init(),
            estimator.init(objective, None),  # type: ignore[arg-type]
            [t.init(params) for t in comps[2:]],
        )
    else:
        members = np.asarray(resume["members"], dtype=np.int64)
        _restore_outcome(out, resume["outcome"])
        params = dict(resume["params"])
        attach(None if len(members) == size else members)
        carry = loop.start(
            params,
            resume["rule"],
            resume["schedule"],
            resume["estimator"],
            list(resume["transforms"]),
            step=int(resume["step"]),
            epoch=int(resume["epoch"]),
            prev_params=resume["prev_params"],
        )
    step = carry[0]
    saved = step  # the last step saved (none at the start, nor again at a resumed step)
    prev_params: Params = carry[3]
    next_end = int(np.min(at(budget, members))) if len(members) else 0
    unit = unit_for_members()
    everys = sorted({max(1, int(obs.every)) for obs in observers})
    for obs in observers:
        obs.started(MemberStep(step, members, np.arange(len(members)), params, objective=objective))
    if resume is not None:
        for obs, state in zip(watchers, resume["observers"], strict=True):
            obs.load_state_dict(state)
        if progress is not None and size > len(members):
            progress(size - len(members))

    def snapshot(carry: loop.Carry, members: np.ndarray) -> dict[str, Any]:
        """The whole ensemble's state between two units (see ``resume``)."""
        return {
            "step": int(carry[0]),
            "epoch": int(carry[1]),
            "members": members,
            "params": carry[2],
            "prev_params": None if carry[3] is carry[2] else carry[3],
            "rule": carry[5],
            "schedule": carry[6],
            "estimator": carry[7],
            "transforms": list(carry[8]),
            "outcome": _saved_outcome(out),
            "observers": [obs.state_dict() for obs in watchers],
        }

    def notify(carry: loop.Carry, ending: Any) -> list[tuple[np.ndarray, list[str], str]]:
        """Call the observers due at ``step`` with their rows (the engine's ``every`` test);
        the members some observer asked to stop (``ending``: rows already ending)."""
        stopping = np.zeros(len(members), dtype=bool)
        if ending is not None:
            stopping[ending] = True
        stops: list[tuple[np.ndarray, list[str], str]] = []
        at_budget: Any = None
        for obs in watchers:
            if step % max(1, int(obs.every)) == 0:
                rows = np.arange(len(members))
            else:
                if at_budget is None:
                    at_budget = np.flatnonzero(
                        np.broadcast_to(at(budget, members) == step, len(members))
                    )
                rows = at_budget
            if len(rows):
                view = MemberStep(
                    step, members, rows, params, carry[9], carry[10], carry[12], objective
                )
                view.raw_grads, view.prev_params = carry[11], carry[3]
                view.stopping, view.stops = stopping, stops
                obs.step_completed(view)
        return stops

    with np.errstate(all="ignore"):
        while len(members):
            if savers and step > saved and step < next_end and carry[15] == 0:
                saved = step  # every member that ended at this step is recorded: save
                due = [obs for obs in savers if step % max(1, int(obs.every)) == 0]
                if due:
                    state = snapshot(carry, members)
                    for obs in due:
                        obs.save(state)
            if step >= next_end:  # step budgets
                if isinstance(budget, np.ndarray):
                    rows = np.flatnonzero(budget[members] <= step)
                else:  # one budget for all: everyone ends here
                    rows = np.arange(len(members))
                finish(rows, engine.STATUS_COMPLETED, None)
            else:
                stop = next_end
                for every in everys:
                    stop = min(stop, step - step % every + every)
                carry, event = unit(carry, stop)
                step, _, params, prev_params = carry[:4]
                stops = []
                if observers and carry[15] == 0:  # a step completed (not one interrupted)
                    ending = event[1] if event is not None else None  # step size: decided
                    stops = notify(carry, ending)
                if event is None and not stops:
                    continue  # an observer's step, or the budget of some member (above)
                ended = []
                if event is not None:
                    kind, rows = event
                    if kind == loop.DIVERGED:
                        diverge(rows, carry[9][rows])
                    elif kind == loop.GRAD_NORM:
                        converge(rows, grad_tol, kind)
                    else:
                        converge(rows, step_tol, kind)
                    ended.append(rows)
                for rows, reasons, status in stops:  # in the order the observers asked
                    finish(rows, status, reasons)
                    ended.append(rows)
                rows = np.sort(np.concatenate(ended)) if len(ended) > 1 else ended[0]
            if progress is not None:
                progress(len(rows))
            if len(rows) == len(members):
                break
            keep = np.setdiff1d(np.arange(len(members)), rows, assume_unique=True)
            carry = _compact(carry, keep, len(members))
            step, _, params, prev_params = carry[:4]
            members = members[keep]
            next_end = int(np.min(at(budget, members)))
            unit = unit_for_members()
        # at the end, or at an ``every`` step the last members ended at (as a run's observer)
        ending = [
            obs
            for obs in savers
            if obs.at_end or (step > saved and step % max(1, int(obs.every)) == 0)
        ]
        if ending and size:
            none = np.zeros(0, dtype=np.int64)
            state = snapshot(_compact(carry, none, len(members)), none)
            for obs in ending:
                obs.save(state)
    return out


def _saved_outcome(out: Outcome) -> dict[str, Any]:
    """The outcome so far as plain arrays (what an ensemble checkpoint holds of ended members)."""
    if out.code is None:
        return {"code": None}
    ids = np.fromiter(out.reasons, dtype=np.int64, count=len(out.reasons))
    return {
        "code": np.ascontiguousarray(out.code),
        "steps": np.ascontiguousarray(out.steps),
        "final_params": {k: np.ascontiguousarray(v) for k, v in out.final_params.items()},
        "final_loss": np.ascontiguousarray(out.final_loss, dtype=np.float64),
        "reason_members": ids,
        "reasons": list(out.reasons.values()),
    }


def _restore_outcome(out: Outcome, saved: Mapping[str, Any]) -> None:
    if saved.get("code") is None:
        return
    out.code = np.array(saved["code"], dtype=np.int8)
    out.steps = np.array(saved["steps"], dtype=np.int64)
    out.final_params = {k: np.array(v, dtype=np.float64) for k, v in saved["final_params"].items()}
    out.final_loss = np.array(saved["final_loss"], dtype=np.float64)
    ids = np.asarray(saved["reason_members"], dtype=np.int64).tolist()
    out.reasons = dict(zip(ids, [str(r) for r in saved["reasons"]], strict=True))


def _compact(carry: loop.Carry, keep: np.ndarray, size: int) -> loop.Carry:
    """The carry of the members ``keep`` (of ``size``): every array with the member axis.

    At step 0 the previous parameters are the parameters themselves, and stay so.
    """
    items = list(carry)
    params = _rows(items[2], keep)
    prev = params if items[3] is items[2] else _rows(items[3], keep)
    items[2], items[3] = params, prev
    items[4] = None  # the previous loss: recomputed on divergence, never kept
    items[5:9] = _compact_states(keep, size, *items[5:9])
    if items[15]:  # a step interrupted after its loss: the others' loss and gradient go on
        items[9] = items[9][keep]
        items[10] = _rows(items[10], keep)
    else:
        items[9] = items[10] = items[11] = None
    return tuple(items)


NotElementwise = loop.NotElementwise


def _per_member(value: Any, size: int, dtype: Any) -> Any:
    """A scalar stays a scalar (None stays None); anything else becomes a (size,) array."""
    if value is None or np.ndim(value) == 0:
        return None if value is None else dtype(value).item()
    return np.broadcast_to(np.asarray(value, dtype=dtype), (size,)).copy()


def _rows(tree: Params, rows: np.ndarray) -> Params:
    return {k: v[rows] for k, v in tree.items()}


def _compact_states(keep: np.ndarray, size: int, *states: Any) -> Any:
    """Keep the rows ``keep`` of every array in the states that has the ensemble axis."""

    def take(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: take(v) for k, v in value.items()}
        if isinstance(value, list):
            return [take(v) for v in value]
        if isinstance(value, tuple):
            return tuple(take(v) for v in value)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == size:
            return value[keep]
        return value

    return tuple(take(s) for s in states)


Path = tuple[str | int, ...]
"""Where a parameter sits in a component: ``("lr",)``, ``("inner", "lr")`` for a nested
component, ``("pieces", 1, "lr")`` for one of a list of nested components."""


def with_values(component: Any, values: dict[Any, Any]) -> Any:
    """A copy of a frozen component with some fields replaced, bypassing their validators.

    Used to give a component per-member arrays in place of numbers; the numbers were validated
    when each run was loaded. A key is a field name or a :data:`Path` into nested components,
    which are copied the same way.
    """
    clone = copy.copy(component)
    nested: dict[str, dict[Path, Any]] = {}
    for key, value in values.items():
        path = (key,) if isinstance(key, str) else tuple(key)
        if len(path) == 1:
            object.__setattr__(clone, str(path[0]), value)
        else:
            nested.setdefault(str(path[0]), {})[path[1:]] = value
    for name, below in nested.items():
        child = getattr(clone, name)
        if isinstance(child, tuple):  # a list of components: the path goes on with an index
            items = list(child)
            by_index: dict[int, dict[Path, Any]] = {}
            for path, value in below.items():
                by_index.setdefault(int(path[0]), {})[path[1:]] = value
            for i, item_values in by_index.items():
                items[i] = with_values(items[i], item_values)
            object.__setattr__(clone, name, tuple(items))
        else:
            object.__setattr__(clone, name, with_values(child, below))
    return clone


def _nested(value: Any) -> list[tuple[Path, Component]]:
    """The components held by a field value: itself, or each item of a tuple of them."""
    if isinstance(value, Component):
        return [((), value)]
    if isinstance(value, tuple) and value and all(isinstance(v, Component) for v in value):
        return [((i,), v) for i, v in enumerate(value)]
    return []


def _float_paths(component: Any) -> list[Path]:
    """The paths of a component's float parameters, its nested components' included."""
    floats = _float_fields(type(component))
    paths: list[Path] = []
    for f in attrs.fields(type(component)):
        if f.name in floats:
            paths.append((f.name,))
            continue
        for prefix, child in _nested(getattr(component, f.name)):
            paths.extend((f.name, *prefix, *rest) for rest in _float_paths(child))
    return paths


def _at(component: Any, path: Path) -> Any:
    for key in path:
        component = component[key] if isinstance(key, int) else getattr(component, key)
    return component


def _structure(component: Any) -> tuple[Any, ...]:
    """A hashable key of a component that leaves out its float parameters (nested ones too):
    runs whose components agree on it can share arrays."""
    floats = _float_fields(type(component))
    items: list[Any] = [type(component)]
    for f in attrs.fields(type(component)):
        if f.name in floats:
            continue
        value = getattr(component, f.name)
        children = _nested(value)
        if children:
            items.append((f.name, tuple(_structure(child) for _, child in children)))
        else:
            items.append((f.name, _freeze(value)))
    return tuple(items)


# --------------------------------------------------------------------------------------------
# from run specifications to ensembles and back


def why_not(spec: RunSpec) -> str | None:
    """Why this run cannot join a vectorised ensemble, or None when it can."""
    for obs in spec.observers:
        if obs.for_members(1) is None:
            return f"observer '{obs.name}' observes runs one at a time"
    if not spec.objective.elementwise or spec.objective.data_backed:
        return f"objective '{spec.objective.name}' is not elementwise"
    if type(spec.estimator) is not FullBatch:
        return f"estimator '{spec.estimator.name}' is not full_batch"
    for comp in (spec.rule, spec.schedule, *spec.transforms):
        if not getattr(comp, "elementwise", False):
            return f"{comp.kind} '{comp.name}' is not elementwise"
    if spec.schedule.monitors(spec.objective):
        return f"schedule '{spec.schedule.name}' reads metrics at epoch ends"
    return None


def hooks_watch_runs(pm: pluggy.PluginManager | None) -> bool:
    """True when some plugin implements a run event hook (runs must then go one by one)."""
    if pm is None:
        return False
    return any(getattr(pm.hook, name).get_hookimpls() for name in EVENT_HOOKS)


@functools.cache
def _float_fields(cls: type) -> set[str]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {f.name for f in attrs.fields(cls) if hints.get(f.name) is float}


@functools.cache
def _derives_values(cls: type) -> bool:
    """True when a class computes attributes from its fields when built (post-init, non-init
    fields): swapping in per-member arrays afterwards would leave those attributes stale."""
    return hasattr(cls, "__attrs_post_init__") or any(not f.init for f in attrs.fields(cls))


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a field value (for grouping)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
        return (type(value).__name__, value)
    except TypeError:
        return ("repr", repr(value))


def _components(spec: RunSpec) -> list[Component]:
    return [spec.rule, spec.schedule, *spec.transforms]


def plan(specs: Sequence[RunSpec], inits: Sequence[Params]) -> list[list[int]]:
    """Split vectorisable runs into groups that can step together (indices into ``specs``)."""
    groups: dict[Any, list[int]] = {}
    keys: dict[tuple[int, ...], tuple[Any, ...]] = {}  # by component identities
    for i, spec in enumerate(specs):
        ids = _component_ids(spec)
        if ids not in keys:
            keys[ids] = (
                id(spec.objective),
                _freeze(spec.estimator),
                *(_structure(comp) for comp in _components(spec)),
                tuple(repr(obs) for obs in spec.observers),  # observers alike, floats too
            )
        key = (keys[ids], tuple((k, v.shape) for k, v in inits[i].items()))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def run_group(
    specs: Sequence[RunSpec],
    inits: Sequence[Params],
    progress: Progress | None = None,
    scenario: Scenario | None = None,
    resume: Checkpoint | None = None,
    resume_folder: Path | None = None,
) -> list[RunResult] | None:
    """Run runs of one :func:`plan` group as an ensemble; None if they cannot share arrays.

    ``scenario`` is what a checkpoint observer saves (without it, checkpointed runs go one by
    one); ``resume`` an ensemble checkpoint of exactly these runs to continue from, its new
    checkpoints going to ``resume_folder`` when given.
    """

    first = specs[0]
    names = list(inits[0])
    ndims = {np.ndim(inits[0][k]) for k in names}
    hyper: list[tuple[int, Any, np.ndarray]] = []
    for slot, comp in enumerate(_components(first)):
        for path in _float_paths(comp):
            values = [_at(_components(s)[slot], path) for s in specs]
            if all(v == values[0] for v in values):
                continue
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                return None
            owners = [_at(comp, path[:i]) for i in range(len(path)) if not isinstance(path[i], int)]
            if any(_derives_values(type(owner)) for owner in owners):
                return None  # values computed from the fields at construction would be stale
            if len(ndims) != 1:
                return None  # one array cannot broadcast against parameters of mixed rank
            (ndim,) = ndims
            array = np.array(values, dtype=np.float64).reshape((len(specs),) + (1,) * ndim)
            hyper.append((slot, path[0] if len(path) == 1 else path, array))
    params = {k: np.stack([np.asarray(p[k], dtype=np.float64) for p in inits]) for k in names}

    def column(get: Callable[[RunSpec], Any]) -> Any:
        """One value per member, or the shared value itself (cheaper) when all agree."""
        values = [get(s) for s in specs]
        if all(v == values[0] for v in values):
            return values[0]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    observers = [obs.for_members(len(specs)) for obs in first.observers]
    if any(obs is None for obs in observers):
        return None
    state = None
    savers = [obs for obs in observers if getattr(obs, "saves_ensemble", False)]
    if savers or resume is not None:
        from gdsim.api import _loads_saved_weights

        if scenario is None or not all(
            getattr(obs, "saves_ensemble", False) or overrides(obs, MemberObserver, "state_dict")
            for obs in observers
        ):
            return None  # nothing to save, or an observer whose state cannot be saved
        if savers and resume is None and _loads_saved_weights(scenario.raw):
            return None  # a run may start from one of these runs' own checkpoint folders
        identity = _identity(specs, hyper, params, column)
        for obs in savers:
            obs.bind(identity, scenario)  # type: ignore[attr-defined]
            if resume_folder is not None:
                obs.resume_folder = resume_folder  # type: ignore[attr-defined]
        if resume is not None:
            state = check_ensemble(resume, identity)
    started = time.perf_counter()
    try:
        outcome = simulate(
            first.objective,
            first.rule,
            first.schedule,
            params,
            column(lambda s: s.steps),
            transforms=first.transforms,
            max_loss=column(lambda s: s.max_loss),
            grad_norm=column(lambda s: s.tolerance.grad_norm),
            step_size=column(lambda s: s.tolerance.step_size),
            hyper=hyper,
            progress=progress,
            observers=observers,  # type: ignore[arg-type]
            resume=state,
            backend=None if scenario is None else scenario.backend,
        )
    except BackendError as exc:  # a component the backend cannot run: the user must choose
        raise BackendError(f"run '{first.name}': {exc}") from None
    except Exception as exc:
        if resume is not None:  # a resumed ensemble has no other way to go on
            if isinstance(exc, GdsimError):
                raise
            raise CheckpointError(
                f"{resume.path}: corrupt ensemble checkpoint ({type(exc).__name__}: {exc})"
            ) from None
        if isinstance(exc, NotElementwise):
            return None  # the engine runs them one by one instead
        # a component that branches on a swept hyperparameter ("if self.momentum > 0") cannot
        # take it as an array; stepping the runs one by one gives the same results, and a
        # component that fails fails each run alone, with status "error", not the group
        return None
    elapsed = (time.perf_counter() - started) / len(specs)
    with paused_gc():
        return _results(specs, names, outcome, observers, elapsed)


def _identity(
    specs: Sequence[RunSpec],
    hyper: Sequence[tuple[int, Any, np.ndarray]],
    params: Params,
    column: Callable[[Callable[[RunSpec], Any]], Any],
) -> dict[str, Any]:
    """What an ensemble checkpoint of these runs must match: the first run's fingerprint and
    a digest of everything that differs between members."""
    from gdsim.checkpoint import ensemble_identity, fingerprint

    per_member: list[Any] = []
    for slot, field, array in hyper:
        per_member += [(slot, field), array]
    for k in sorted(params):
        per_member += [k, params[k]]
    per_member += [
        column(lambda s: s.steps),
        column(lambda s: s.max_loss),
        column(lambda s: s.tolerance.grad_norm),
        column(lambda s: s.tolerance.step_size),
    ]
    return ensemble_identity(specs, fingerprint(specs[0]), per_member)


def resume_group(
    specs: Sequence[RunSpec],
    checkpoint: Checkpoint,
    scenario: Scenario,
    progress: Progress | None = None,
    folder: Path | None = None,
) -> list[RunResult]:
    """Continue the ensemble of ``specs`` (in the checkpoint's order) from an ensemble
    checkpoint; its new checkpoints go to ``folder`` (default: the observer's ``dir``)."""
    where = str(checkpoint.path)
    for spec in specs:
        reason = why_not(spec)
        if reason is not None:
            raise CheckpointError(
                f"{where}: run '{spec.name}' of the checkpoint's ensemble cannot step in an "
                f"ensemble with this scenario ({reason})"
            )
    starts: dict[tuple[int, int], Params] = {}
    with paused_gc():
        inits = [_initial_params(spec, starts) for spec in specs]
    if len(plan(specs, inits)) != 1:
        raise CheckpointError(
            f"{where}: the runs of the checkpoint's ensemble no longer step as one ensemble "
            "with this scenario (their components differ in more than swept numbers)"
        )
    results = run_group(specs, inits, progress, scenario, resume=checkpoint, resume_folder=folder)
    if results is None:
        raise CheckpointError(
            f"{where}: the runs of the checkpoint's ensemble no longer step as one ensemble "
            "with this scenario"
        )
    return results


def _results(
    specs: Sequence[RunSpec],
    names: list[str],
    outcome: Outcome,
    observers: Sequence[Any],
    elapsed: float,
) -> list[RunResult]:
    """One result per member of an ensemble, from its outcome arrays."""
    from gdsim.expectations import evaluate
    from gdsim.results import RunResult

    first = specs[0]
    results = []
    # the outcome's columns as Python lists: one conversion, not one numpy look-up per field
    codes, steps, losses = (
        outcome.code.tolist(),
        outcome.steps.tolist(),
        outcome.final_loss.tolist(),
    )
    finals = [(k, outcome.final_params[k]) for k in names]
    diverged = CODE[engine.STATUS_DIVERGED]
    for i, spec in enumerate(specs):
        code, count = codes[i], steps[i]
        gone = code == diverged
        result = RunResult(
            name=spec.name,
            status=CODES[code],
            steps=count,
            epochs=count,
            final_params={k: np.array(column[i], dtype=np.float64) for k, column in finals},
            final_loss=None if gone and count == 0 else losses[i],
            final_step=max(count - 1, 0) if gone else count,
            seed=spec.seed,
            stop_reason=outcome.reasons.get(i),
            diverged_at=count if gone else None,
            elapsed=elapsed,
            spec=spec,
        )
        result.expectations = evaluate(spec, result)
        for obs in observers:
            obs.run_completed(i, result)
        result.outputs = {
            _output_key(first.observers, j): obs.outputs(i, outcome)  # type: ignore[union-attr]
            for j, obs in enumerate(observers)
        }
        results.append(result)
    return results


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a million acyclic objects are made: each full
    collection walks every live object, which makes building them quadratic-ish (reference
    counting still frees everything as usual)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _output_key(observers: Sequence[Any], j: int) -> str:
    """The engine's key of observer ``j``'s outputs (``i:name`` when two share a name)."""
    name = observers[j].name
    return f"{j}:{name}" if sum(1 for o in observers if o.name == name) > 1 else name


def run_specs(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None = None,
    vectorise: bool = True,
    progress: Progress | None = None,
    scenario: Scenario | None = None,
) -> Sequence[RunResult]:
    """Run every spec, as ensembles where possible, one by one otherwise; results in order.

    A scenario's runs (:class:`gdsim.runs.Runs`) whose swept entries can be stepped straight
    from their columns (:mod:`gdsim.columnar`) are; their results stay columns
    (:class:`gdsim.results.RunList`: a run's result is made when it is read). ``scenario``
    is handed to the runs stepped one by one (checkpoint observers save it).
    """
    from gdsim.backends import using_backend

    with using_backend(None if scenario is None else scenario.backend):
        try:
            return _run_specs_on(specs, pm, vectorise, progress, scenario)
        except BackendError as exc:
            if scenario is None or not scenario.source:
                raise
            raise BackendError(f"{scenario.source}: {exc}") from None


def _run_specs_on(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None,
    vectorise: bool,
    progress: Progress | None,
    scenario: Scenario | None,
) -> Sequence[RunResult]:
    """:func:`run_specs` on the backend in force."""
    from gdsim.results import Block, RunList
    from gdsim.runs import Runs, SweepRuns

    blocks: list[Any] = []
    if isinstance(specs, Runs) and vectorise:
        from gdsim.columnar import run_sweep

        try:
            for item in specs.items:
                done = run_sweep(item, pm, progress) if isinstance(item, SweepRuns) else None
                blocks.append(item if done is None else Block(done, item))
        except KeyboardInterrupt as exc:
            finished = RunList([b for b in blocks if isinstance(b, Block)])
            raise Interrupted(list(finished) + getattr(exc, "runs", [])) from None
        if all(isinstance(b, Block) for b in blocks):
            return RunList(blocks)
        rest = Runs([b for b in blocks if not isinstance(b, Block)])
        results = _specs_one_way(rest, pm, vectorise, progress, scenario)
        out, at = [], 0
        for b in blocks:
            if isinstance(b, Block):
                out.append(b)
            else:
                n = len(b) if isinstance(b, SweepRuns) else 1
                out.append(results[at : at + n])
                at += n
        return RunList(out)
    return _specs_one_way(specs, pm, vectorise, progress, scenario)


def _specs_one_way(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None,
    vectorise: bool,
    progress: Progress | None,
    scenario: Scenario | None,
) -> list[RunResult]:
    """:func:`run_specs` over run objects: grouped into ensembles, the rest one by one."""
    if not isinstance(specs, list):  # a scenario's runs are made when read: make each once
        with paused_gc():
            specs = list(specs)
    results: list[RunResult | None] = [None] * len(specs)
    try:
        _run_specs(specs, results, pm, vectorise, progress, scenario)
    except KeyboardInterrupt as exc:
        finished = [r for r in results if r is not None]
        raise Interrupted(finished + getattr(exc, "runs", [])) from None
    return [r for r in results if r is not None]


def _run_specs(
    specs: Sequence[RunSpec],
    results: list[RunResult | None],
    pm: pluggy.PluginManager | None,
    vectorise: bool,
    progress: Progress | None,
    scenario: Scenario | None,
) -> None:
    """Fill ``results`` in place, so that an interrupted caller keeps what finished."""
    candidates: list[int] = []
    if vectorise and not hooks_watch_runs(pm):
        reasons: dict[tuple[int, ...], str | None] = {}  # runs of a sweep share components
        for i, s in enumerate(specs):
            key = _component_ids(s)
            if key not in reasons:
                reasons[key] = why_not(s)
            if reasons[key] is None:
                candidates.append(i)
    if candidates:
        starts: dict[tuple[int, int], Params] = {}
        with paused_gc():
            inits = {i: _initial_params(specs[i], starts) for i in candidates}
        order = list(candidates)
        groups = [
            [order[g] for g in group]
            for group in plan([specs[i] for i in order], [inits[i] for i in order])
        ]
        for idx in groups:
            if len(idx) < 2:
                continue
            done = run_group([specs[i] for i in idx], [inits[i] for i in idx], progress, scenario)
            if done is None:
                continue
            for i, result in zip(idx, done, strict=True):
                results[i] = result
    alone = [i for i, r in enumerate(results) if r is None]
    backend = current_backend()
    if alone and backend != "numpy":
        logging.getLogger("gdsim").info(
            "backend %r: %d run(s) step alone (%s…), compiled one at a time where they can",
            backend,
            len(alone),
            specs[alone[0]].name,
        )
    for i in alone:
        results[i] = engine.run(specs[i], pm=pm, scenario=scenario)
        if progress is not None:
            progress(1)


def _component_ids(spec: RunSpec) -> tuple[int, ...]:
    """The identities of a run's components (the runs of a sweep share most of them)."""
    return (
        id(spec.objective),
        id(spec.estimator),
        id(spec.rule),
        id(spec.schedule),
        *map(id, spec.transforms),
        -1,
        *map(id, spec.observers),
    )


def _initial_params(spec: RunSpec, starts: dict[tuple[int, int], Params]) -> Params:
    """``spec.initial_params`` with a fresh generator seeded by ``spec.seed``; the objective's
    default start is drawn once per objective and seed (the same draw every time)."""
    key = (id(spec.objective), spec.seed)
    if key not in starts:
        starts[key] = spec.objective.init(np.random.default_rng(spec.seed))
    params = dict(starts[key])
    for name, value in spec.init.items():
        params[name] = np.array(value, dtype=np.float64)
    return params


def identical(a: RunResult, b: RunResult) -> bool:
    """True when two results agree in every reported field, parameters bit for bit.

    The contract of ensembles and executors: whichever way a run was executed, this holds
    against the same run stepped alone by the engine.
    """
    if a.to_dict() != b.to_dict() or a.stop_reason != b.stop_reason:
        return False
    if a.final_params.keys() != b.final_params.keys():
        return False
    return all(
        a.final_params[k].shape == b.final_params[k].shape
        and a.final_params[k].tobytes() == b.final_params[k].tobytes()
        for k in a.final_params
    )
