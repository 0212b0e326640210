"""Adadelta (Zeiler, 2012): a step whose units come from past steps, torch.optim.Adadelta form."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from gdsim.components import ComponentState, UpdateRule, param
from gdsim.rules.adaptive import coupled_decay, coupled_decay_param, second_moment
from gdsim.state import Params, zeros_like
from gdsim.validators import positive, unit_interval_open_right
from gdsim.xp import namespace


@attrs.frozen
class Adadelta(UpdateRule):
    """Adadelta (Zeiler, 2012) in torch.optim.Adadelta's form: the paper's step times α.

    Update (S, U start at 0)::

        g ← g + λ x                              (only if weight_decay λ > 0; coupled)
        S ← ρ S + (1 − ρ) g²
        Δ = √(U + ε) / √(S + ε) · g
        U ← ρ U + (1 − ρ) Δ²
        x ← x − α Δ

    The paper has no learning rate, i.e. α = 1 — PyTorch's default, so give this rule a
    schedule with ``lr = 1.0`` to get the paper's algorithm. Defaults: ρ = 0.9, ε = 1e-6
    (inside both roots), λ = 0.
    """

    name: ClassVar[str] = "adadelta"
    array_api: ClassVar[bool] = True

    rho: float = param(0.9, validator=unit_interval_open_right(), doc="decay ρ of both averages")
    eps: float = param(1e-6, validator=positive(), doc="ε, added inside both square roots")
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        return {"S": zeros_like(params), "U": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        rho, eps = self.rho, self.eps
        S = second_moment(grads, state["S"], rho)
        xp = namespace(S)
        delta = {
            k: xp.sqrt(state["U"][k] + eps) / xp.sqrt(S[k] + eps) * g for k, g in grads.items()
        }
        U = second_moment(delta, state["U"], rho)
        return {k: x - lr * delta[k] for k, x in params.items()}, {"S": S, "U": U}
