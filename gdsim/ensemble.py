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
import time
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim import engine
from gdsim.components import Component
from gdsim.estimators import FullBatch
from gdsim.state import Params, global_norm

if TYPE_CHECKING:
    import pluggy

    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec

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


@attrs.define
class Outcome:
    """Per-member results of an ensemble, as arrays (row i is member i)."""

    status: np.ndarray
    """Status strings (object array)."""
    steps: np.ndarray
    epochs: np.ndarray
    final_step: np.ndarray
    diverged_at: np.ndarray
    """-1 where the member did not diverge."""
    final_params: dict[str, np.ndarray]
    final_loss: np.ndarray
    """NaN where there is no finite loss (diverged at step 0)."""
    has_loss: np.ndarray
    reasons: dict[int, str]
    """Stop reason of each member that has one."""

    def __len__(self) -> int:
        return len(self.status)


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
    hyper: Sequence[tuple[int, str, np.ndarray]] = (),
    progress: Progress | None = None,
) -> Outcome:
    """Step an ensemble (leading axis of every parameter) to the end of every member.

    ``steps``, ``max_loss``, ``grad_norm`` and ``step_size`` are scalars or per-member arrays
    (``grad_norm``/``step_size`` NaN: no tolerance). ``hyper`` lists per-member hyperparameter
    arrays as ``(slot, field, array)``, slot 0 the rule, 1 the schedule, 2+ the transforms;
    they are attached to the components here and follow the members when some end.
    """
    names = list(params)
    size = int(np.shape(params[names[0]])[0])
    full = np.arange(size)

    def per_member(value: Any, fill: float) -> np.ndarray:
        if value is None:
            return np.full(size, fill)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (size,)).copy()

    budget = per_member(steps, 0).astype(np.int64)
    max_loss_m = per_member(max_loss, 1e100)
    grad_tol = per_member(grad_norm, np.nan)
    step_tol = per_member(step_size, np.nan)
    uniform_max_loss = bool(np.all(max_loss_m == max_loss_m[0]))

    out = Outcome(
        status=np.full(size, engine.STATUS_COMPLETED, dtype=object),
        steps=np.zeros(size, dtype=np.int64),
        epochs=np.zeros(size, dtype=np.int64),
        final_step=np.zeros(size, dtype=np.int64),
        diverged_at=np.full(size, -1, dtype=np.int64),
        final_params={k: np.empty_like(np.asarray(v, dtype=np.float64)) for k, v in params.items()},
        final_loss=np.full(size, np.nan),
        has_loss=np.zeros(size, dtype=bool),
        reasons={},
    )

    comps = [rule, schedule, *transforms]
    hyper_full = list(hyper)

    def attach(rows: np.ndarray | None) -> None:
        by_slot: dict[int, dict[str, np.ndarray]] = {}
        for slot, field, array in hyper_full:
            by_slot.setdefault(slot, {})[field] = array if rows is None else array[rows]
        for slot, values in by_slot.items():
            comps[slot] = with_values(comps[slot], values)

    attach(None)
    members = full  # original index of each live row
    rule_state = comps[0].init(params)
    schedule_state = comps[1].init()
    transform_states = [t.init(params) for t in comps[2:]]
    step = 0
    prev_params: Params = params
    prev_loss: Any = None
    min_budget = int(budget.min()) if size else 0
    any_grad_tol = bool(np.any(~np.isnan(grad_tol)))
    any_step_tol = bool(np.any(~np.isnan(step_tol)))

    def store(rows: np.ndarray, values: Params, losses: Any, has: bool) -> None:
        idx = members[rows]
        for k in names:
            out.final_params[k][idx] = values[k][rows]
        if has:
            out.final_loss[idx] = losses[rows] if np.ndim(losses) else losses
        out.has_loss[idx] = has

    def finish(rows: np.ndarray, status: str, reason: str | None) -> None:
        """The engine's ``_finish`` for members ending without divergence at ``step``."""
        everyone = len(rows) == len(members)
        sub = params if everyone else {k: v[rows] for k, v in params.items()}
        idx = members if everyone else members[rows]
        final_loss = objective.value(sub, None)
        ok = np.abs(final_loss) <= max_loss_m[idx]
        for v in sub.values():
            ok &= np.isfinite(v).reshape(len(idx), -1).all(axis=1)
        out.steps[idx] = step
        out.epochs[idx] = step
        if ok.all():
            out.status[idx] = status
            out.final_step[idx] = step
            for k in names:
                out.final_params[k][idx] = sub[k]
            out.final_loss[idx] = final_loss
            out.has_loss[idx] = True
            if reason is not None:
                out.reasons.update(dict.fromkeys(idx.tolist(), reason))
            return
        bad = ~ok
        b = rows[bad]
        out.status[members[b]] = engine.STATUS_DIVERGED
        out.diverged_at[members[b]] = step
        out.final_step[members[b]] = max(step - 1, 0)
        store(b, prev_params, prev_loss, prev_loss is not None)
        for j, i in zip(np.flatnonzero(bad), members[b], strict=True):
            out.reasons[int(i)] = f"loss became {float(final_loss[j])!r} at step {step}"
        if ok.any():
            g = rows[ok]
            idx_g = members[g]
            out.status[idx_g] = status
            out.final_step[idx_g] = step
            for k in names:
                out.final_params[k][idx_g] = sub[k][ok]
            out.final_loss[idx_g] = final_loss[ok]
            out.has_loss[idx_g] = True
            if reason is not None:
                out.reasons.update(dict.fromkeys(idx_g.tolist(), reason))

    with np.errstate(all="ignore"):
        while len(members):
            ending = None
            if step >= min_budget:
                ending = np.flatnonzero(budget[members] <= step)
                if len(ending):
                    finish(ending, engine.STATUS_COMPLETED, None)
            if ending is not None and len(ending):
                keep = np.flatnonzero(budget[members] > step)
                if progress is not None:
                    progress(len(ending))
                members, params, prev_params, prev_loss = _compact(
                    keep, members, params, prev_params, prev_loss
                )
                rule_state, schedule_state, transform_states = _compact_states(
                    keep, len(ending) + len(keep), rule_state, schedule_state, transform_states
                )
                attach(members)
                min_budget = int(budget[members].min()) if len(members) else 0
                if not len(members):
                    break

            loss, grads = objective.value_and_grad(params, None)
            if uniform_max_loss:  # two read-only reductions; NaN makes them fail too
                limit = max_loss_m[0]
                bad_any = not (np.max(loss) <= limit and np.min(loss) >= -limit)
            else:
                bad_any = not np.all(np.abs(loss) <= max_loss_m[members])
            stopped = []
            if bad_any:
                bad = np.flatnonzero(~(np.abs(loss) <= max_loss_m[members]))
                idx = members[bad]
                out.status[idx] = engine.STATUS_DIVERGED
                out.diverged_at[idx] = step
                out.steps[idx] = step
                out.epochs[idx] = step
                out.final_step[idx] = max(step - 1, 0)
                if step > 0:
                    store(bad, prev_params, prev_loss, True)
                else:
                    store(bad, params, None, False)
                for j, i in zip(bad, idx, strict=True):
                    out.reasons[int(i)] = f"loss became {float(loss[j])!r} at step {step}"
                stopped.append(bad)
            if any_grad_tol:
                norms = global_norm(grads, ensemble=True)
                tol = grad_tol[members]
                conv = norms <= tol
                if stopped:
                    conv[stopped[0]] = False
                if conv.any():
                    rows = np.flatnonzero(conv)
                    for value in np.unique(tol[rows]):
                        sel = rows[tol[rows] == value]
                        finish(sel, engine.STATUS_CONVERGED, f"gradient norm <= {value:g}")
                    stopped.append(rows)
            if stopped:
                gone = np.concatenate(stopped)
                keep = np.setdiff1d(np.arange(len(members)), gone)
                if progress is not None:
                    progress(len(gone))
                n = len(members)
                members, params, prev_params, prev_loss = _compact(
                    keep, members, params, prev_params, prev_loss
                )
                loss = loss[keep]
                grads = {k: v[keep] for k, v in grads.items()}
                rule_state, schedule_state, transform_states = _compact_states(
                    keep, n, rule_state, schedule_state, transform_states
                )
                attach(members)
                if not len(members):
                    break
                min_budget = int(budget[members].min())

            for i, transform in enumerate(comps[2:]):
                grads, transform_states[i] = transform.apply(grads, transform_states[i], params)
            lr, schedule_state = comps[1].learning_rate(schedule_state, step, grads, loss)
            new_params, rule_state = comps[0].update(grads, rule_state, params, lr)
            prev_params, prev_loss = params, loss
            params = new_params
            step += 1

            if any_step_tol:
                tol = step_tol[members]
                moved = global_norm({k: params[k] - prev_params[k] for k in names}, ensemble=True)
                conv = moved <= tol
                if conv.any():
                    rows = np.flatnonzero(conv)
                    for value in np.unique(tol[rows]):
                        sel = rows[tol[rows] == value]
                        finish(sel, engine.STATUS_CONVERGED, f"step size <= {value:g}")
                    keep = np.flatnonzero(~conv)
                    if progress is not None:
                        progress(len(rows))
                    n = len(members)
                    members, params, prev_params, prev_loss = _compact(
                        keep, members, params, prev_params, prev_loss
                    )
                    rule_state, schedule_state, transform_states = _compact_states(
                        keep, n, rule_state, schedule_state, transform_states
                    )
                    attach(members)
                    min_budget = int(budget[members].min()) if len(members) else 0
    return out


def _compact(
    keep: np.ndarray, members: np.ndarray, params: Params, prev_params: Params, prev_loss: Any
) -> tuple[np.ndarray, Params, Params, Any]:
    take = {k: v[keep] for k, v in params.items()}
    prev = take if prev_params is params else {k: v[keep] for k, v in prev_params.items()}
    if prev_loss is not None and np.ndim(prev_loss):
        prev_loss = prev_loss[keep]
    return members[keep], take, prev, prev_loss


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


def with_values(component: Any, values: dict[str, Any]) -> Any:
    """A copy of a frozen component with some fields replaced, bypassing their validators.

    Used to give a component per-member arrays in place of numbers; the numbers were validated
    when each run was loaded.
    """
    clone = copy.copy(component)
    for field, value in values.items():
        object.__setattr__(clone, field, value)
    return clone


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
    return None


def hooks_watch_runs(pm: pluggy.PluginManager | None) -> bool:
    """True when some plugin implements a run event hook (runs must then go one by one)."""
    if pm is None:
        return False
    return any(getattr(pm.hook, name).get_hookimpls() for name in EVENT_HOOKS)


def _float_fields(cls: type) -> set[str]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {f.name for f in attrs.fields(cls) if hints.get(f.name) is float}


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
        for comp in _components(spec):
            floats = _float_fields(type(comp))
            key.append(type(comp))
            key.append(
                tuple(
                    (f.name, _freeze(getattr(comp, f.name)))
                    for f in attrs.fields(type(comp))
                    if f.name not in floats
                )
            )
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
    hyper: list[tuple[int, str, np.ndarray]] = []
    for slot, comp in enumerate(_components(first)):
        for field in sorted(_float_fields(type(comp))):
            values = [getattr(_components(s)[slot], field) for s in specs]
            if all(v == values[0] for v in values):
                continue
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                return None
            if len(ndims) != 1:
                return None  # one array cannot broadcast against parameters of mixed rank
            (ndim,) = ndims
            array = np.array(values, dtype=np.float64).reshape((len(specs),) + (1,) * ndim)
            hyper.append((slot, field, array))
    params = {k: np.stack([np.asarray(p[k], dtype=np.float64) for p in inits]) for k in names}

    def column(get: Callable[[RunSpec], Any]) -> np.ndarray:
        return np.array([np.nan if get(s) is None else get(s) for s in specs], dtype=np.float64)

    started = time.perf_counter()
    outcome = simulate(
        first.objective,
        first.rule,
        first.schedule,
        params,
        np.array([s.steps for s in specs], dtype=np.int64),
        transforms=first.transforms,
        max_loss=column(lambda s: s.max_loss),
        grad_norm=column(lambda s: s.tolerance.grad_norm),
        step_size=column(lambda s: s.tolerance.step_size),
        hyper=hyper,
        progress=progress,
    )
    elapsed = (time.perf_counter() - started) / len(specs)
    results = []
    for i, spec in enumerate(specs):
        diverged = int(outcome.diverged_at[i])
        result = RunResult(
            name=spec.name,
            status=str(outcome.status[i]),
            steps=int(outcome.steps[i]),
            epochs=int(outcome.epochs[i]),
            final_params={k: np.array(outcome.final_params[k][i], dtype=np.float64) for k in names},
            final_loss=float(outcome.final_loss[i]) if outcome.has_loss[i] else None,
            final_step=int(outcome.final_step[i]),
            seed=spec.seed,
            stop_reason=outcome.reasons.get(i),
            diverged_at=diverged if diverged >= 0 else None,
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
) -> list[RunResult]:
    """Run every spec, as ensembles where possible, one by one otherwise; results in order."""
    results: list[RunResult | None] = [None] * len(specs)
    candidates: list[int] = []
    if vectorise and not hooks_watch_runs(pm):
        candidates = [i for i, s in enumerate(specs) if why_not(s) is None]
    chosen = set()
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
                chosen.add(i)
    for i, spec in enumerate(specs):
        if results[i] is None:
            results[i] = engine.run(spec, pm=pm)
            if progress is not None:
                progress(1)
    return [r for r in results if r is not None]


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
