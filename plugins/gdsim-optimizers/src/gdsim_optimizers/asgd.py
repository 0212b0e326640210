"""Averaged SGD (Polyak & Juditsky, 1992; Bottou, 2012), torch.optim.ASGD's form."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from gdsim.components import ComponentState, UpdateRule, param
from gdsim.numerics import power
from gdsim.rules.adaptive import coupled_decay
from gdsim.state import Params, zeros_like
from gdsim.validators import non_negative
from gdsim.xp import is_concrete, namespace, select


@attrs.frozen
class ASGD(UpdateRule):
    """Averaged SGD in torch.optim.ASGD's form: decaying steps plus a running average.

    Update (t = 1 on the first step; α the scheduled learning rate)::

        g ← g + λ_wd x                           (only if weight_decay > 0; coupled)
        ηₜ = α / (1 + λ α (t − 1))^p              (η₁ = α)
        μₜ = 1 / max(1, t − 1 − t₀)
        x ← x (1 − λ ηₜ) − ηₜ g
        x̄ ← x                                   if μₜ = 1
        x̄ ← x̄ + μₜ (x − x̄)                      otherwise

    The parameters the run reports are the iterates x; the average x̄ is in the rule's state
    under ``"ax"``. PyTorch computes ηₜ at the end of step t − 1 from that step's α; here it
    uses the current α, the same under a constant schedule. Defaults (torch.optim.ASGD, which
    calls λ ``lambd`` and p ``alpha``): λ = 1e-4, p = 0.75, t₀ = 1e6, weight_decay = 0.
    """

    name: ClassVar[str] = "asgd"
    array_api: ClassVar[bool] = True

    lambd: float = param(1e-4, validator=non_negative(), doc="decay term λ of the step and of x")
    power: float = param(0.75, validator=non_negative(), doc="power p of the step decay")
    t0: float = param(1e6, validator=non_negative(), doc="step t₀ at which averaging starts")
    weight_decay: float = param(
        0.0, validator=non_negative(), doc="coupled L2 decay: g ← g + λ_wd x before the update"
    )

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "ax": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        t = state["t"] + 1
        lam = self.lambd
        eta = lr / power(1.0 + lam * lr * (t - 1), self.power)
        new = {k: x * (1.0 - lam * eta) - eta * grads[k] for k, x in params.items()}
        old = state["ax"]
        since = t - 1 - self.t0
        if not is_concrete(since):  # traced: the same average, chosen by where
            mu = 1.0 / namespace(since).maximum(1.0, since)
            first = mu == 1.0
            ax = {k: select(first, new[k], a + mu * (new[k] - a)) for k, a in old.items()}
            return new, {"t": t, "ax": ax}
        mu = 1.0 / max(1.0, since)
        # before averaging starts (μ = 1), x̄ simply follows x
        ax = dict(new) if mu == 1.0 else {k: a + mu * (new[k] - a) for k, a in old.items()}
        return new, {"t": t, "ax": ax}
