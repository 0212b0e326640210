"""The stepping loop: the one implementation of a step, for one run and for an ensemble of many.

A *unit of work* advances a run, or every live member of an ensemble at once, from the current
step to a given stop step: the steps between two observer calls. It is a pure function of its
:data:`Carry` (everything that changes while stepping) built once per set of components by
:func:`make_unit`::

    carry, event = unit(carry, stop)

One step inside it is: the estimator picks a batch → the objective gives loss and gradients →
the fates are checked (divergence, gradient tolerance) → the gradient transforms → the schedule
gives the learning rate → the update rule moves the parameters → the epoch counter (a schedule
that monitors metrics receives them at an epoch's end) → the step-size tolerance.

The unit returns early with an :data:`Event` when some member's fate changes (its loss is not
acceptable, its gradient or its step is within tolerance), or after a step that ends an epoch
when asked to. What to do then is the caller's business, and it is the only thing that differs
between one run and an ensemble: :func:`gdsim.engine.run` ends the run and calls its observers,
:func:`gdsim.ensemble.simulate` records the members that ended, removes their rows from the
carry and goes on with the others. The fate checks themselves are the other seam
(:class:`Checks`): :func:`scalar_checks` for one run (plain comparisons, no numpy reductions on
the hot path), :func:`member_checks` for an ensemble (the rows concerned, as an index array).

A divergence or gradient event interrupts a step after its loss and gradient were computed: the
carry's ``phase`` says how far the step got (1: loss checked, 2: gradient checked too), so that
after the caller removed members the unit resumes the same step with the rows of the others,
without evaluating the objective again.

This is also where a compiled backend plugs in: a unit is the largest piece of work that sees
no Python observer, so :mod:`gdsim.backends` can replace :func:`make_unit` with a compiled loop
over the same carry (``backend = "jax"``: :func:`gdsim.backends.jax_unit.make_unit` for an
ensemble, :func:`gdsim.backends.jax_run.make_unit` for a run that steps alone), and the engine
and the ensemble keep their bookkeeping unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from gdsim.components import EpochMetrics
from gdsim.state import Params, global_norm

Carry = tuple[Any, ...]
"""Everything that changes while stepping, as a plain tuple (cheap to pass on every unit), in
the order of :data:`CARRY_FIELDS`."""

CARRY_FIELDS = (
    "step",
    "epoch",
    "params",
    "prev_params",
    "prev_loss",
    "rule_state",
    "schedule_state",
    "estimator_state",
    "transform_states",
    "loss",
    "grads",
    "raw_grads",
    "lr",
    "batch",
    "ends_epoch",
    "phase",
)
"""``loss``, ``grads``, ``raw_grads``, ``lr``, ``batch`` and ``ends_epoch`` belong to the last
step (completed, or interrupted when ``phase`` > 0); ``prev_params``/``prev_loss`` are where it
started. ``transform_states`` is a list updated in place (checkpoints read it)."""

DIVERGED = "diverged"
GRAD_NORM = "gradient norm"
STEP_SIZE = "step size"

Event = tuple[str, Any]
"""``(kind, rows)``: which fate changed (:data:`DIVERGED`, :data:`GRAD_NORM`,
:data:`STEP_SIZE`) and for which members (an index array; ``True`` for a single run)."""

Unit = Callable[[Carry, int], tuple[Carry, Event | None]]


def start(
    params: Params,
    rule_state: Any,
    schedule_state: Any,
    estimator_state: Any,
    transform_states: list[Any],
    step: int = 0,
    epoch: int = 0,
    prev_params: Params | None = None,
    prev_loss: Any = None,
) -> Carry:
    """The carry of a run (or ensemble) about to take step ``step``."""
    return (
        step,
        epoch,
        params,
        params if prev_params is None else prev_params,
        prev_loss,
        rule_state,
        schedule_state,
        estimator_state,
        transform_states,
        None,
        None,
        None,
        None,
        None,
        False,
        0,
    )


@attrs.frozen
class Checks:
    """The fate checks of one unit; each returns None (nobody's fate changed) or the rows.

    ``loss_bad(loss, grads)``: the members whose loss is not finite or exceeds ``max_loss``.
    ``grad_done(grads)`` / ``step_done(params, prev_params)``: the members within the gradient
    norm or step size tolerance (None when no member has that tolerance).
    """

    loss_bad: Callable[[Any, Params], Any]
    grad_done: Callable[[Params], Any] | None = None
    step_done: Callable[[Params, Params], Any] | None = None


def scalar_checks(max_loss: float, grad_tol: float | None, step_tol: float | None) -> Checks:
    """The checks of a single run: plain comparisons, ``True`` when the fate changed."""

    def loss_bad(loss: Any, grads: Params) -> Any:
        return None if abs(loss) <= max_loss else True  # NaN fails the comparison too

    def grad_done(grads: Params) -> Any:
        return True if global_norm(grads) <= grad_tol else None

    def step_done(params: Params, prev: Params) -> Any:
        moved = {k: params[k] - prev[k] for k in params}
        return True if global_norm(moved) <= step_tol else None

    return Checks(
        loss_bad,
        None if grad_tol is None else grad_done,
        None if step_tol is None else step_done,
    )


class NotElementwise(Exception):
    """A component declared elementwise did not keep one row per member."""


def member_checks(
    size: int,
    params: Params,
    max_loss: float | np.ndarray,
    grad_tol: float | np.ndarray | None,
    step_tol: float | np.ndarray | None,
) -> Checks:
    """The checks of ``size`` live members (tolerances scalars or one value per live member).

    The loss check also makes sure the objective kept one row per member (raising
    :class:`NotElementwise` otherwise), so a component that wrongly claims to be elementwise
    is caught at the first step instead of mixing members.
    """
    shapes = [(k, np.shape(v)) for k, v in params.items()]
    row = (size,)

    def per_row(loss: Any, grads: Params) -> None:
        if np.shape(loss) != row or any(np.shape(grads.get(k)) != s for k, s in shapes):
            raise NotElementwise("the objective mixes ensemble members")

    if isinstance(max_loss, np.ndarray):

        def loss_bad(loss: Any, grads: Params) -> Any:
            per_row(loss, grads)
            ok = np.abs(loss) <= max_loss
            return None if ok.all() else np.flatnonzero(~ok)

    else:

        def loss_bad(loss: Any, grads: Params) -> Any:
            per_row(loss, grads)
            # two read-only reductions; NaN makes them fail too
            if np.max(loss) <= max_loss and np.min(loss) >= -max_loss:
                return None
            return np.flatnonzero(~(np.abs(loss) <= max_loss))

    def within(tol: Any) -> Callable[[Any], Any]:
        def rows(norms: Any) -> Any:
            mask = norms <= tol  # a NaN tolerance: never
            return np.flatnonzero(mask) if mask.any() else None

        return rows

    grad_done = step_done = None
    if grad_tol is not None and np.any(~np.isnan(grad_tol)):
        grad_rows = within(grad_tol)

        def grad_done(grads: Params) -> Any:
            return grad_rows(global_norm(grads, ensemble=True))

    if step_tol is not None and np.any(~np.isnan(step_tol)):
        step_rows = within(step_tol)

        def step_done(params: Params, prev: Params) -> Any:
            moved = {k: params[k] - prev[k] for k in params}
            return step_rows(global_norm(moved, ensemble=True))

    return Checks(loss_bad, grad_done, step_done)


def make_unit(
    objective: Any,
    estimator: Any,
    rule: Any,
    schedule: Any,
    transforms: Sequence[Any],
    rng: np.random.Generator | None,
    checks: Checks,
    stop_at_epoch: bool = False,
) -> Unit:
    """The unit of work of these components: ``unit(carry, stop) → (carry, event)``.

    It steps until ``stop`` steps are done, a fate changes (an :data:`Event`), or — with
    ``stop_at_epoch`` — a step ends an epoch (for epoch observers).
    """
    value_and_grad = objective.value_and_grad
    next_batch = estimator.next_batch
    learning_rate = schedule.learning_rate
    update = rule.update
    applies = [(i, t.apply) for i, t in enumerate(transforms)]
    monitored = tuple(schedule.monitors(objective))
    observe = schedule.observe
    loss_bad, grad_done, step_done = checks.loss_bad, checks.grad_done, checks.step_done

    def unit(carry: Carry, stop: int) -> tuple[Carry, Event | None]:
        (
            step,
            epoch,
            params,
            prev_params,
            prev_loss,
            rule_state,
            schedule_state,
            estimator_state,
            transform_states,
            loss,
            grads,
            raw_grads,
            lr,
            batch,
            ends_epoch,
            phase,
        ) = carry
        event = None
        while step < stop:
            if phase == 0:
                batch, estimator_state, ends_epoch = next_batch(estimator_state, rng)
                loss, grads = value_and_grad(params, batch)
                rows = loss_bad(loss, grads)
                if rows is not None:
                    event, phase = (DIVERGED, rows), 1
                    break
            if phase < 2 and grad_done is not None:
                rows = grad_done(grads)
                if rows is not None:
                    event, phase = (GRAD_NORM, rows), 2
                    break
            phase = 0
            raw_grads = grads
            for i, apply in applies:
                grads, transform_states[i] = apply(grads, transform_states[i], params)
            lr, schedule_state = learning_rate(schedule_state, step, grads, loss)
            new_params, rule_state = update(grads, rule_state, params, lr)
            prev_params, prev_loss = params, loss
            params = new_params
            step += 1
            if ends_epoch:
                epoch += 1
                if monitored:
                    metrics = EpochMetrics(objective, params, monitored)
                    schedule_state = observe(schedule_state, epoch, metrics)
            if step_done is not None:
                rows = step_done(params, prev_params)
                if rows is not None:
                    event = (STEP_SIZE, rows)
                    break
            if ends_epoch and stop_at_epoch:
                break
        return (
            step,
            epoch,
            params,
            prev_params,
            prev_loss,
            rule_state,
            schedule_state,
            estimator_state,
            transform_states,
            loss,
            grads,
            raw_grads,
            lr,
            batch,
            ends_epoch,
            phase,
        ), event

    return unit
