"""The lecture's first-order rules: plain gradient descent, momentum and Nesterov momentum.

These follow the lecture's (Sutskever-style) formulation, with the velocity carrying the learning
rate. All are elementwise and keep one buffer per parameter. ``sgd`` is the framework
formulation (torch.optim.SGD), whose buffer does not carry the learning rate.

All are written against the array API (:mod:`gdsim.xp`): the same code runs on numpy and,
traced, on ``jax.numpy``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from gdsim.components import ComponentState, UpdateRule, param
from gdsim.errors import ParamError
from gdsim.hookspecs import hookimpl
from gdsim.rules.adaptive import coupled_decay, coupled_decay_param
from gdsim.state import Params, zeros_like
from gdsim.validators import number_in, unit_interval_open_right
from gdsim.xp import is_concrete, namespace, select


@attrs.frozen
class GD(UpdateRule):
    """Gradient descent: x ← x − α ∇f(x)."""

    name: ClassVar[str] = "gd"
    array_api: ClassVar[bool] = True

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        return {k: x - lr * grads[k] for k, x in params.items()}, state


class _VelocityRule(UpdateRule):
    """Shared state of the momentum rules: a velocity v per parameter, v₀ = 0."""

    array_api: ClassVar[bool] = True

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
    """Nesterov momentum, the lecture's form: v ← μ v − α ∇f(x); x ← x + (μ v − α ∇f(x)).

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
        # x + (μv − αg), summed in the lecture's order (``val += mu*mom + grad``)
        return {k: x + (mu * v[k] - lr * grads[k]) for k, x in params.items()}, {"v": v}


@attrs.frozen
class SGD(UpdateRule):
    """SGD with momentum, dampening and weight decay in torch.optim.SGD's form.

    Update (t = 1 on the first step)::

        g ← g + λ x                       (only if weight_decay λ > 0; coupled)
        b ← g                             t = 1 (the buffer starts at the first gradient)
        b ← μ b + (1 − τ) g               t > 1 (τ = dampening)
        x ← x − α b                       nesterov = false
        x ← x − α (g + μ b)               nesterov = true (needs μ > 0 and τ = 0, as PyTorch)

    With μ = 0 there is no buffer and x ← x − α g. Defaults: μ = 0, τ = 0, λ = 0, no Nesterov
    (PyTorch's). Unlike the lecture's ``momentum``/``nesterov`` the buffer holds no learning rate:
    with a constant α and τ = 0 both give the same iterates up to rounding, but when α changes
    PyTorch's form rescales the whole accumulated velocity at once. Which samples the gradient
    comes from is the estimator's business, not this rule's.
    """

    name: ClassVar[str] = "sgd"
    array_api: ClassVar[bool] = True

    momentum: float = param(
        0.0,
        validator=unit_interval_open_right(),
        static=True,  # μ = 0 keeps no buffer: the state's structure depends on it
        doc="momentum μ",
    )
    dampening: float = param(
        0.0, validator=number_in(0.0, 1.0), doc="dampening τ: the new gradient enters as (1 − τ) g"
    )
    nesterov: bool = param(False, doc="Nesterov's form: step along g + μ b")
    weight_decay: float = coupled_decay_param()

    def __attrs_post_init__(self) -> None:
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ParamError(
                "nesterov", "expected momentum > 0 and dampening = 0 for Nesterov momentum"
            )

    def init(self, params: Params) -> ComponentState:
        if self.momentum == 0.0:
            return {}
        return {"t": 0, "b": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        mu = self.momentum
        if mu == 0.0:
            return {k: x - lr * grads[k] for k, x in params.items()}, state
        t = state["t"] + 1
        xp = namespace(grads)
        keep = 1.0 - self.dampening
        if is_concrete(t) and t == 1:  # a step count on the host: a plain branch
            b = {k: xp.asarray(g, dtype=xp.float64, copy=True) for k, g in grads.items()}
        else:  # b ← g on the first step, branch-free when t is traced
            first = t == 1
            b = {k: select(first, g, mu * state["b"][k] + keep * g) for k, g in grads.items()}
        if self.nesterov:
            new = {k: x - lr * (grads[k] + mu * b[k]) for k, x in params.items()}
        else:
            new = {k: x - lr * b[k] for k, x in params.items()}
        return new, {"t": t, "b": b}


@hookimpl
def gdsim_rules() -> list[type]:
    return [GD, Momentum, Nesterov, SGD]
