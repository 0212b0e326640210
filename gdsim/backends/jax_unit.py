"""The unit of work of an ensemble, compiled with JAX: :func:`gdsim.loop.make_unit`'s contract.

``unit(carry, stop) -> (carry, event)`` steps every live member from the carry's step to
``stop`` and returns early with the same events, at the same step and phase, as the numpy loop,
so :func:`gdsim.ensemble.simulate` keeps all fate bookkeeping on the host. The carry it takes
and returns holds numpy arrays (observers, compaction and checkpoints see numpy, as on the
numpy backend); inside, the steps run on the device:

1. **Blocks.** A jitted ``fori_loop`` runs all the steps to ``stop`` with no early exit,
   accumulating one elementwise flag: did some member's loss become unacceptable, its gradient
   or its step fall within tolerance? One ``any`` at the end (one host sync per unit). The last
   step is unrolled, so the previous parameters and the last loss and gradients come out
   without a copy per step. When the objective has a loss box
   (:meth:`gdsim.components.Objective.loss_radius`), the block first runs checking the box
   instead of the loss (a row outside gets NaN parameters, found at the block's end), so that
   the loss is not computed at every step; a flagged block is redone checking the loss.
2. **Replay on an event.** The block's input is still at hand (the host's copy): a second
   compiled loop finds the first step at which some member's fate changes, the clean steps
   before it are redone by the block (same code, same bits), and the event step itself runs
   alone, returning its loss, gradients, update and the three masks. The host then stops
   exactly where the numpy loop stops (phase 1 after a bad loss, 2 after a gradient within
   tolerance, after the update for a step within tolerance). A unit resumed after an
   interrupted step evaluates that step again (same bits) instead of carrying its loss.
3. **Hyperparameters are arguments.** Every float field of the rule, schedule and transforms
   (a number, or one value per member) is passed to the compiled functions and put back into
   the components with :func:`gdsim.ensemble.with_values` inside the trace; the compiled
   functions are cached at module level by the components' structure (their non-float fields),
   so a sweep's chunks, and sweeps of other values, share one compilation per shape.
4. **Shapes.** An ensemble steps at its full size, then, after members end, at the next power
   of two at or above the live count but not below 65 536 rows (rows padded with copies of the
   first live row, masked out of every event): at most log2(size / 65 536) + 2 shapes compile.
   Nothing steps fewer than 64 rows: XLA places its fused multiply-adds differently in arrays
   of a few elements, and a run alone would not get the bits it gets inside an ensemble.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gdsim import ensemble, loop
from gdsim.backends import LiveMembers, NotTraceable
from gdsim.errors import GdsimError

# --------------------------------------------------------------------------------------------
# components split into what is compiled in (structure) and what is passed (float values)


TRACE_ERRORS = (
    jax.errors.TracerArrayConversionError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
    TypeError,
)


def split(component: Any) -> tuple[Any, tuple[ensemble.Path, ...], tuple[Any, ...]]:
    """(structure key, traced float paths, their values) of a component.

    Floats declared ``static`` (they change the component's structure or its Python control
    flow) are part of the key, as are all floats of a component that computes attributes from
    its fields when built (new values would leave those stale): a compilation per value.
    """
    paths = tuple(ensemble._float_paths(component))
    static = []
    traced = []
    for path in paths:
        owners = [ensemble._at(component, path[:i]) for i in range(len(path))]
        named = [o for i, o in enumerate(owners) if not isinstance(path[i], int)]
        if any(ensemble._derives_values(type(o)) for o in named):
            return ("fixed", ensemble._freeze(component)), (), ()
        field = attrs.fields_dict(type(owners[-1])).get(str(path[-1]))
        if field is not None and field.metadata.get("static", False):
            static.append((path, ensemble._freeze(ensemble._at(component, path))))
        else:
            traced.append(path)
    values = tuple(ensemble._at(component, p) for p in traced)
    return (ensemble._structure(component), tuple(static)), tuple(traced), values


def _rebuild(template: Any, paths: Sequence[ensemble.Path], values: Sequence[Any]) -> Any:
    if not paths:
        return template
    return ensemble.with_values(template, dict(zip(paths, values, strict=True)))


def _valid(state: Any, live: Any) -> Any:
    """The rows of live members (the first ``live``; the rest pad), made where it is used
    rather than passed in as an array."""
    rows = jnp.shape(next(iter(state[0].values())))[0]
    return jnp.arange(rows) < live


def _inside(params: dict[str, Any], radius: Any) -> Any:
    """Per member: does every parameter entry lie within ``radius`` (NaN does not)?"""
    inside = None
    for value in params.values():
        size = jnp.abs(value)
        if value.ndim > 1:
            size = jnp.max(size.reshape(value.shape[0], -1), axis=1)
        member = size <= radius
        inside = member if inside is None else inside & member
    return inside


def _per_row(mask: Any, value: Any) -> Any:
    """A per-member mask shaped to broadcast against ``value`` (members first)."""
    return mask.reshape(mask.shape + (1,) * (value.ndim - 1))


def _norms(tree: dict[str, Any]) -> Any:
    """Per-member L2 norm over every array, as :func:`gdsim.state.global_norm` sums it."""
    total = sum(jnp.sum(jnp.square(v).reshape(v.shape[0], -1), axis=1) for v in tree.values())
    return jnp.sqrt(total)


# --------------------------------------------------------------------------------------------
# the compiled functions of one structure


class Structure:
    """What a compiled loop is specialised to: the objective, the components' templates, the
    paths of their traced float fields, and which tolerances are checked."""

    def __init__(
        self,
        objective: Any,
        templates: Sequence[Any],
        paths: Sequence[Sequence[ensemble.Path]],
        has_grad_tol: bool,
        has_step_tol: bool,
        has_radius: bool = False,
    ) -> None:
        self.objective = objective
        self.templates = tuple(templates)
        self.paths = tuple(tuple(p) for p in paths)
        self.has_grad_tol = has_grad_tol
        self.has_step_tol = has_step_tol
        self.has_radius = has_radius
        """Does the objective bound its loss in a box (:meth:`Objective.loss_radius`)? Then
        the steps inside a block check the box instead of computing the loss."""


class Compiled(Structure):
    """The jitted functions of one objective and component structure (shared by every
    ensemble with that structure; each compiles once per shape)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.block = jax.jit(self._block)
        self.boxed_block = jax.jit(functools.partial(self._block, boxed=True), donate_argnums=0)
        self.boxed_block_quiet = jax.jit(
            functools.partial(self._block, boxed=True, outputs=False), donate_argnums=0
        )
        """The block checking the loss box. It consumes its input state, updating it in place
        where the buffers are its own (a unit's first call; later inputs share their buffers
        with the host's views of the last results, so XLA copies them); a flagged block is
        redone from the host's copy of that state."""
        self.exact = jax.jit(self._exact)
        self.eventful = False
        """Did the last unit end on an event? Then the next one steps with early exit
        (a heuristic for speed only: both ways give the same bits)."""
        self.one_step = jax.jit(self._one_step)
        self.value = jax.jit(self._value)

    def _value(self, params: Any) -> Any:
        """The loss of every row, as the steps compute it."""
        return _call(self.objective, "value", params, None)

    def _step(
        self,
        comps: Sequence[Any],
        state: Any,
        tol: Any,
        valid: Any,
        s: Any,
        boxed: bool = False,
    ) -> Any:
        """One step of every row: the numpy loop's order of operations, no early exit.

        ``boxed``: the loss is not checked (nor computed, when nothing else uses it); instead
        a row whose parameters lie outside the objective's loss box gets NaN as its new
        parameters. NaN is never inside the box, so the row stays NaN to the end of the
        block, where the caller finds it (:meth:`_block`) and the block is redone checking
        the loss. The select is fused into the update itself: no other pass over the
        parameters, no flag array per step."""
        params, rule_state, schedule_state, transform_states = state
        rule, schedule, *transforms = comps
        max_loss, grad_tol, step_tol, radius = tol
        loss, grads = _call(self.objective, "value_and_grad", params, None)
        if jnp.shape(loss) != valid.shape or any(
            jnp.shape(grads[k]) != jnp.shape(params[k]) for k in params
        ):
            raise loop.NotElementwise("the objective mixes ensemble members")
        bad = None if boxed else valid & ~(jnp.abs(loss) <= max_loss)
        done = valid & (_norms(grads) <= grad_tol) if self.has_grad_tol else None
        raw = grads if transforms else None  # the same array: not output twice
        new_states = []
        for t, ts in zip(transforms, transform_states, strict=True):
            grads, ts = _call(t, "apply", grads, ts, params)
            new_states.append(ts)
        lr, schedule_state = _call(schedule, "learning_rate", schedule_state, s, grads, loss)
        new, rule_state = _call(rule, "update", grads, rule_state, params, lr)
        moved = None
        if self.has_step_tol:
            moved = valid & (_norms({k: new[k] - params[k] for k in new}) <= step_tol)
        if boxed:
            inside = _inside(params, radius)
            new = {k: jnp.where(_per_row(inside, v), v, jnp.nan) for k, v in new.items()}
        state = (new, rule_state, schedule_state, tuple(new_states))
        return state, (loss, grads, raw, lr), (bad, done, moved)

    def _comps(self, hyper: Sequence[Sequence[Any]]) -> list[Any]:
        return [
            _rebuild(t, p, v) for t, p, v in zip(self.templates, self.paths, hyper, strict=True)
        ]

    @staticmethod
    def _any_event(masks: Sequence[Any]) -> Any:
        """Any of the masks (None when there are none)."""
        flag = None
        for m in masks:
            if m is not None:
                flag = m if flag is None else flag | m
        return flag

    def _block(
        self,
        state: Any,
        hyper: Any,
        tol: Any,
        live: Any,
        s0: Any,
        n: Any,
        boxed: bool = False,
        outputs: bool = True,
    ) -> Any:
        """``n`` >= 1 steps from step ``s0``: the state after them, the parameters before the
        last one, the last step's outputs and whether some row's fate changed on the way
        (``boxed``: or may have, a row having left the loss box before the last step).
        ``outputs=False``: the last step's loss and gradients are not returned (nobody reads
        them: no observer), only its learning rate; XLA then never writes them out."""
        comps = self._comps(hyper)
        valid = _valid(state, live)

        def body(s: Any, carry: Any) -> Any:
            state, flag = carry
            state, _, masks = self._step(comps, state, tol, valid, s, boxed)
            event = self._any_event(masks)
            return state, flag if event is None else flag | event

        flag = jnp.zeros(valid.shape, dtype=bool)
        state, flag = lax.fori_loop(s0, s0 + n - 1, body, (state, flag))
        prev = state[0]
        state, stepped, masks = self._step(comps, state, tol, valid, s0 + n - 1)
        flag = flag | self._any_event(masks)
        if boxed:  # some row left the box (then its parameters are NaN from there on)
            flag = flag | ~_inside(prev, tol[3])
        if not outputs:
            stepped = (None, None, None, stepped[3])
        return state, prev, stepped, jnp.any(flag)

    def _exact(self, state: Any, hyper: Any, tol: Any, live: Any, s0: Any, n: Any) -> Any:
        """Up to ``n`` steps from ``s0``, stopping before the first step at which some row's
        fate changes: how many steps went by, the state then, the parameters before the last
        of them and its outputs, and whether it stopped on such a step."""
        comps = self._comps(hyper)
        valid = _valid(state, live)
        _, outputs, _ = jax.eval_shape(lambda: self._step(comps, state, tol, valid, s0))
        blank = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), outputs)

        def cond(carry: Any) -> Any:
            i, _, _, _, found = carry
            return (i < n) & ~found

        def body(carry: Any) -> Any:
            i, state, prev, outputs, _ = carry
            new, stepped, masks = self._step(comps, state, tol, valid, s0 + i)
            found = jnp.any(self._any_event(masks))

            def keep(_: Any) -> Any:
                return i, state, prev, outputs

            def commit(_: Any) -> Any:
                return i + 1, new, state[0], stepped

            i, state, prev, outputs = lax.cond(found, keep, commit, None)
            return i, state, prev, outputs, found

        start = (jnp.zeros((), dtype=s0.dtype), state, state[0], blank, jnp.zeros((), dtype=bool))
        return lax.while_loop(cond, body, start)

    def _one_step(self, state: Any, hyper: Any, tol: Any, live: Any, s: Any) -> Any:
        """One step alone: its new state, outputs and the three masks."""
        return self._step(self._comps(hyper), state, tol, _valid(state, live), s)


def _call(component: Any, method: str, *args: Any) -> Any:
    """``component.method(*args)`` while tracing; a component whose code cannot be traced is
    named, with the line of its own code that failed."""
    try:
        return getattr(component, method)(*args)
    except TRACE_ERRORS as exc:
        if isinstance(exc, TypeError) and "Tracer" not in str(exc) and "jax" not in str(exc):
            raise
        raise NotTraceable(_describe(component, exc)) from None


def _describe(component: Any, exc: BaseException) -> str:
    import traceback

    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if "/jax/" not in frame.filename and "/jaxlib/" not in frame.filename:
            line = (frame.line or "").strip()
            short = "/".join(frame.filename.split("/")[-3:])
            where = f" at {short}:{frame.lineno} `{line}`"
            break
    kind = getattr(component, "kind", "component")
    name = getattr(component, "name", type(component).__name__)
    return (
        f"{kind} '{name}' cannot run on the jax backend ({type(exc).__name__}{where}); "
        'use backend = "numpy" for this scenario (or gdsim run --backend numpy)'
    )


def refuse_unmarked(component: Any) -> None:
    """Refuse a component that does not declare its code written against the array API
    (``array_api = False``): name it, and the line that cannot be traced when there is one."""
    if getattr(component, "array_api", True) is not False:
        return
    kind = getattr(component, "kind", "component")
    name = getattr(component, "name", type(component).__name__)
    detail = "marked array_api = False: written for numpy only"
    try:
        from gdsim.tracing import check_traceable
    except ImportError:
        check_traceable = None
    if check_traceable is not None:
        try:
            check_traceable(component)
        except Exception as exc:  # the probe's own message names the file and line
            found = str(exc).removeprefix(f"{kind} '{name}': ")
            detail = f"{detail}; {found}"
    raise NotTraceable(
        f"{kind} '{name}' cannot run on the jax backend ({detail}); "
        'use backend = "numpy" for this scenario (or gdsim run --backend numpy)'
    )


_COMPILED: dict[Any, Compiled] = {}
"""Every structure's compiled functions, for the life of the process."""


def compiled_for(
    objective: Any, comps: Sequence[Any], has_grad: bool, has_step: bool, has_radius: bool = False
) -> Any:
    """The compiled functions of these components and their float values."""
    keys, paths, values = zip(*(split(c) for c in comps), strict=True)
    key = (ensemble._freeze(objective), keys, has_grad, has_step, has_radius)
    found = _COMPILED.get(key)
    if found is None:
        for component in (objective, *comps):
            refuse_unmarked(component)
        found = _COMPILED[key] = Compiled(objective, comps, paths, has_grad, has_step, has_radius)
    return found, values


_RADII: dict[Any, float | None] = {}
"""Every objective's loss box per ``max_loss``, for the life of the process (an ensemble
whose members end at many steps makes a unit after each)."""

MANY_LIMITS = 16
"""More distinct ``max_loss`` values than this share the box of the smallest."""


def radii(objective: Any, max_loss: Any) -> np.ndarray | None:
    """The objective's loss box for each member's ``max_loss`` (None: no box known, or a
    radius that is not a finite number >= 0, which would bound nothing).

    Many distinct limits (a sweep of ``max_loss``) all get the box of the smallest: a smaller
    limit's box lies inside a larger one's, so it is sound for every member."""
    method = getattr(objective, "loss_radius", None)
    if method is None:
        return None
    limits = np.asarray(max_loss, dtype=np.float64)
    distinct, where = np.unique(limits, return_inverse=True)
    if len(distinct) > MANY_LIMITS:
        distinct, where = distinct[:1], np.zeros_like(where)
    key = ensemble._freeze(objective)
    found = []
    for limit in distinct.tolist():  # a bisection each: once per objective and limit
        if (key, limit) not in _RADII:
            _RADII[key, limit] = method(limit)
        found.append(_RADII[key, limit])
    if not found or not all(r is not None and 0.0 <= r < np.inf for r in found):
        return None
    if len(found) == 1:  # one number for all: a scalar, not an array read at every step
        return np.float64(found[0])
    return np.asarray(found, dtype=np.float64)[where].reshape(limits.shape)


# --------------------------------------------------------------------------------------------
# the unit


MIN_ROWS = 1 << 16
"""Ensembles step at least this many rows (or all of theirs): below it a compilation for a
smaller shape (0.1-0.2 s) costs more than stepping the ended members' padding rows."""


SMALLEST = 64
"""No ensemble steps fewer rows (padding the rest): XLA compiles arrays of a few elements
differently (its fused multiply-adds fall elsewhere), which would give a run alone other bits
than the same run inside an ensemble."""


def bucket(live: int, size: int) -> int:
    """The rows an ensemble of ``size`` steps with ``live`` members: all of them at first,
    then the next power of two, but never fewer than :data:`MIN_ROWS` (nor more than
    ``size``), and never fewer than :data:`SMALLEST`."""
    if live >= size:
        return max(size, SMALLEST)
    return max(SMALLEST, min(size, max(MIN_ROWS, 1 << max(live - 1, 0).bit_length())))


def make_unit(members: LiveMembers, device: Any) -> loop.Unit:
    """The compiled unit of an ensemble's live members on ``device``; without an observer
    reading them (``members.outputs_read``), a unit that ends without an event leaves the
    steps' losses and gradients out of the carry (None, as after a compaction)."""
    objective, max_loss, grad_tol, step_tol = (
        members.objective,
        members.max_loss,
        members.grad_tol,
        members.step_tol,
    )
    size, live, outputs_read = members.size, members.live, members.outputs_read
    comps = [members.rule, members.schedule, *members.transforms]
    has_grad = grad_tol is not None and bool(np.any(~np.isnan(grad_tol)))
    has_step = step_tol is not None and bool(np.any(~np.isnan(step_tol)))
    radius = radii(objective, max_loss)
    fns, values = compiled_for(objective, comps, has_grad, has_step, radius is not None)
    rows = bucket(live, size)
    boxed = [radius is not None]
    """Step blocks checking the loss box first? Until some member leaves it."""

    def pad(value: Any) -> Any:
        """A value as a numpy array, its member rows padded to ``rows``."""
        array = np.asarray(value)
        if array.dtype.kind == "f" and array.dtype != np.float64:
            raise GdsimError(f"the jax backend steps float64 only, got {array.dtype}")
        if rows > live and array.ndim >= 1 and array.shape[0] == live:
            array = np.concatenate([array, np.repeat(array[:1], rows - live, axis=0)])
        return array

    def device_tree(tree: Any) -> Any:
        """A tree of values on the device (one transfer call for all leaves)."""
        return jax.device_put(jax.tree_util.tree_map(pad, tree), device)

    def host_tree(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda a: _host(a, rows, live), tree)

    def tolerance(value: Any, present: bool) -> Any:
        return np.asarray(value, dtype=np.float64) if present else None

    with jax.enable_x64(True):
        hyper, tol, live_rows = device_tree(
            (
                tuple(tuple(np.asarray(v, dtype=np.float64) for v in vs) for vs in values),
                (
                    tolerance(max_loss, True),
                    tolerance(grad_tol, has_grad),
                    tolerance(step_tol, has_step),
                    radius,
                ),
                np.int64(live),
            )
        )

    def index(value: int) -> Any:
        return np.int64(value)

    returned: list[Any] = [None, None]
    """The parameters the last call returned (host views) and the same on the device."""

    def unit(carry: loop.Carry, stop: int) -> tuple[loop.Carry, loop.Event | None]:
        items = list(carry)
        step, epoch = int(items[0]), int(items[1])
        if step >= stop:
            return carry, None
        event, phase = None, 0
        with jax.enable_x64(True):
            host_state = (items[2], items[5], items[6], tuple(items[8]))
            state = device_tree(host_state)
            s0, n = index(step), index(stop - step)
            flagged = True
            if not fns.eventful and boxed[0]:  # the fastest way: no loss inside the block
                block = fns.boxed_block if outputs_read else fns.boxed_block_quiet
                new, prev, outputs, flagged = block(state, hyper, tol, live_rows, s0, n)
                outputs = _filled(outputs)
                flagged = bool(flagged)
                boxed[0] = not flagged
                if flagged:  # the block consumed its input
                    state = device_tree(host_state)
            if flagged and not fns.eventful:  # one block, no early exit: nothing happens
                new, prev, outputs, flagged = fns.block(state, hyper, tol, live_rows, s0, n)
                outputs = _filled(outputs)
                flagged = bool(flagged)
            if not flagged:
                step = stop
            else:  # some fate changes on the way: step with early exit, stop exactly there
                done, state, prev, outputs, found = fns.exact(state, hyper, tol, live_rows, s0, n)
                outputs = _filled(outputs)
                done, found = int(done), bool(found)
                fns.eventful = found
                step += done
                if done == 0:
                    prev = None  # no step completed: the carry's previous parameters stay
                if not found:
                    new = state
                else:
                    after, stepped, masks = fns.one_step(state, hyper, tol, live_rows, index(step))
                    stepped = _filled(stepped)
                    bad, gd, moved = (None if m is None else _host(m, rows, live) for m in masks)
                    if bad.any():
                        event, phase = (loop.DIVERGED, np.flatnonzero(bad)), 1
                    elif gd is not None and gd.any():
                        event, phase = (loop.GRAD_NORM, np.flatnonzero(gd)), 2
                    if phase:  # interrupted after its loss and gradient: nothing moved
                        new = state
                        # as the numpy loop: this step's loss and (raw) gradient, the last
                        # completed step's raw gradient and learning rate
                        outputs = (stepped[0], stepped[2], *outputs[2:])
                    else:
                        if moved is None or not moved.any():
                            raise AssertionError("compiled unit: no event at the event step")
                        event = (loop.STEP_SIZE, np.flatnonzero(moved))
                        prev, new, outputs = state[0], after, stepped
                        step += 1
            params, rule_state, schedule_state, transform_states = host_tree(new)
            returned[:] = [params, new[0]]
            loss, grads, raw, lr = host_tree(outputs)
            if phase and not done:  # no step completed here: the carry's own stay
                raw, lr = items[11], items[12]
            prev_params = items[3] if prev is None else host_tree(prev)
        for value in params.values():
            if value.dtype != np.float64:
                raise GdsimError(
                    f"the jax backend steps float64 only, a component made {value.dtype}"
                )
        items[0], items[1] = step, epoch + (step - int(carry[0]))
        items[2], items[3], items[4] = params, prev_params, None
        items[5], items[6] = rule_state, schedule_state
        items[8][:] = list(transform_states)
        items[9], items[10], items[11] = loss, grads, raw
        items[12] = lr.item() if isinstance(lr, np.ndarray) and lr.ndim == 0 else lr
        items[13], items[14], items[15] = None, True, phase
        return tuple(items), event

    def final_loss(values: Any) -> np.ndarray:
        """The loss at ``values`` (rows of this ensemble's members) computed on the device,
        as a step computes it: what :func:`gdsim.ensemble.simulate` reports as the final
        loss on this backend (padded as the steps are, so a member gets the same bits in
        any ensemble)."""
        count = int(np.shape(next(iter(values.values())))[0])
        host, on_device = returned
        with jax.enable_x64(True):
            if host is not None and all(values.get(k) is v for k, v in host.items()):
                at = on_device  # the parameters the unit returned: still on the device
            else:
                padded_rows = bucket(count, size)
                at = {k: _padded(np.asarray(v), count, padded_rows) for k, v in values.items()}
                at = jax.device_put(at, device)
            loss = fns.value(at)
        return np.asarray(loss)[:count]  # a read-only view, no copy

    unit.final_loss = final_loss  # type: ignore[attr-defined]
    return unit


def _filled(outputs: Any) -> Any:
    """A step's outputs with the raw gradient filled in where it is the gradient itself
    (no transforms: the compiled functions return it once)."""
    loss, grads, raw, lr = outputs
    return loss, grads, grads if raw is None else raw, lr


def _padded(array: np.ndarray, count: int, rows: int) -> np.ndarray:
    """``array``'s ``count`` member rows padded to ``rows`` with copies of its first row."""
    if rows > count and array.ndim >= 1 and array.shape[0] == count:
        return np.concatenate([array, np.repeat(array[:1], rows - count, axis=0)])
    return array


def _host(value: Any, rows: int, live: int) -> Any:
    """A device array back on the host, without its padding rows."""
    array = np.asarray(value)
    if rows > live and array.ndim >= 1 and array.shape[0] == rows:
        array = array[:live]
    return array
