"""Adaptive-learning-rate rules from the lecture: AdaGrad, RMSProp and Adam.

Defaults follow the lecture: ε = 1e-6, placed inside the square root for AdaGrad and RMSProp and
outside it for Adam, and Adam's moments are bias-corrected.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import ComponentState, UpdateRule, param
from gdsim.hookspecs import hookimpl
from gdsim.state import Params, zeros_like
from gdsim.validators import positive, unit_interval_open_right


@attrs.frozen
class AdaGrad(UpdateRule):
    """AdaGrad (Duchi et al., 2011), lecture form: G ← G + g²; x ← x − α g / √(G + ε)."""

    name: ClassVar[str] = "adagrad"

    eps: float = param(1e-6, validator=positive(), doc="ε, added inside the square root")

    def init(self, params: Params) -> ComponentState:
        return {"G": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        G = {k: state["G"][k] + g * g for k, g in grads.items()}
        new = {k: x - lr * grads[k] / np.sqrt(G[k] + self.eps) for k, x in params.items()}
        return new, {"G": G}


@attrs.frozen
class RMSProp(UpdateRule):
    """RMSProp (Hinton, 2012), lecture form: S ← β S + (1 − β) g²; x ← x − α g / √(S + ε)."""

    name: ClassVar[str] = "rmsprop"

    beta: float = param(0.9, validator=unit_interval_open_right(), doc="decay β of the mean square")
    eps: float = param(1e-6, validator=positive(), doc="ε, added inside the square root")

    def init(self, params: Params) -> ComponentState:
        return {"S": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        b = self.beta
        S = {k: b * state["S"][k] + (1.0 - b) * (g * g) for k, g in grads.items()}
        new = {k: x - lr * grads[k] / np.sqrt(S[k] + self.eps) for k, x in params.items()}
        return new, {"S": S}


@attrs.frozen
class Adam(UpdateRule):
    """Adam (Kingma & Ba, 2015), lecture form, with bias correction and ε outside the root.

    V ← β₁ V + (1 − β₁) g;  S ← β₂ S + (1 − β₂) g²;  V̂ = V / (1 − β₁ᵗ);  Ŝ = S / (1 − β₂ᵗ);
    x ← x − α V̂ / (√Ŝ + ε), with t = 1 on the first step.
    """

    name: ClassVar[str] = "adam"

    beta1: float = param(0.9, validator=unit_interval_open_right(), doc="decay β₁ of the mean")
    beta2: float = param(
        0.999, validator=unit_interval_open_right(), doc="decay β₂ of the mean square"
    )
    eps: float = param(1e-6, validator=positive(), doc="ε, added outside the square root")

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "V": zeros_like(params), "S": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        b1, b2 = self.beta1, self.beta2
        t = state["t"] + 1
        V = {k: b1 * state["V"][k] + (1.0 - b1) * g for k, g in grads.items()}
        S = {k: b2 * state["S"][k] + (1.0 - b2) * (g * g) for k, g in grads.items()}
        c1 = 1.0 - b1**t
        c2 = 1.0 - b2**t
        new = {k: x - lr * (V[k] / c1) / (np.sqrt(S[k] / c2) + self.eps) for k, x in params.items()}
        return new, {"t": t, "V": V, "S": S}


@hookimpl
def gdsim_rules() -> list[type]:
    return [AdaGrad, RMSProp, Adam]
