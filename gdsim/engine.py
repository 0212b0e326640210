"""The event-driven engine: steps one run and tells its observers what happened.

One step is: the estimator picks a batch → the objective gives loss and gradients → the gradient
transforms rewrite the gradient → the schedule gives the learning rate → the update rule moves the
parameters → the due observers are called; after a step that ends an epoch, a schedule that
monitors metrics (reduce-on-plateau) first receives them. A run ends on its step budget, a
tolerance (gradient norm or step size), an observer's request, or divergence (a non-finite loss
or one whose magnitude exceeds ``max_loss``), which gives status ``diverged`` with the step,
never a crash.

Observers are called directly, filtered by their ``every``; the plugin event hooks are fired once
per run (and per step only when some plugin implements ``gdsim_step_completed``), so the hot path
costs no hook dispatch per observer per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim import loop
from gdsim.components import (
    ComponentState,
    Estimator,
    GradientTransform,
    Objective,
    Observer,
    Schedule,
    UpdateRule,
    overrides,
)
from gdsim.state import Params, State, all_finite

if TYPE_CHECKING:
    import pluggy

    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec, Scenario

STATUS_COMPLETED = "completed"
STATUS_CONVERGED = "converged"
STATUS_STOPPED = "stopped"
STATUS_DIVERGED = "diverged"
STATUS_ERROR = "error"
"""A run that raised: its result carries the message (never an expected status)."""
STATUSES = (STATUS_COMPLETED, STATUS_CONVERGED, STATUS_STOPPED, "stopped_early", STATUS_DIVERGED)


@attrs.define(eq=False)
class RunContext:
    """What observers and event hooks see of a run; also everything a checkpoint must save.

    ``loss``, ``grads`` and ``lr`` belong to the step just completed: the loss and gradient at the
    parameters the step started from, and the learning rate it used. ``params`` are the
    parameters after the step. ``prev_params`` (before the step), ``raw_grads`` (before the
    gradient transforms) and ``batch`` (the estimator's sample indices, None for all) are set
    only on steps that some observer sees.
    """

    spec: RunSpec
    objective: Objective
    estimator: Estimator
    rule: UpdateRule
    transforms: list[GradientTransform]
    schedule: Schedule
    observers: list[Observer]
    state: State
    rule_state: ComponentState
    schedule_state: ComponentState
    estimator_state: ComponentState
    transform_states: list[ComponentState]
    loss: Any = None
    grads: Params | None = None
    lr: Any = None
    stop_status: str | None = None
    stop_reason: str | None = None
    diverged_at: int | None = None
    final_params: Params | None = None
    final_loss: Any = None
    final_step: int = 0
    prev_params: Params | None = None
    """The parameters the last step started from (kept for checkpoints; None at step 0)."""
    prev_loss: Any = None
    scenario: Any = None
    """The :class:`gdsim.scenario.Scenario` the run belongs to, when known (for checkpoints)."""
    raw_grads: Params | None = None
    """The gradient of the last step before the transforms rewrote it (for diagnostics)."""
    batch: Any = None
    """The batch the last step saw (None: all samples)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def params(self) -> Params:
        return self.state.params

    def request_stop(self, reason: str, status: str = STATUS_STOPPED) -> None:
        """Ask the engine to end the run after the current step with ``status``."""
        if self.stop_status is None:
            self.stop_status = status
            self.stop_reason = reason


def start_run(spec: RunSpec) -> RunContext:
    """Build the components' fresh states and the parameter state at step 0."""
    rng = np.random.default_rng(spec.seed)
    objective = spec.objective
    params = spec.initial_params(rng)
    state = State(params=params, rng=rng)
    return RunContext(
        spec=spec,
        objective=objective,
        estimator=spec.estimator,
        rule=spec.rule,
        transforms=list(spec.transforms),
        schedule=spec.schedule,
        observers=[attrs.evolve(obs) for obs in spec.observers],
        state=state,
        rule_state=spec.rule.init(params),
        schedule_state=spec.schedule.init(),
        estimator_state=spec.estimator.init(objective, state.rng),
        transform_states=[t.init(params) for t in spec.transforms],
    )


def run(
    spec: RunSpec,
    pm: pluggy.PluginManager | None = None,
    context: RunContext | None = None,
    scenario: Scenario | None = None,
) -> RunResult:
    """Run one scenario run to its end and return its result (``context`` resumes a run).

    ``scenario`` is the scenario the run belongs to; observers that save it (checkpoints) need it.
    An exception out of a component or an observer ends the run with status ``error`` and its
    message (:meth:`gdsim.results.RunResult.failed`), so one failing run of a sweep costs no
    other run its result; KeyboardInterrupt and SystemExit still propagate.
    """
    from gdsim.results import RunResult  # local: results imports the scenario types

    ctx = None
    started = time.perf_counter()
    try:
        ctx = context if context is not None else start_run(spec)
        if scenario is not None and ctx.scenario is None:
            ctx.scenario = scenario
        return _run(ctx, pm)
    except Exception as exc:
        return RunResult.failed(spec, exc, ctx, elapsed=time.perf_counter() - started)


def _run(ctx: RunContext, pm: pluggy.PluginManager | None) -> RunResult:
    from gdsim.results import RunResult

    started = time.perf_counter()
    hook = pm.hook if pm is not None else None
    for obs in ctx.observers:
        obs.run_started(ctx)
    if hook is not None:
        hook.gdsim_run_started(run=ctx)

    # overflow and NaN are what divergence is made of: reported as a status, not as warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _loop(ctx, hook)

    if ctx.stop_status == STATUS_DIVERGED:
        for obs in ctx.observers:
            obs.diverged(ctx)
        if hook is not None:
            hook.gdsim_diverged(run=ctx)
    result = RunResult.from_context(ctx, elapsed=time.perf_counter() - started)
    for obs in ctx.observers:
        obs.run_completed(ctx, result)
    result.outputs = {
        f"{i}:{obs.name}" if _duplicate_names(ctx.observers, obs) else obs.name: obs.outputs()
        for i, obs in enumerate(ctx.observers)
    }
    if hook is not None:
        hook.gdsim_run_completed(run=ctx, result=result)
    return result


def _duplicate_names(observers: list[Observer], obs: Observer) -> bool:
    return sum(1 for o in observers if o.name == obs.name) > 1


def _loop(ctx: RunContext, hook: Any) -> None:
    """Drive the run's unit of work (:mod:`gdsim.loop`) from one observer call to the next.

    A unit steps until the next step some observer is due at (or the budget); this function
    turns the unit's events into the run's fate and calls the due observers.
    """
    spec = ctx.spec
    state = ctx.state
    budget = spec.steps
    grad_tol = spec.tolerance.grad_norm
    step_tol = spec.tolerance.step_size

    step_observers: list[tuple[int, Callable[[RunContext], None]]] = [
        (max(1, int(getattr(obs, "every", 1))), obs.step_completed)
        for obs in ctx.observers
        if overrides(obs, Observer, "step_completed") and not getattr(obs, "runs_last", False)
    ]
    # observers that must see every other observer's state of the step (checkpoints) go last
    last_observers = [
        (max(1, int(getattr(obs, "every", 1))), obs.step_completed)
        for obs in ctx.observers
        if overrides(obs, Observer, "step_completed") and getattr(obs, "runs_last", False)
    ]
    if hook is not None and hook.gdsim_step_completed.get_hookimpls():
        step_observers.append((1, lambda run: hook.gdsim_step_completed(run=run)))
    epoch_observers = [obs for obs in ctx.observers if overrides(obs, Observer, "epoch_completed")]
    fire_epoch_hook = hook is not None and bool(hook.gdsim_epoch_completed.get_hookimpls())
    everys = sorted({every for every, _ in step_observers + last_observers})
    watched = bool(step_observers or last_observers)

    stop_at_epoch = bool(epoch_observers or fire_epoch_hook)
    unit = _compiled_unit(ctx, stop_at_epoch)
    if unit is None:
        unit = loop.make_unit(
            ctx.objective,
            ctx.estimator,
            ctx.rule,
            ctx.schedule,
            ctx.transforms,
            state.rng,
            loop.scalar_checks(spec.max_loss, grad_tol, step_tol),
            stop_at_epoch=stop_at_epoch,
        )
    carry = loop.start(
        state.params,
        ctx.rule_state,
        ctx.schedule_state,
        ctx.estimator_state,
        ctx.transform_states,  # updated in place: checkpoints read it from ctx
        step=state.step,
        epoch=state.epoch,
        prev_params=ctx.prev_params,  # None unless resumed from a checkpoint
        prev_loss=ctx.prev_loss,
    )
    step = state.step
    if ctx.stop_status is not None:  # resumed from a checkpoint of a run that had ended
        budget = step

    while step < budget:
        stop = budget
        for every in everys:
            due = step - step % every + every
            if due < stop:
                stop = due
        carry, event = unit(carry, stop)
        (step, epoch, params, prev_params, prev_loss, rule_state, schedule_state) = carry[:7]
        converged = False
        if event is not None:
            kind = event[0]
            if kind == loop.DIVERGED:
                ctx.diverged_at = step
                ctx.stop_status = STATUS_DIVERGED
                ctx.stop_reason = f"loss became {float(carry[9])!r} at step {step}"
                break
            if kind == loop.GRAD_NORM:
                ctx.loss, ctx.grads = carry[9], carry[10]
                ctx.stop_status = STATUS_CONVERGED
                ctx.stop_reason = f"gradient norm <= {grad_tol:g}"
                break
            # decided before the observers run, so that a checkpoint taken now records it
            converged = True
            ctx.request_stop(f"step size <= {step_tol:g}", STATUS_CONVERGED)
        ends_epoch = carry[14]
        if watched or (ends_epoch and (epoch_observers or fire_epoch_hook)):
            state.params, state.step, state.epoch = params, step, epoch
            ctx.rule_state, ctx.schedule_state = rule_state, schedule_state
            ctx.estimator_state = carry[7]
            ctx.loss, ctx.grads, ctx.raw_grads, ctx.lr, ctx.batch = carry[9:14]
            ctx.prev_params, ctx.prev_loss = prev_params, prev_loss
            for every, notify in step_observers:
                if step % every == 0 or step == budget:
                    notify(ctx)
            if ends_epoch:
                for obs in epoch_observers:
                    obs.epoch_completed(ctx)
                if fire_epoch_hook:
                    hook.gdsim_epoch_completed(run=ctx)
            for every, notify in last_observers:
                if step % every == 0 or step == budget:
                    notify(ctx)
            if ctx.stop_status is not None:
                break
        if converged:
            break

    (step, epoch, params, prev_params, prev_loss, rule_state, schedule_state) = carry[:7]
    state.params, state.step, state.epoch = params, step, epoch
    ctx.rule_state, ctx.schedule_state = rule_state, schedule_state
    ctx.estimator_state = carry[7]
    ctx.prev_params, ctx.prev_loss = prev_params, prev_loss
    _finish(ctx, prev_params, prev_loss)


def _compiled_unit(ctx: RunContext, stop_at_epoch: bool) -> loop.Unit | None:
    """The run's unit on the backend in force when that backend compiles single runs
    (``backend = "jax"``: :mod:`gdsim.backends.jax_run`); None: numpy's loop."""
    from gdsim import backends

    if backends.current() == "numpy":
        return None
    return backends.get_backend().run_unit(ctx, stop_at_epoch)


def _finish(ctx: RunContext, prev_params: Params, prev_loss: Any) -> None:
    """Fix the run's final values; a diverged run reports its last finite iterate."""
    state = ctx.state
    if ctx.stop_status == STATUS_DIVERGED:
        step = ctx.diverged_at or 0
        ctx.final_params = prev_params if step > 0 else state.params
        ctx.final_loss = prev_loss
        ctx.final_step = max(step - 1, 0)
        return
    final_loss = ctx.objective.value(state.params, None)
    if not abs(final_loss) <= ctx.spec.max_loss or not all_finite(state.params):
        ctx.diverged_at = state.step
        ctx.stop_status = STATUS_DIVERGED
        ctx.stop_reason = f"loss became {float(final_loss)!r} at step {state.step}"
        ctx.final_params = prev_params
        ctx.final_loss = prev_loss
        ctx.final_step = max(state.step - 1, 0)
        return
    if ctx.stop_status is None:
        ctx.stop_status = STATUS_COMPLETED
    ctx.final_params = state.params
    ctx.final_loss = final_loss
    ctx.final_step = state.step
