"""Lookahead (Zhang, Lucas, Hinton & Ba, 2019): slow weights that follow any other rule."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from gdsim.components import ComponentState, UpdateRule, param
from gdsim.state import Params
from gdsim.validators import int_at_least, number_in
from gdsim.xp import is_concrete, select


@attrs.frozen
class Lookahead(UpdateRule):
    """Lookahead (Zhang et al., 2019): k fast steps of an inner rule, then pull the slow weights.

    The inner rule is any registered rule, given by name or table in the scenario::

        rule = { name = "lookahead", k = 5, alpha = 0.5, inner = { name = "adam", beta1 = 0.9 } }

    Update (φ the slow weights, φ = x at the start; t counts steps from 1)::

        x ← inner.update(g, x)                    the fast weights take one inner step
        if t mod k = 0:  φ ← (1 − a) φ + a x;  x ← φ

    ``(1 − a) φ + a x`` is the paper's φ + a (x − φ), written so that a = 1 gives x exactly:
    with k = 1 and a = 1 Lookahead is its inner rule bit for bit. The inner rule's state (momentum,
    moments) is kept across synchronisations, not reset. The parameters the run
    reports are the fast weights x, which equal φ right after each synchronisation. Defaults
    (the paper's): k = 5, a = 0.5; ``inner`` is required.
    """

    name: ClassVar[str] = "lookahead"

    inner: UpdateRule = param(doc="the rule taking the fast steps, e.g. { name = 'adam' }")  # noqa: RUF009
    k: int = param(5, validator=int_at_least(1), doc="fast steps between synchronisations")
    alpha: float = param(
        0.5, validator=number_in(0.0, 1.0, low_open=True), doc="slow step size a in (0, 1]"
    )

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[Lookahead]:
        """What ``gdsim check-plugin`` checks: Lookahead around two different inner rules."""
        from gdsim.rules.adaptive import Adam
        from gdsim.rules.classic import Momentum

        return [cls(inner=Adam(), k=3), cls(inner=Momentum(mu=0.5), k=2, alpha=0.8)]

    @property
    def elementwise(self) -> bool:  # type: ignore[override]
        return self.inner.elementwise

    @property
    def array_api(self) -> bool:  # type: ignore[override]
        return self.inner.array_api

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "slow": dict(params), "inner": self.inner.init(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        fast, inner_state = self.inner.update(grads, state["inner"], params, lr)
        t = state["t"] + 1
        sync = t % self.k == 0
        if not is_concrete(sync):  # traced: synchronise by where
            a = self.alpha
            pulled = {k: (1.0 - a) * phi + a * fast[k] for k, phi in state["slow"].items()}
            slow = {k: select(sync, pulled[k], phi) for k, phi in state["slow"].items()}
            new = {k: select(sync, slow[k], x) for k, x in fast.items()}
            return new, {"t": t, "slow": slow, "inner": inner_state}
        if not sync:
            return fast, {"t": t, "slow": state["slow"], "inner": inner_state}
        a = self.alpha
        slow = {k: (1.0 - a) * phi + a * fast[k] for k, phi in state["slow"].items()}
        return dict(slow), {"t": t, "slow": slow, "inner": inner_state}
