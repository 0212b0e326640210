"""A swept entry stepped as one ensemble straight from its index columns.

:class:`gdsim.runs.SweepRuns` keeps a sweep as a template run, the validated *parts* each axis
value contributes and the points' value indices. When the template can join an ensemble and
every part is one an ensemble takes as arrays (a component whose values differ only in float
parameters, a step budget or ``max_loss`` per point, tolerances, a starting point, whether
divergence is allowed), the inputs of :func:`gdsim.ensemble.simulate` are gathered from the
index columns with numpy: one table per axis value (or combination of axes), indexed by the
points. No run object is made; the outcome comes back as
:class:`gdsim.results.ResultColumns`. Since the arrays are those :func:`gdsim.ensemble.run_group`
would stack from the runs made one by one, the results are the same bit for bit
(``tests/test_columnar.py``). Anything else (a swept seed, a component whose structure
changes with the value, observers, expectations, plugin hooks watching runs) returns None and
the entry's runs go the usual way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim import ensemble
from gdsim.backends import BackendError
from gdsim.results import ResultColumns
from gdsim.runs import Built, Number, StartingPoint, SweepRuns, Tolerances

if TYPE_CHECKING:
    import pluggy

SLOTS = {"rule": 0, "schedule": 1}
"""The :func:`gdsim.ensemble.simulate` hyperparameter slot of a component field (transforms
follow from 2)."""


class _Refused(Exception):
    """This sweep cannot be stepped from its columns (its runs go the usual way)."""


def run_sweep(
    entry: SweepRuns,
    pm: pluggy.PluginManager | None = None,
    progress: Callable[[int], None] | None = None,
) -> ResultColumns | None:
    """Step every point of ``entry`` as one ensemble built from its columns; None when it
    cannot be (see the module's docstring), and nothing has been run then."""
    try:
        inputs = sweep_inputs(entry, pm)
    except _Refused:
        return None
    allowed = inputs.pop("allowed")
    started = time.perf_counter()
    try:
        outcome = ensemble.simulate(**inputs, progress=progress)
    except BackendError as exc:  # a component the backend cannot run: the user must choose
        raise BackendError(f"run '{entry.template.name}': {exc}") from None
    except Exception:
        return None  # as run_group: the runs stepped one by one give the same results
    elapsed = (time.perf_counter() - started) / max(len(entry), 1)
    return ResultColumns.from_outcome(outcome, elapsed, allowed)


def sweep_inputs(entry: SweepRuns, pm: pluggy.PluginManager | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`gdsim.ensemble.simulate` for ``entry``'s points (plus
    ``allowed``: whether divergence is allowed, per point or for all); raises
    :class:`_Refused` when the entry cannot be stepped from its columns."""
    template = entry.template
    if len(entry) < 2 or ensemble.hooks_watch_runs(pm) or ensemble.why_not(template) is not None:
        raise _Refused
    if template.observers or template.init_from is not None or _expects(template):
        raise _Refused
    points = np.asarray(entry.sweep.points)
    inputs: dict[str, Any] = {
        "objective": template.objective,
        "rule": template.rule,
        "schedule": template.schedule,
        "transforms": template.transforms,
        "steps": template.steps,
        "max_loss": template.max_loss,
        "grad_norm": template.tolerance.grad_norm,
        "step_size": template.tolerance.step_size,
    }
    allowed: Any = bool(template.allow_divergence)
    params = _initial_params(entry, points)
    ndims = {np.ndim(v) - 1 for v in params.values()}
    hyper: list[tuple[int, Any, np.ndarray]] = []
    for part in entry.parts:
        if isinstance(part, Number):
            if part.field not in ("steps", "max_loss"):
                raise _Refused  # a seed: each point draws its own defaults
            dtype = np.int64 if part.field == "steps" else np.float64
            inputs[part.field] = np.asarray(part.values, dtype=dtype)[points[:, part.axis]]
        elif isinstance(part, Tolerances):
            for key, values, axis in part.columns:
                if key not in ("grad_norm", "step_size"):
                    raise _Refused
                table = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
                inputs[key] = table[points[:, axis]]
        elif isinstance(part, StartingPoint):
            continue  # in params already
        elif isinstance(part, Built):
            if part.field == "allow_divergence":
                index, keys = _gather(part, points, entry)
                allowed = np.array([bool(part.built[k]) for k in keys])[index]
            elif part.field == "transforms":
                for t in range(len(template.transforms)):
                    hyper += _hyper(part, points, entry, 2 + t, ndims, lambda v, t=t: v[t])
            elif part.field in SLOTS:
                hyper += _hyper(part, points, entry, SLOTS[part.field], ndims, lambda v: v)
            else:
                raise _Refused  # an estimator or observers per value
        else:
            raise _Refused
    inputs["params"] = params
    inputs["hyper"] = hyper
    inputs["allowed"] = allowed
    return inputs


def _expects(spec: Any) -> bool:
    """Whether the run has expectations of its own (they are then checked run by run)."""
    from gdsim.scenario import Expectations

    return spec.expect != Expectations()


def _gather(part: Any, points: np.ndarray, entry: SweepRuns) -> tuple[np.ndarray, list[Any]]:
    """For a part built per value of its axes: each point's position in the returned keys."""
    axes = list(part.axes)
    dims = [len(entry.sweep.axes[a].values) for a in axes]
    keys = list(part.built)
    lut = np.full(int(np.prod(dims)), -1, dtype=np.int64)
    for position, key in enumerate(keys):
        lut[np.ravel_multi_index(key, dims)] = position
    index = lut[np.ravel_multi_index(tuple(points[:, axes].T), dims)]
    if (index < 0).any():
        raise _Refused  # a point whose value was refused: let the runs report it
    return index, keys


def _hyper(
    part: Built,
    points: np.ndarray,
    entry: SweepRuns,
    slot: int,
    ndims: set[int],
    pick: Callable[[Any], Any],
) -> list[tuple[int, Any, np.ndarray]]:
    """Per-member arrays of the float parameters in which the built components differ
    (:func:`gdsim.ensemble.run_group`'s checks: same structure, plain numbers, nothing
    derived from them when built, one parameter rank)."""
    index, keys = _gather(part, points, entry)
    components = [pick(part.built[k]) for k in keys]
    first = pick(getattr(entry.template, part.field))
    structure = ensemble._structure(first)
    if any(ensemble._structure(c) != structure for c in components):
        raise _Refused
    used = np.unique(index)
    out = []
    for path in ensemble._float_paths(first):
        values = [ensemble._at(components[j], path) for j in used.tolist()]
        if all(v == ensemble._at(first, path) for v in values):
            continue  # the template's own value (a slice of a sweep may hold one value)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise _Refused
        owners = [ensemble._at(first, path[:i]) for i in range(len(path))]
        owners = [o for i, o in enumerate(owners) if not isinstance(path[i], int)]
        if any(ensemble._derives_values(type(o)) for o in owners):
            raise _Refused
        if len(ndims) != 1:
            raise _Refused
        (ndim,) = ndims
        table = np.zeros(len(components), dtype=np.float64)
        table[used] = np.array(values, dtype=np.float64)
        array = table[index].reshape((len(points),) + (1,) * ndim)
        out.append((slot, path[0] if len(path) == 1 else path, array))
    return out


def _initial_params(entry: SweepRuns, points: np.ndarray) -> dict[str, np.ndarray]:
    """Every point's starting parameters, stacked: the objective's defaults (one draw, the
    template's seed), the template's ``init``, the swept starting values gathered per point."""
    template = entry.template
    size = len(points)
    base = template.objective.init(np.random.default_rng(template.seed))
    for name, value in template.init.items():
        base[name] = np.array(value, dtype=np.float64)
    swept: dict[str, np.ndarray] = {}
    for part in entry.parts:
        if isinstance(part, StartingPoint):
            for name, raw, axes in part.params:
                swept[name] = _starting_values(name, raw, axes, points)
    params = {}
    for name, value in base.items():
        value = np.asarray(value, dtype=np.float64)
        if name in swept:
            if swept[name].shape[1:] != value.shape:
                raise _Refused  # starting points of another shape: groups of their own
            params[name] = swept[name]
        else:
            params[name] = np.repeat(value[None], size, axis=0)
    return params


def _starting_values(
    name: str, raw: Any, axes: Sequence[tuple[str, Sequence[Any], int]], points: np.ndarray
) -> np.ndarray:
    """Parameter ``name`` at every point: the axis values themselves for ``init.NAME = {…}``,
    otherwise the table filled in once per combination of values the points use."""
    from gdsim.sweep import _substitute

    if len(axes) == 1 and axes[0][0] == f"init.{name}":
        _, values, a = axes[0]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.float64)[points[:, a]]
    columns = [a for _, _, a in axes]
    combos, index = np.unique(points[:, columns], axis=0, return_inverse=True)
    made = []
    for combo in combos.tolist():
        values = {path: vals[j] for (path, vals, _), j in zip(axes, combo, strict=True)}
        made.append(np.array(_substitute(raw, f"init.{name}", values), dtype=np.float64))
    if len({m.shape for m in made}) != 1:
        raise _Refused
    return np.stack(made)[np.asarray(index).reshape(-1)]
