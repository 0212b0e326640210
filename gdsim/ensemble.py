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

import copy
import functools
import time
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim import engine
from gdsim.components import Component
from gdsim.errors import Interrupted
from gdsim.estimators import FullBatch
from gdsim.state import Params, global_norm

if TYPE_CHECKING:
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

CODES = (engine.STATUS_COMPLETED, engine.STATUS_CONVERGED, engine.STATUS_DIVERGED)
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
) -> Outcome:
    """Step an ensemble (leading axis of every parameter) to the end of every member.

    ``steps``, ``max_loss``, ``grad_norm`` and ``step_size`` are scalars or per-member arrays
    (``grad_norm``/``step_size`` None or NaN: no tolerance). ``hyper`` lists per-member
    hyperparameter arrays as ``(slot, field, array)``, slot 0 the rule, 1 the schedule, 2+ the
    transforms, ``field`` a name or a :data:`Path` into nested components (a warm-up's
    ``("inner", "lr")``); they are attached to the components here and follow the members when
    some end.
    """
    names = list(params)
    size = int(np.shape(params[names[0]])[0])
    budget = _per_member(steps, size, np.int64)
    max_loss_m = _per_member(max_loss, size, np.float64)
    grad_tol = _per_member(grad_norm, size, np.float64)
    step_tol = _per_member(step_size, size, np.float64)
    out = Outcome()
    comps = [rule, schedule, *transforms]

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

    attach(None)
    members = np.arange(size)  # original index of each live row
    rule_state = comps[0].init(params)
    schedule_state = comps[1].init()
    transform_states = [t.init(params) for t in comps[2:]]
    step = 0
    prev_params: Params = params
    next_end = int(np.min(budget)) if size else 0
    check_grad = grad_tol is not None and bool(np.any(~np.isnan(grad_tol)))
    check_step = step_tol is not None and bool(np.any(~np.isnan(step_tol)))

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
            # (cheaper than keeping every step's loss array alive for the rare divergence)
            write(idx, engine.STATUS_DIVERGED, step, last, objective.value_and_grad(last, None)[0])
        else:
            write(idx, engine.STATUS_DIVERGED, step, _rows(params, rows), None)
        for i, value in zip(members[rows].tolist(), losses.tolist(), strict=True):
            out.reasons[i] = f"loss became {value!r} at step {step}"

    def finish(rows: np.ndarray, status: str, reason: str | None) -> None:
        """The engine's ``_finish`` for members ending without divergence at ``step``."""
        everyone = len(rows) == len(members)
        sub = params if everyone else _rows(params, rows)
        final_loss = objective.value(sub, None)
        limit = at(max_loss_m, members[rows])
        ok = np.abs(final_loss) <= limit
        for v in sub.values():
            ok &= np.isfinite(v).reshape(len(rows), -1).all(axis=1)
        if ok.all():
            write(live(rows), status, step, sub, final_loss)
            if reason is not None:
                out.reasons.update(dict.fromkeys(members[rows].tolist(), reason))
            return
        bad = np.flatnonzero(~ok)
        diverge(rows[bad], final_loss[bad])  # the engine re-checks the final loss
        good = np.flatnonzero(ok)
        if len(good):
            write(members[rows[good]], status, step, _rows(sub, good), final_loss[good])
            if reason is not None:
                out.reasons.update(dict.fromkeys(members[rows[good]].tolist(), reason))

    def converge(mask: np.ndarray, tol: Any, label: str) -> np.ndarray:
        rows = np.flatnonzero(mask)
        tols = at(tol, members[rows])
        for value in np.unique(tols):
            sel = rows[tols == value] if np.ndim(tols) else rows
            finish(sel, engine.STATUS_CONVERGED, f"{label} <= {value:g}")
        return rows

    with np.errstate(all="ignore"):
        while len(members):
            gone: list[np.ndarray] = []
            budget_end = step >= next_end
            if budget_end:  # step budgets
                ending = np.flatnonzero(np.broadcast_to(at(budget, members) <= step, len(members)))
                finish(ending, engine.STATUS_COMPLETED, None)
                gone.append(ending)
            else:
                loss, grads = objective.value_and_grad(params, None)
                if step == 0 and not _per_row(loss, grads, params, len(members)):
                    raise NotElementwise(f"objective '{objective.name}' mixes ensemble members")
                if isinstance(max_loss_m, np.ndarray):
                    bad_any = not np.all(np.abs(loss) <= max_loss_m[members])
                else:  # two read-only reductions; NaN makes them fail too
                    bad_any = not (np.max(loss) <= max_loss_m and np.min(loss) >= -max_loss_m)
                if bad_any:
                    bad = np.flatnonzero(~(np.abs(loss) <= at(max_loss_m, members)))
                    diverge(bad, loss[bad])
                    gone.append(bad)
                if check_grad:
                    mask = global_norm(grads, ensemble=True) <= at(grad_tol, members)
                    if gone:
                        mask[gone[0]] = False
                    if mask.any():
                        gone.append(converge(mask, grad_tol, "gradient norm"))
            if gone:
                removed = np.concatenate(gone) if len(gone) > 1 else gone[0]
                if progress is not None:
                    progress(len(removed))
                if len(removed) == len(members):
                    break
                keep = np.setdiff1d(np.arange(len(members)), removed, assume_unique=True)
                n = len(members)
                members = members[keep]
                params = _rows(params, keep)
                prev_params = params if step == 0 else _rows(prev_params, keep)
                rule_state, schedule_state, transform_states = _compact_states(
                    keep, n, rule_state, schedule_state, transform_states
                )
                attach(members)
                next_end = int(np.min(at(budget, members)))
                if budget_end:
                    continue  # the others' loss at this step is still to be computed
                loss = loss[keep]
                grads = _rows(grads, keep)

            for i, transform in enumerate(comps[2:]):
                grads, transform_states[i] = transform.apply(grads, transform_states[i], params)
            lr, schedule_state = comps[1].learning_rate(schedule_state, step, grads, loss)
            new_params, rule_state = comps[0].update(grads, rule_state, params, lr)
            prev_params = params
            params = new_params
            step += 1
            loss = grads = None  # free their buffers before the next step allocates new ones

            if check_step:
                moved = {k: params[k] - prev_params[k] for k in names}
                mask = global_norm(moved, ensemble=True) <= at(step_tol, members)
                if mask.any():
                    rows = converge(mask, step_tol, "step size")
                    if progress is not None:
                        progress(len(rows))
                    if len(rows) == len(members):
                        break
                    keep = np.flatnonzero(~mask)
                    n = len(members)
                    members = members[keep]
                    params, prev_params = _rows(params, keep), _rows(prev_params, keep)
                    rule_state, schedule_state, transform_states = _compact_states(
                        keep, n, rule_state, schedule_state, transform_states
                    )
                    attach(members)
                    next_end = int(np.min(at(budget, members)))
    return out


class NotElementwise(Exception):
    """A component declared elementwise did not keep one row per member."""


def _per_row(loss: Any, grads: Params, params: Params, rows: int) -> bool:
    return np.shape(loss) == (rows,) and all(
        np.shape(grads.get(k)) == np.shape(v) for k, v in params.items()
    )


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
    if spec.observers:
        return "it has observers"
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
    for i, spec in enumerate(specs):
        key: list[Any] = [
            id(spec.objective),
            _freeze(spec.estimator),
            tuple((k, v.shape) for k, v in inits[i].items()),
        ]
        key.extend(_structure(comp) for comp in _components(spec))
        groups.setdefault(tuple(key), []).append(i)
    return list(groups.values())


def run_group(
    specs: Sequence[RunSpec], inits: Sequence[Params], progress: Progress | None = None
) -> list[RunResult] | None:
    """Run runs of one :func:`plan` group as an ensemble; None if they cannot share arrays."""
    from gdsim.expectations import evaluate
    from gdsim.results import RunResult

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
        )
    except NotElementwise:
        return None  # the engine runs them one by one instead
    except Exception:
        # a component that branches on a swept hyperparameter ("if self.momentum > 0") cannot
        # take it as an array; stepping the runs one by one gives the same results, and a
        # component that fails fails each run alone, with status "error", not the group
        return None
    elapsed = (time.perf_counter() - started) / len(specs)
    results = []
    for i, spec in enumerate(specs):
        result = RunResult(
            name=spec.name,
            status=outcome.status(i),
            steps=int(outcome.steps[i]),
            epochs=int(outcome.steps[i]),
            final_params={k: np.array(outcome.final_params[k][i], dtype=np.float64) for k in names},
            final_loss=float(outcome.final_loss[i]) if outcome.has_loss(i) else None,
            final_step=outcome.final_step(i),
            seed=spec.seed,
            stop_reason=outcome.reasons.get(i),
            diverged_at=outcome.diverged_at(i),
            elapsed=elapsed,
            spec=spec,
        )
        result.expectations = evaluate(spec, result)
        results.append(result)
    return results


def run_specs(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None = None,
    vectorise: bool = True,
    progress: Progress | None = None,
    scenario: Scenario | None = None,
) -> list[RunResult]:
    """Run every spec, as ensembles where possible, one by one otherwise; results in order.

    ``scenario`` is handed to the runs stepped one by one (checkpoint observers save it).
    """
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
        candidates = [i for i, s in enumerate(specs) if why_not(s) is None]
    if candidates:
        inits = {
            i: specs[i].initial_params(np.random.default_rng(specs[i].seed)) for i in candidates
        }
        order = list(candidates)
        for group in plan([specs[i] for i in order], [inits[i] for i in order]):
            idx = [order[g] for g in group]
            if len(idx) < 2:
                continue
            done = run_group([specs[i] for i in idx], [inits[i] for i in idx], progress)
            if done is None:
                continue
            for i, result in zip(idx, done, strict=True):
                results[i] = result
    for i, spec in enumerate(specs):
        if results[i] is None:
            results[i] = engine.run(spec, pm=pm, scenario=scenario)
            if progress is not None:
                progress(1)


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
