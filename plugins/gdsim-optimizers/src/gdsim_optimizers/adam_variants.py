"""Adam's relatives: AdamW, NAdam, Adamax, RAdam and AdaBound, each in torch.optim's form.

Every rule keeps the first moment V and (except Adamax) the second moment S of the gradient, as
gdsim's core ``adam`` does; t counts steps from 1. Defaults are the framework's (ε = 1e-8
outside the square root), not the lecture's. ``weight_decay`` is coupled (g ← g + λ x) except
in AdamW, where decoupling it is the point.

All are written once against the array API (``gdsim.xp``): the same code runs on numpy and,
traced, on ``jax.numpy`` (``array_api = True``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np
from gdsim.components import ComponentState, UpdateRule, param
from gdsim.numerics import power
from gdsim.rules.adaptive import (
    EPS_PLACEMENTS,
    Adam,
    beta1_param,
    beta2_param,
    coupled_decay,
    coupled_decay_param,
    eps_param,
    first_moment,
    moments,
    running_max,
)
from gdsim.state import Params, zeros_like
from gdsim.validators import non_negative, one_of, positive
from gdsim.xp import is_concrete, is_numpy, namespace, select


@attrs.frozen
class AdamW(UpdateRule):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019), torch.optim.AdamW form.

    Update::

        x ← x (1 − α λ)                          decay, scaled by the learning rate α
        x ← x − α V̂ / (√Ŝ + ε)                   gdsim's ``adam`` step on the raw gradient

    The Adam step is gdsim's core ``adam`` with the same β₁, β₂, ε, ``eps_placement`` and
    ``amsgrad`` (bias correction on), so with λ = 0 AdamW *is* that Adam, bit for bit. As in
    PyTorch and optax, λ is multiplied by α; the paper writes x ← x − ηₜ(α V̂/(√Ŝ + ε) + λ x)
    with ηₜ the schedule multiplier, i.e. its λ is PyTorch's α·λ under a constant schedule.
    Defaults (torch.optim.AdamW): β₁ = 0.9, β₂ = 0.999, ε = 1e-8 outside, λ = 0.01.
    """

    name: ClassVar[str] = "adamw"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param()
    eps: float = eps_param(1e-8)
    eps_placement: str = param(
        "outside", validator=one_of(*EPS_PLACEMENTS), doc="'outside' or 'inside' the square root"
    )
    amsgrad: bool = param(False, doc="use the running maximum of S (AMSGrad)")
    weight_decay: float = param(
        0.01, validator=non_negative(), doc="decoupled decay λ: x ← x(1 − αλ) each step"
    )
    _adam: Adam = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        adam = Adam(
            beta1=self.beta1,
            beta2=self.beta2,
            eps=self.eps,
            eps_placement=self.eps_placement,
            amsgrad=self.amsgrad,
        )
        object.__setattr__(self, "_adam", adam)

    def init(self, params: Params) -> ComponentState:
        return self._adam.init(params)

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        lam = self.weight_decay
        if not is_concrete(lam) or lam != 0.0:  # traced λ = 0: x·1.0 is x, bit for bit
            params = {k: x * (1.0 - lr * lam) for k, x in params.items()}
        return self._adam.update(grads, state, params, lr)


@attrs.frozen
class NAdam(UpdateRule):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, torch.optim.NAdam's form.

    Update (μₜ from Dozat's momentum schedule, ψ = ``momentum_decay``; Π₀ = 1)::

        g ← g + λ x                                  (only if weight_decay λ > 0; coupled)
        μₜ = β₁ (1 − ½ · 0.96^(t ψ));   μₜ₊₁ = β₁ (1 − ½ · 0.96^((t + 1) ψ))
        Πₜ = Πₜ₋₁ μₜ
        V ← β₁ V + (1 − β₁) g;   S ← β₂ S + (1 − β₂) g²
        Ŝ = S / (1 − β₂ᵗ)
        x ← x − α (1 − μₜ) / (1 − Πₜ) · g / (√Ŝ + ε) − α μₜ₊₁ / (1 − Πₜ μₜ₊₁) · V / (√Ŝ + ε)

    This is PyTorch's variant, with the momentum-decay schedule; Keras's Nadam uses the same
    schedule with ψ fixed at 0.004. Defaults (torch.optim.NAdam): β₁ = 0.9, β₂ = 0.999,
    ε = 1e-8, ψ = 0.004, λ = 0.
    """

    name: ClassVar[str] = "nadam"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param()
    eps: float = eps_param(1e-8, doc="ε, added outside the square root")
    momentum_decay: float = param(
        0.004, validator=non_negative(), doc="ψ of the momentum schedule μₜ"
    )
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "mu_product": 1.0, "V": zeros_like(params), "S": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b1, b2, psi = self.beta1, self.beta2, self.momentum_decay
        t = state["t"] + 1
        mu = b1 * (1.0 - 0.5 * power(0.96, t * psi))
        mu_next = b1 * (1.0 - 0.5 * power(0.96, (t + 1) * psi))
        mu_product = state["mu_product"] * mu
        mu_product_next = mu_product * mu_next
        V, S = moments(grads, state, b1, b2)
        c2 = 1.0 - power(b2, t)
        xp = namespace(S)
        new = {}
        for k, x in params.items():
            denom = xp.sqrt(S[k] / c2) + self.eps
            new[k] = (
                x
                - lr * (1.0 - mu) / (1.0 - mu_product) * grads[k] / denom
                - lr * mu_next / (1.0 - mu_product_next) * V[k] / denom
            )
        return new, {"t": t, "mu_product": mu_product, "V": V, "S": S}


@attrs.frozen
class Adamax(UpdateRule):
    """Adamax (Kingma & Ba, 2015, §7.1): Adam with the infinity norm, torch.optim.Adamax form.

    Update::

        g ← g + λ x                              (only if weight_decay λ > 0; coupled)
        V ← β₁ V + (1 − β₁) g
        U ← max(β₂ U, |g| + ε)                   (U₀ = 0)
        x ← x − α / (1 − β₁ᵗ) · V / U

    PyTorch adds ε to |g| inside the maximum (the paper has no ε), which keeps U ≥ ε > 0.
    Defaults (torch.optim.Adamax): β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0.
    """

    name: ClassVar[str] = "adamax"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param(doc="decay β₂ of the infinity norm")
    eps: float = eps_param(1e-8, doc="ε, added to |g| inside the maximum")
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "V": zeros_like(params), "U": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b1, b2 = self.beta1, self.beta2
        t = state["t"] + 1
        V = first_moment(grads, state["V"], b1)
        xp = namespace(grads)
        U = {k: xp.maximum(b2 * state["U"][k], xp.abs(g) + self.eps) for k, g in grads.items()}
        step = lr / (1.0 - power(b1, t))
        new = {k: x - step * V[k] / U[k] for k, x in params.items()}
        return new, {"t": t, "V": V, "U": U}


@attrs.frozen
class RAdam(UpdateRule):
    """RAdam (Liu et al., 2020): Adam with a rectified warm-up, torch.optim.RAdam's form.

    Update::

        g ← g + λ x                                  (only if weight_decay λ > 0; coupled)
        V ← β₁ V + (1 − β₁) g;   S ← β₂ S + (1 − β₂) g²;   V̂ = V / (1 − β₁ᵗ)
        ρ∞ = 2 / (1 − β₂) − 1;   ρₜ = ρ∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
        if ρₜ > 5:  r = √((ρₜ − 4)(ρₜ − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρₜ))
                    x ← x − α V̂ r √(1 − β₂ᵗ) / (√S + ε)
        else:       x ← x − α V̂                       (momentum SGD while the variance is poor)

    The threshold 5 is PyTorch's (the paper's algorithm says 4). Defaults (torch.optim.RAdam):
    β₁ = 0.9, β₂ = 0.999, ε = 1e-8, λ = 0.
    """

    name: ClassVar[str] = "radam"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param()
    eps: float = eps_param(1e-8, doc="ε, added outside the square root")
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "V": zeros_like(params), "S": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b1, b2 = self.beta1, self.beta2
        t = state["t"] + 1
        V, S = moments(grads, state, b1, b2)
        c1 = 1.0 - power(b1, t)
        c2 = 1.0 - power(b2, t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * power(b2, t) / c2
        if not is_concrete(rho_t):  # traced: both forms, the right one chosen by where
            xp = namespace(rho_t, S)
            rect = xp.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            rectified = rho_t > 5.0
            new = {
                k: select(
                    rectified,
                    x - (V[k] / c1) * lr * (xp.sqrt(c2) / (xp.sqrt(S[k]) + self.eps)) * rect,
                    x - (V[k] / c1) * lr,
                )
                for k, x in params.items()
            }
        elif rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            new = {
                k: x - (V[k] / c1) * lr * (math.sqrt(c2) / (np.sqrt(S[k]) + self.eps)) * rect
                for k, x in params.items()
            }
        else:
            new = {k: x - (V[k] / c1) * lr for k, x in params.items()}
        return new, {"t": t, "V": V, "S": S}


@attrs.frozen
class AdaBound(UpdateRule):
    """AdaBound (Luo et al., 2019): Adam whose per-coordinate step is clipped into a band that
    closes on a final SGD rate; the authors' reference implementation (``adabound`` package).

    Update (α₀ = the learning rate of the first step)::

        g ← g + λ x                                  (only if weight_decay λ > 0; coupled)
        V ← β₁ V + (1 − β₁) g;   S ← β₂ S + (1 − β₂) g²
        S' = S, or Smax ← max(Smax, S); S' = Smax     (amsbound = true)
        η* = final_lr · α / α₀                        (the final rate follows the schedule)
        lower = η* (1 − 1 / (γ t + 1));   upper = η* (1 + 1 / (γ t))
        η = clip(α √(1 − β₂ᵗ) / (1 − β₁ᵗ) / (√S' + ε), lower, upper)
        x ← x − η V

    The reference code takes α₀ from the optimizer's configured rate; here it is the rate of
    the first step, the same whenever the schedule starts at its configured rate. Defaults (the
    reference's): β₁ = 0.9, β₂ = 0.999, final_lr = 0.1, γ = 1e-3, ε = 1e-8, λ = 0.
    """

    name: ClassVar[str] = "adabound"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param()
    final_lr: float = param(0.1, validator=positive(), doc="the SGD rate the bounds close on")
    gamma: float = param(1e-3, validator=positive(), doc="speed γ at which the bounds close")
    eps: float = eps_param(1e-8, doc="ε, added outside the square root")
    amsbound: bool = param(False, doc="use the running maximum of S (AMSBound)")
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        state: ComponentState = {
            "t": 0,
            "base_lr": 0.0,  # the first step's rate, set by that step
            "V": zeros_like(params),
            "S": zeros_like(params),
        }
        if self.amsbound:
            state["S_max"] = zeros_like(params)
        return state

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b1, b2, gamma = self.beta1, self.beta2, self.gamma
        t = state["t"] + 1
        base_lr = select(t == 1, lr, state["base_lr"])
        V, S = moments(grads, state, b1, b2)
        new_state: ComponentState = {"t": t, "base_lr": base_lr, "V": V, "S": S}
        second = S
        if self.amsbound:
            second = running_max(state["S_max"], S)
            new_state["S_max"] = second
        c2 = 1.0 - power(b2, t)
        sqrt = math.sqrt if is_concrete(c2) else namespace(c2).sqrt
        step_size = lr * sqrt(c2) / (1.0 - power(b1, t))
        final_lr = self.final_lr * lr / base_lr
        lower = final_lr * (1.0 - 1.0 / (gamma * t + 1.0))
        upper = final_lr * (1.0 + 1.0 / (gamma * t))
        xp = namespace(second)
        clip = np.clip if is_numpy(xp) else xp.clip  # numpy's own (the compat one wraps it)
        new = {
            k: x - clip(step_size / (xp.sqrt(second[k]) + self.eps), lower, upper) * V[k]
            for k, x in params.items()
        }
        return new, new_state
