"""The lecture's first-order rules: plain gradient descent, momentum and Nesterov momentum.

These follow the lecture's (Sutskever-style) formulation, with the velocity carrying the learning
rate. All are elementwise and keep one buffer per parameter.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, UpdateRule, param
from gdsim.hookspecs import hookimpl
from gdsim.state import Params, zeros_like
from gdsim.validators import unit_interval_open_right


@attrs.frozen
class GD(UpdateRule):
    """Gradient descent: x ← x − α ∇f(x)."""

    name: ClassVar[str] = "gd"

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        return {k: x - lr * grads[k] for k, x in params.items()}, state


class _VelocityRule(UpdateRule):
    """Shared state of the momentum rules: a velocity v per parameter, v₀ = 0."""

    mu: float

    def init(self, params: Params) -> ComponentState:
        return {"v": zeros_like(params)}

    def _velocity(self, grads: Params, state: ComponentState, lr: Any) -> Params:
        """v ← μ v − α g."""
        mu, v = self.mu, state["v"]
        return {k: mu * v[k] - lr * g for k, g in grads.items()}


@attrs.frozen
class Momentum(_VelocityRule):
    """Heavy-ball momentum, the lecture's form: v ← μ v − α ∇f(x); x ← x + v (v₀ = 0).

    With μ = 0 this is exactly gradient descent.
    """

    name: ClassVar[str] = "momentum"

    mu: float = param(0.9, validator=unit_interval_open_right(), doc="momentum coefficient μ")

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        v = self._velocity(grads, state, lr)
        return {k: x + v[k] for k, x in params.items()}, {"v": v}


@attrs.frozen
class Nesterov(_VelocityRule):
    """Nesterov momentum, the lecture's form: v ← μ v − α ∇f(x); x ← x + μ v − α ∇f(x).

    The gradient is taken at the current point, not at a look-ahead point: the reformulation of
    Sutskever et al. (2013), which is Keras's form; PyTorch's (b ← μb + g; x ← x − α(g + μb)) is
    the same iteration when α is constant. With μ = 0 this is exactly GD.
    """

    name: ClassVar[str] = "nesterov"

    mu: float = param(0.9, validator=unit_interval_open_right(), doc="momentum coefficient μ")

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        mu = self.mu
        v = self._velocity(grads, state, lr)
        return {k: x + mu * v[k] - lr * grads[k] for k, x in params.items()}, {"v": v}


@hookimpl
def gdsim_rules() -> list[type]:
    return [GD, Momentum, Nesterov]
