"""Schedules built from other schedules: a sequence with step boundaries, and a scale.

Together with the warm-ups these compose any schedule from the others, in TOML as nested
component tables (``inner = { name = "cosine", steps = 900 }``, ``pieces = [ … ]``).

Both are written against the array API (:mod:`gdsim.xp`) when their pieces are: with a traced
step (a compiled loop) a sequence evaluates every piece and keeps, with ``where``, the active
piece's rate and state.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, Objective, Schedule, param
from gdsim.errors import ParamError
from gdsim.schedules.warmup import Wrapper
from gdsim.state import Params
from gdsim.validators import increasing_ints, positive
from gdsim.xp import is_concrete, namespace, select


def _pieces(_instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, tuple) or not value:
        raise ParamError(
            attribute.name, f"expected a list of one or more schedules (a tuple), got {value!r}"
        )
    for i, piece in enumerate(value):
        if not isinstance(piece, Schedule):
            raise ParamError(f"{attribute.name}[{i}]", f"expected a schedule, got {piece!r}")


def _boundaries(instance: Any, attribute: Any, value: Any) -> None:
    if len(value) != len(instance.pieces) - 1:
        raise ParamError(
            attribute.name,
            f"expected {len(instance.pieces) - 1} boundaries for {len(instance.pieces)} "
            f"pieces (one fewer), got {len(value)}",
        )


@attrs.frozen
class Sequence(Schedule):
    """Pieces one after another: piece k gives the rates of steps b_(k−1) ≤ t < b_k.

    Each piece counts its own steps from 0 at its boundary (it sees t − b_(k−1)) and is called
    only while it is active, so it starts fresh; it alone receives the metrics of the epochs it
    is active in. A sequence of one piece is that piece. optax: ``join_schedules(pieces,
    boundaries)``; torch: ``SequentialLR(schedulers, milestones=boundaries)``, which also
    restarts each scheduler at its milestone.
    """

    name: ClassVar[str] = "sequence"

    pieces: tuple[Schedule, ...] = param(
        validator=_pieces, doc="the schedules, in order, e.g. [{ name = 'linear_warmup' }, …]"
    )
    boundaries: tuple[int, ...] = param(
        (),
        converter=increasing_ints("boundaries", low=1),
        validator=_boundaries,
        doc="steps at which the next piece takes over (one fewer than pieces)",
    )

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[Sequence]:
        """What ``gdsim check-plugin`` checks: a warm-up, a feedback rule, then a decay."""
        from gdsim.schedules.lecture import Constant, Exponential, GradControl

        pieces = (Constant(lr=0.01), GradControl(), Exponential())
        return [cls(pieces=pieces, boundaries=(3, 8))]

    @property
    def elementwise(self) -> bool:  # type: ignore[override]
        return all(p.elementwise for p in self.pieces)

    @property
    def array_api(self) -> bool:  # type: ignore[override]
        return all(p.array_api for p in self.pieces)

    def check(self, objective: Objective) -> None:
        for i, piece in enumerate(self.pieces):
            try:
                piece.check(objective)
            except ParamError as exc:
                raise ParamError(f"pieces[{i}].{exc.field}", exc.message) from None

    def init(self) -> ComponentState:
        return {"active": 0, "pieces": [p.init() for p in self.pieces]}

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        if not is_concrete(step):
            return self._traced_rate(state, step, grads, loss)
        k = bisect.bisect_right(self.boundaries, step)
        start = self.boundaries[k - 1] if k else 0
        states = list(state["pieces"])
        lr, states[k] = self.pieces[k].learning_rate(states[k], step - start, grads, loss)
        return lr, {"active": k, "pieces": states}

    def _traced_rate(
        self, state: ComponentState, step: Any, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        """Every piece at its own step; the active one's rate and new state, by ``where``."""
        xp = namespace(step)
        k = xp.sum(xp.asarray(self.boundaries, dtype=xp.int64) <= step)  # bisect_right
        states = list(state["pieces"])
        lr: Any = None
        for i, (piece, start) in enumerate(zip(self.pieces, (0, *self.boundaries), strict=True)):
            rate, new = piece.learning_rate(states[i], step - start, grads, loss)
            active = k == i
            lr = rate if lr is None else select(active, rate, lr)
            states[i] = _select_tree(active, new, states[i])
        return lr, {"active": k, "pieces": states}

    def monitors(self, objective: Objective) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for piece in self.pieces:
            names.update(dict.fromkeys(piece.monitors(objective)))
        return tuple(names)

    def observe(
        self, state: ComponentState, epoch: int, metrics: Mapping[str, float]
    ) -> ComponentState:
        k = state["active"]
        states = list(state["pieces"])
        states[k] = self.pieces[k].observe(states[k], epoch, metrics)
        return {"active": k, "pieces": states}


def _select_tree(cond: Any, new: Any, old: Any) -> Any:
    """``new`` where ``cond`` holds, else ``old``, leaf by leaf (same structure)."""
    if isinstance(new, Mapping):
        return {k: _select_tree(cond, v, old[k]) for k, v in new.items()}
    if isinstance(new, list | tuple):
        return type(new)(_select_tree(cond, a, b) for a, b in zip(new, old, strict=True))
    if isinstance(new, str | type(None)):
        return new
    return select(cond, new, old)


@attrs.frozen
class Scale(Wrapper):
    """The inner schedule's rate times a constant factor c.

    torch: the inner scheduler with its optimizer's ``lr`` multiplied by c; optax:
    ``lambda t: c * inner(t)``.
    """

    name: ClassVar[str] = "scale"

    inner: Schedule = param(doc="the schedule whose rate is scaled")  # noqa: RUF009
    factor: float = param(1.0, validator=positive(), doc="factor c")

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[Scale]:
        """What ``gdsim check-plugin`` checks: a scaled feedback schedule (it has a state)."""
        from gdsim.schedules.lecture import GradControl

        return [cls(inner=GradControl(), factor=0.5)]

    def multiplier(self, step: int) -> Any:
        return self.factor


COMPOSITE_SCHEDULES: tuple[type, ...] = (Sequence, Scale)
