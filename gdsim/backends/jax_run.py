"""The unit of work of one run (the engine's), compiled with JAX: :func:`gdsim.loop.make_unit`'s
contract for a run that steps alone, the network included.

``unit(carry, stop) -> (carry, event)`` steps the run from the carry's step to ``stop`` and
returns early with the events, step and phase of :func:`gdsim.loop.make_unit` with
:func:`gdsim.loop.scalar_checks`, so :func:`gdsim.engine.run` keeps every fate decision,
observer call and checkpoint on the host. The carry holds numpy values on both sides; inside:

1. **Batches from the host.** The estimator draws the unit's batches ahead with
   :meth:`~gdsim.components.Estimator.batches_ahead` from the run's numpy generator (the same
   indices as on the numpy backend). A window is an (m, B) index table, padded to a power of
   two of rows so that few shapes compile, and perhaps a short tail batch (the last one of an
   epoch), stepped in the same compiled call by a second loop of its own shape. A full-batch
   estimator draws nothing.
2. **One compiled loop with early exit.** A ``while_loop`` steps the table's rows and stops
   after the first step whose loss is not acceptable or whose gradient is within tolerance,
   whose size is within tolerance, or that ends an epoch when the unit must stop there. Every
   check is a 0-d comparison on the device; the host reads two numbers per call. The loop
   commits every step it takes (no per-step selects); after a loss or gradient event the host
   steps again from the same input (nothing is donated) up to the event step and then that
   step alone, to return where the numpy loop returns: phase 1 or 2, the step's loss and raw
   gradient kept, the parameters not moved. Such events end the run, so this costs two more
   calls once per run at most.
3. **The host's generator follows the steps taken.** When the loop stopped before the end of
   the window, the generator and the estimator state are put back to the window's start and
   exactly the steps taken are drawn again (the interrupted step's batch included), so the
   run's random state is the numpy backend's.
4. **Hyperparameters are arguments**, as in :mod:`gdsim.backends.jax_unit` (its
   :func:`~gdsim.backends.jax_unit.split`): a run with other learning rates, betas or
   tolerances reuses the compiled loop of the same structure; compiled loops are cached for
   the life of the process.

What stays on numpy whatever the backend (:func:`why_not`, logged with ``gdsim run -v``):
runs with a component written for numpy only, and schedules that read metrics at epoch ends
(reduce-on-plateau) — their ``observe`` is host code between steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gdsim import ensemble, loop
from gdsim.backends import jax_unit
from gdsim.batches import Batches
from gdsim.errors import GdsimError
from gdsim.estimators import FullBatch

MIN_TABLE_ROWS = 16
"""Index tables are padded to a power of two of rows, at least this many (fewer shapes)."""

MAX_WINDOW = 4096
"""Steps drawn ahead at most per window (bounds the index table's memory)."""

NONE, DIVERGED, GRAD_NORM, STEP_SIZE, EPOCH = 0, 1, 2, 3, 4
"""Why the compiled loop stopped early (NONE: it took every step it was given)."""

_KINDS = {DIVERGED: loop.DIVERGED, GRAD_NORM: loop.GRAD_NORM, STEP_SIZE: loop.STEP_SIZE}


def numpy_only(components: Sequence[Any]) -> str | None:
    """Which of ``components`` is written for numpy only (``array_api = False``, e.g. a
    plugin's), in words, or None. Its runs step on numpy on the jax backend, ensembles and
    runs alone alike, with a warning: a plain-numpy plugin keeps working everywhere."""
    for component in components:
        if getattr(component, "array_api", True) is False:
            kind = getattr(component, "kind", "component")
            name = getattr(component, "name", type(component).__name__)
            return f"{kind} '{name}' is written for numpy only (array_api = False)"
    return None


def why_not(objective: Any, rule: Any, schedule: Any, transforms: Sequence[Any]) -> str | None:
    """Why a run that steps alone stays on numpy on the jax backend (None: it compiles): a
    component written for numpy only, or a schedule that reads metrics between steps."""
    reason = numpy_only((objective, rule, schedule, *transforms))
    if reason is not None:
        return reason
    if schedule.monitors(objective):
        return f"schedule '{schedule.name}' reads metrics at epoch ends (host code)"
    return None


def _norm(tree: dict[str, Any]) -> Any:
    """The L2 norm over every array (:func:`gdsim.xp.global_norm`'s sum of squares)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in tree.values()))


def _select(flag: Any, a: Any, b: Any) -> Any:
    """``a`` where the 0-d ``flag`` holds, else ``b``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(flag, x, y), a, b)


class CompiledRun(jax_unit.Structure):
    """The jitted loop of one objective and component structure (each table shape compiles
    once)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.steps = jax.jit(self._steps)
        self.output_shapes: dict[Any, Any] = {}

    def _step(self, comps: Sequence[Any], state: Any, tol: Any, batch: Any, s: Any) -> Any:
        """One step in the numpy loop's order: its new state, outputs and fate flags."""
        params, rule_state, schedule_state, transform_states = state
        rule, schedule, *transforms = comps
        max_loss, grad_tol, step_tol = tol
        loss, grads = jax_unit._call(self.objective, "value_and_grad", params, batch)
        loss = jnp.asarray(loss, dtype=jnp.float64)
        bad = ~(jnp.abs(loss) <= max_loss)  # NaN fails the comparison too
        done = (_norm(grads) <= grad_tol) if self.has_grad_tol else jnp.zeros((), bool)
        raw = grads
        new_states = []
        for t, ts in zip(transforms, transform_states, strict=True):
            grads, ts = jax_unit._call(t, "apply", grads, ts, params)
            new_states.append(ts)
        lr, schedule_state = jax_unit._call(
            schedule, "learning_rate", schedule_state, s, grads, loss
        )
        lr = jnp.asarray(lr, dtype=jnp.float64)
        new, rule_state = jax_unit._call(rule, "update", grads, rule_state, params, lr)
        moved = jnp.zeros((), bool)
        if self.has_step_tol:
            moved = _norm({k: new[k] - params[k] for k in new}) <= step_tol
        state = (new, rule_state, schedule_state, tuple(new_states))
        return state, (loss, grads, raw, lr), (bad, done, moved)

    def _steps(
        self,
        state: Any,
        outputs: Any,
        hyper: Any,
        tol: Any,
        table: Any,
        tail: Any,
        ends: Any,
        s0: Any,
        i0: Any,
        n: Any,
        m: Any,
        stop_at_epoch: Any,
    ) -> Any:
        """The steps ``i0`` to ``n`` of a window (step i is step ``s0 + i`` of the run; rows
        i < ``m`` see row i of ``table``, row ``m`` the short ``tail`` batch; a table None:
        every step sees all samples), up to and including the first step where the numpy loop
        returns. Returns the row after the last step taken, why it stopped, the state, the
        parameters before the last step and its outputs. Every step taken is committed: after
        a phase event (a bad loss, a gradient within tolerance) the state is past the event
        step, and the caller steps again up to it (:func:`make_unit`); no per-step selects."""
        comps = [
            jax_unit._rebuild(t, p, v)
            for t, p, v in zip(self.templates, self.paths, hyper, strict=True)
        ]

        def loop_over(last: Any, batch_of: Any) -> Any:
            def cond(carry: Any) -> Any:
                i, why = carry[0], carry[1]
                return (i < last) & (why == NONE)

            def body(carry: Any) -> Any:
                i, _, state, _, _ = carry
                batch, ends_here = batch_of(i)
                new, stepped, (bad, done, moved) = self._step(comps, state, tol, batch, s0 + i)
                why = jnp.where(
                    bad,
                    DIVERGED,
                    jnp.where(
                        done,
                        GRAD_NORM,
                        jnp.where(
                            moved, STEP_SIZE, jnp.where(stop_at_epoch & ends_here, EPOCH, NONE)
                        ),
                    ),
                ).astype(jnp.int32)
                return i + 1, why, new, state[0], stepped

            return cond, body

        carry = (i0, jnp.asarray(NONE, dtype=jnp.int32), state, state[0], outputs)
        if table is None:
            return lax.while_loop(*loop_over(n, lambda i: (None, True)), carry)
        carry = lax.while_loop(*loop_over(jnp.minimum(n, m), lambda i: (table[i], ends[i])), carry)
        if tail is not None:  # the window's last step, of its own shape: at most once
            carry = lax.while_loop(*loop_over(n, lambda i: (tail, ends[m])), carry)
        return carry


_COMPILED: dict[Any, CompiledRun] = {}
"""Every structure's compiled loop, for the life of the process."""


def _compiled_for(objective: Any, comps: Sequence[Any], has_grad: bool, has_step: bool) -> Any:
    keys, paths, values = zip(*(jax_unit.split(c) for c in comps), strict=True)
    key = (ensemble._freeze(objective), keys, has_grad, has_step)
    found = _COMPILED.get(key)
    if found is None:
        for component in (objective, *comps):
            jax_unit.refuse_unmarked(component)
        found = _COMPILED[key] = CompiledRun(objective, comps, paths, has_grad, has_step)
    return found, values


def _padded(indices: np.ndarray) -> np.ndarray:
    """An index table padded with copies of its first row to a power of two of rows."""
    m = len(indices)
    rows = max(MIN_TABLE_ROWS, 1 << max(m - 1, 0).bit_length())
    if rows == m:
        return indices
    return np.concatenate([indices, np.repeat(indices[:1], rows - m, axis=0)])


def _to_host(value: Any, like: Any) -> Any:
    """A device value as numpy, as a Python number where the host's value was one."""
    array = np.asarray(value)
    if isinstance(like, bool | int | float) and array.ndim == 0:
        return array.item()
    return array


def make_unit(
    objective: Any,
    estimator: Any,
    rule: Any,
    schedule: Any,
    transforms: Sequence[Any],
    rng: np.random.Generator | None,
    max_loss: float,
    grad_tol: float | None,
    step_tol: float | None,
    stop_at_epoch: bool,
    device: Any,
) -> loop.Unit:
    """The compiled unit of one run: :func:`gdsim.loop.make_unit` with
    :func:`gdsim.loop.scalar_checks`, stepped by JAX on ``device``."""
    comps = [rule, schedule, *transforms]
    fns, values = _compiled_for(objective, comps, grad_tol is not None, step_tol is not None)
    full_batch = type(estimator) is FullBatch
    with jax.enable_x64(True):
        hyper, tol, epoch_flag = jax.device_put(
            (
                tuple(tuple(np.asarray(v, dtype=np.float64) for v in vs) for vs in values),
                tuple(
                    np.float64(np.nan if t is None else t) for t in (max_loss, grad_tol, step_tol)
                ),
                np.bool_(stop_at_epoch),
            ),
            device,
        )

    def window(estimator_state: Any, k: int) -> tuple[Batches, Any]:
        if full_batch:
            return Batches(None, None, np.ones(k, dtype=bool)), estimator_state
        return estimator.batches_ahead(estimator_state, rng, k)

    def run_table(
        state: Any, outputs: Any, win: Batches, s0: int
    ) -> tuple[int, int, Any, Any, Any, Any]:
        """The window's steps on the device, one compiled call (its full batches as one padded
        table, its short last batch as the tail): (steps completed, why it stopped, state,
        parameters before the last completed step or None, outputs, the last completed step's
        outputs); on a phase event the state is the one before the event step, the outputs the
        event step's loss and raw gradient with the last completed step's raw gradient and
        learning rate."""
        n = win.steps
        table = tail = flags = None
        m = n
        if win.indices is not None:  # every full-batch step ends an epoch: no flags to pass
            m = len(win.indices)
            table = _padded(win.indices)
            flags = np.zeros(len(table) + 1, dtype=bool)
            flags[:n] = win.epoch_ends
            table, tail, flags = jax.device_put((table, win.tail, flags), device)

        def call(state: Any, outputs: Any, i0: int, stop: int) -> Any:
            row, why, *rest = fns.steps(
                state,
                outputs,
                hyper,
                tol,
                table,
                tail,
                flags,
                np.int64(s0),
                np.int64(i0),
                np.int64(stop),
                np.int64(m),
                epoch_flag,
            )
            return int(row), int(why), *rest

        row, why, new, prev, stepped = call(state, outputs, 0, n)
        if why not in (DIVERGED, GRAD_NORM):
            return row, why, new, (prev if row else None), stepped, stepped
        # a phase event at row - 1: the inputs are intact (nothing donated); step up to it
        event = row - 1
        prev = None
        if event:
            again, clean, state, prev, outputs = call(state, outputs, 0, event)
            if (again, clean) != (event, NONE):
                raise AssertionError("the compiled run did not repeat its own steps")
        _, why, _, _, stepped = call(state, outputs, event, event + 1)
        interrupted = (stepped[0], stepped[2], outputs[2], outputs[3])
        return event, why, state, prev, interrupted, outputs

    blank: list[Any] = []
    resident: list[Any] = []
    """The state last returned, with its device copy: the next unit starts from the device
    copy when the carry it is given still holds those very objects (the engine's loop)."""

    def unit(carry: loop.Carry, stop: int) -> tuple[loop.Carry, loop.Event | None]:
        items = list(carry)
        step, epoch = int(items[0]), int(items[1])
        if step >= stop:
            return carry, None
        if items[15]:
            raise GdsimError("the jax backend cannot resume a run interrupted inside a step")
        host_state = (items[2], items[5], items[6], tuple(items[8]))
        estimator_state = items[7]
        event = None
        prev = None
        batch, ends_epoch = items[13], items[14]
        with jax.enable_x64(True):
            if resident and _same(resident[0], host_state):  # the carry this unit returned
                state = resident[1]
            else:
                state = jax.device_put(
                    jax.tree_util.tree_map(lambda a: np.asarray(a), host_state), device
                )
            if not blank:  # the slots the loop carries: zeros of one step's output shapes
                blank.append(_blank_outputs(fns, state, hyper, tol, full_batch))
            outputs = blank[0]
            while step < stop and event is None:
                saved_rng = None if full_batch else rng.bit_generator.state
                win, after = window(estimator_state, min(stop - step, MAX_WINDOW))
                taken, why, state, p, outputs, last = run_table(state, outputs, win, step)
                if p is not None:
                    prev, completed_loss = p, last[0]
                phase = 1 if why == DIVERGED else 2 if why == GRAD_NORM else 0
                drawn = taken + (1 if phase else 0)
                if drawn < win.steps:  # stopped inside the window: draw only what was seen
                    if not full_batch:
                        rng.bit_generator.state = saved_rng
                        win, after = window(estimator_state, drawn)
                    else:
                        win = Batches(None, None, win.epoch_ends[:drawn])
                estimator_state = after
                epoch += int(np.count_nonzero(win.epoch_ends[:taken]))
                if drawn:
                    batch = win.batch(drawn - 1)
                    ends_epoch = bool(win.epoch_ends[drawn - 1])
                step += taken
                if why in _KINDS:
                    event = (_KINDS[why], True)
                    items[15] = phase
                elif why == EPOCH:
                    break
            new_params, rule_state, schedule_state, transform_states = jax.tree_util.tree_map(
                _to_host, state, host_state
            )
            loss, grads, raw, lr = jax.tree_util.tree_map(np.asarray, outputs)
            if prev is not None:  # some step completed: it started there, with this loss
                items[3] = jax.tree_util.tree_map(np.asarray, prev)
                items[4] = np.asarray(completed_loss)[()]
        for value in new_params.values():
            if value.dtype != np.float64:
                raise GdsimError(
                    f"the jax backend steps float64 only, a component made {value.dtype}"
                )
        completed = step > int(carry[0])
        items[0], items[1], items[2] = step, epoch, new_params
        items[5], items[6], items[7] = rule_state, schedule_state, estimator_state
        items[8][:] = list(transform_states)
        if completed or items[15]:
            items[9], items[10] = loss[()], grads
        if completed:
            items[11], items[12] = raw, lr[()]
        items[13], items[14] = batch, ends_epoch
        resident[:] = [(new_params, rule_state, schedule_state, tuple(items[8])), state]
        return tuple(items), event

    return unit


def _same(a: Any, b: Any) -> bool:
    """Are the two carries' states the very same objects (nothing replaced in between)?"""
    return (
        all(x is y for x, y in zip(a[:3], b[:3], strict=True))
        and len(a[3]) == len(b[3])
        and all(x is y for x, y in zip(a[3], b[3], strict=True))
    )


def _blank_outputs(fns: CompiledRun, state: Any, hyper: Any, tol: Any, full_batch: bool) -> Any:
    """Zeros shaped like one step's (loss, grads, raw grads, lr); the shapes are traced once
    per structure and state shapes."""
    key = (
        jax.tree_util.tree_structure(state),
        tuple((a.shape, a.dtype) for a in jax.tree_util.tree_leaves(state)),
        full_batch,
    )
    shapes = fns.output_shapes.get(key)
    if shapes is None:
        comps = [
            jax_unit._rebuild(t, p, v)
            for t, p, v in zip(fns.templates, fns.paths, hyper, strict=True)
        ]
        batch = None if full_batch else jnp.zeros((1,), dtype=jnp.int64)
        shapes = jax.eval_shape(lambda: fns._step(comps, state, tol, batch, jnp.int64(0))[1])
        fns.output_shapes[key] = shapes
    return jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)
