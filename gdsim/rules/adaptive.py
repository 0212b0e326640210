"""Adaptive-learning-rate rules: AdaGrad, RMSProp and Adam, with switches for their variants.

Defaults follow the lecture's code: ε = 1e-6, placed inside the square root for AdaGrad and
RMSProp and outside it for Adam, and Adam's moments are bias-corrected; with the defaults
AdaGrad and Adam are bit for bit the lecture's, and so is RMSProp with ``beta = 0.1`` (the
lecture's ρ; the default β = 0.9 is Hinton's recommended value). The options select the other
published forms (ε outside the root as in the papers and PyTorch, AMSGrad, centred RMSProp,
RMSProp with momentum, and the *coupled* weight decay of ``torch.optim``: g ← g + λ x before
anything else). Decoupled decay is AdamW, in the ``gdsim-optimizers`` plugin.

All are written against the array API (:mod:`gdsim.xp`): the same code runs on numpy and,
traced, on ``jax.numpy``; the helpers (:func:`coupled_decay`, :func:`rms_denominator`, …) too.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import ComponentState, UpdateRule, param
from gdsim.hookspecs import hookimpl
from gdsim.state import Params, zeros_like
from gdsim.validators import non_negative, one_of, positive, unit_interval_open_right
from gdsim.xp import is_concrete, namespace, power

EPS_PLACEMENTS = ("inside", "outside")


def coupled_decay(
    grads: Params, params: Params, weight_decay: float | np.ndarray, *, skip_zero: bool = True
) -> Params:
    """g ← g + λ x: L2 regularisation folded into the gradient, computed here and only here.

    Every rule's coupled ``weight_decay`` option and the ``weight_decay`` transform call this.
    With ``skip_zero`` (the rules) λ = 0 returns ``grads`` itself; the transform passes False and
    always computes g + 0·x, which differs from g only in the sign of a zero or where x is not
    finite. A per-member array λ (a vectorised ensemble sweeping λ) is applied member by member,
    so that members with λ = 0 keep g exactly, as the same run stepped alone does.
    """
    if not skip_zero:
        return {k: g + weight_decay * params[k] for k, g in grads.items()}
    if not is_concrete(weight_decay):  # traced: λ = 0 keeps g exactly, branch-free
        xp = namespace(weight_decay)
        zero = weight_decay == 0.0
        return {k: xp.where(zero, g, g + weight_decay * params[k]) for k, g in grads.items()}
    if np.ndim(weight_decay) == 0:
        if weight_decay == 0.0:
            return grads
        return {k: g + weight_decay * params[k] for k, g in grads.items()}
    zero = weight_decay == 0.0
    if zero.all():
        return grads
    return {k: np.where(zero, g, g + weight_decay * params[k]) for k, g in grads.items()}


def coupled_decay_param(default: float = 0.0) -> Any:
    """The ``weight_decay`` field of a rule that applies :func:`coupled_decay` before its update."""
    return param(
        default, validator=non_negative(), doc="coupled L2 decay λ: g ← g + λ x before the update"
    )


def first_moment(grads: Params, previous: Params, beta: float) -> Params:
    """m ← β m + (1 − β) g: the decaying mean of the gradient (Adam's V, centred RMSProp's M).

    Written once so every rule that keeps such a mean performs the same operations in the same
    order (products first, then the sum), hence gives bit-identical results for the same inputs.
    """
    return {k: beta * previous[k] + (1.0 - beta) * g for k, g in grads.items()}


def second_moment(grads: Params, previous: Params, beta: float) -> Params:
    """s ← β s + (1 − β) g²: the decaying mean square of the gradient (RMSProp's and Adam's S)."""
    return {k: beta * previous[k] + (1.0 - beta) * (g * g) for k, g in grads.items()}


def moments(
    grads: Params, state: ComponentState, beta1: float, beta2: float
) -> tuple[Params, Params]:
    """Adam's two moments from ``state["V"]`` and ``state["S"]``.

    V ← β₁ V + (1 − β₁) g and S ← β₂ S + (1 − β₂) g² (:func:`first_moment`,
    :func:`second_moment`); shared by ``adam`` and the Adam variants of ``gdsim-optimizers``.
    """
    return first_moment(grads, state["V"], beta1), second_moment(grads, state["S"], beta2)


def running_max(previous: Params, current: Params) -> Params:
    """Smax ← max(Smax, S) per coordinate: the running maximum of AMSGrad and AMSBound."""
    xp = namespace(current)
    return {k: xp.maximum(previous[k], current[k]) for k in current}


def beta1_param(default: float = 0.9) -> Any:
    """The ``beta1`` field of an Adam-like rule: decay of the first moment V."""
    return param(default, validator=unit_interval_open_right(), doc="decay β₁ of the mean")


def beta2_param(default: float = 0.999, doc: str = "decay β₂ of the mean square") -> Any:
    """The ``beta2`` field of an Adam-like rule: decay of the second moment S."""
    return param(default, validator=unit_interval_open_right(), doc=doc)


def eps_param(default: float, doc: str = "ε, added to the denominator") -> Any:
    """The ``eps`` field of an adaptive rule: ε > 0, keeping its denominator away from zero."""
    return param(default, validator=positive(), doc=doc)


def rms_denominator(s: np.ndarray, eps: float, placement: str) -> np.ndarray:
    """√(s + ε) for ε "inside" the square root, √s + ε for ε "outside"."""
    sqrt = np.sqrt if type(s) is np.ndarray else namespace(s).sqrt
    if placement == "inside":
        return sqrt(s + eps)
    return sqrt(s) + eps


@attrs.frozen
class AdaGrad(UpdateRule):
    """AdaGrad (Duchi, Hazan & Singer, 2011): a per-coordinate step that only shrinks.

    Update (t = 1, 2, …; G₀ = ``initial_accumulator``)::

        g ← g + λ x                      (only if weight_decay λ > 0; coupled, as torch.optim)
        G ← G + g²
        x ← x − α g / √(G + ε)           eps_placement = "inside"  (lecture, default)
        x ← x − α g / (√G + ε)           eps_placement = "outside" (paper, torch.optim.Adagrad)

    Defaults: ε = 1e-6 inside, G₀ = 0, λ = 0 (the lecture). torch.optim.Adagrad is
    ``eps = 1e-10, eps_placement = "outside"`` (its ``lr_decay`` is a schedule here).
    """

    name: ClassVar[str] = "adagrad"
    array_api: ClassVar[bool] = True

    eps: float = eps_param(1e-6)
    eps_placement: str = param(
        "inside",
        validator=one_of(*EPS_PLACEMENTS),
        doc="'inside' the square root (lecture) or 'outside' it (paper, PyTorch)",
    )
    initial_accumulator: float = param(
        0.0, validator=non_negative(), doc="G₀, the starting sum of squared gradients"
    )
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        G = zeros_like(params)
        g0 = self.initial_accumulator
        if not is_concrete(g0) or np.any(g0 != 0.0):  # 0 + G₀ is G₀ exactly
            G = {k: v + g0 for k, v in G.items()}
        return {"G": G}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        G = {k: state["G"][k] + g * g for k, g in grads.items()}
        eps, where = self.eps, self.eps_placement
        new = {k: x - lr * grads[k] / rms_denominator(G[k], eps, where) for k, x in params.items()}
        return new, {"G": G}


@attrs.frozen
class RMSProp(UpdateRule):
    """RMSProp (Hinton, 2012 lecture 6e), optionally centred (Graves, 2013) and with momentum.

    Update::

        g ← g + λ x                              (only if weight_decay λ > 0; coupled)
        S ← β S + (1 − β) g²
        D = S                                    centered = false (default)
        M ← β M + (1 − β) g;  D = max(S − M², 0) centered = true (Graves; torch.optim.RMSprop)
        r = √(D + ε)  ("inside", lecture, default)   or   r = √D + ε  ("outside", PyTorch)
        x ← x − α g / r                          momentum μ = 0 (default)
        B ← μ B + g / r;  x ← x − α B            momentum μ > 0 (torch.optim.RMSprop's form)

    S, M, B start at 0. The clamp at 0 only acts when rounding makes S − M² negative (it is a
    variance, ≥ 0 in exact arithmetic). Defaults: β = 0.9 (Hinton's value), ε = 1e-6 inside (the
    lecture's placement), no centring, no momentum, λ = 0. The lecture calls β "ρ" and its code
    uses ρ = 0.1: ``beta = 0.1`` is the lecture's RMSProp bit for bit (it then divides by
    almost the current |g|, a sign-like step). torch.optim.RMSprop is ``beta = 0.99,
    eps = 1e-8, eps_placement = "outside"``.
    """

    name: ClassVar[str] = "rmsprop"
    array_api: ClassVar[bool] = True

    beta: float = param(
        0.9,
        validator=unit_interval_open_right(),
        doc="decay β of the mean square (the lecture's ρ; its code uses 0.1)",
    )
    eps: float = eps_param(1e-6)
    eps_placement: str = param(
        "inside",
        validator=one_of(*EPS_PLACEMENTS),
        doc="'inside' the square root (lecture) or 'outside' it (PyTorch)",
    )
    centered: bool = param(False, doc="divide by the root of the variance, not the mean square")
    momentum: float = param(
        0.0,
        validator=unit_interval_open_right(),
        static=True,  # μ > 0 adds the buffer B to the state
        doc="momentum μ on the scaled step (PyTorch)",
    )
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        state: ComponentState = {"S": zeros_like(params)}
        if self.centered:
            state["M"] = zeros_like(params)
        if self.momentum > 0.0:
            state["B"] = zeros_like(params)
        return state

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b = self.beta
        S = second_moment(grads, state["S"], b)
        new_state: ComponentState = {"S": S}
        D = S
        if self.centered:
            M = first_moment(grads, state["M"], b)
            xp = namespace(S)
            D = {k: xp.maximum(S[k] - M[k] * M[k], 0.0) for k in S}
            new_state["M"] = M
        eps, where = self.eps, self.eps_placement
        if self.momentum > 0.0:
            mu = self.momentum
            B = {
                k: mu * state["B"][k] + g / rms_denominator(D[k], eps, where)
                for k, g in grads.items()
            }
            new_state["B"] = B
            return {k: x - lr * B[k] for k, x in params.items()}, new_state
        new = {k: x - lr * grads[k] / rms_denominator(D[k], eps, where) for k, x in params.items()}
        return new, new_state


@attrs.frozen
class Adam(UpdateRule):
    """Adam (Kingma & Ba, 2015), with the AMSGrad variant (Reddi, Kale & Kumar, 2018).

    Update (t = 1 on the first step; V, S, Smax start at 0)::

        g ← g + λ x                      (only if weight_decay λ > 0; coupled, as torch.optim.Adam)
        V ← β₁ V + (1 − β₁) g
        S ← β₂ S + (1 − β₂) g²
        S' = S                           amsgrad = false (default)
        Smax ← max(Smax, S);  S' = Smax  amsgrad = true (torch.optim.Adam's form: the maximum
                                         of the uncorrected S, bias-corrected with the current t)
        V̂ = V / (1 − β₁ᵗ);  Ŝ = S' / (1 − β₂ᵗ)    bias_correction = true (default)
        V̂ = V;  Ŝ = S'                            bias_correction = false
        x ← x − α V̂ / (√Ŝ + ε)         eps_placement = "outside" (lecture, paper, PyTorch)
        x ← x − α V̂ / √(Ŝ + ε)         eps_placement = "inside"

    Defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-6 outside, bias correction on, no AMSGrad, λ = 0 —
    the lecture. The paper and torch.optim.Adam use ε = 1e-8. With β₁ = 0, no bias correction
    and ε inside, this is RMSProp (β = β₂) bit for bit.
    """

    name: ClassVar[str] = "adam"
    array_api: ClassVar[bool] = True

    beta1: float = beta1_param()
    beta2: float = beta2_param()
    eps: float = eps_param(1e-6)
    eps_placement: str = param(
        "outside",
        validator=one_of(*EPS_PLACEMENTS),
        doc="'outside' the square root (lecture, paper, PyTorch) or 'inside' it",
    )
    bias_correction: bool = param(True, doc="divide the moments by 1 − βᵗ")
    amsgrad: bool = param(False, doc="use the running maximum of S (AMSGrad)")
    weight_decay: float = coupled_decay_param()

    def init(self, params: Params) -> ComponentState:
        state: ComponentState = {"t": 0, "V": zeros_like(params), "S": zeros_like(params)}
        if self.amsgrad:
            state["S_max"] = zeros_like(params)
        return state

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        grads = coupled_decay(grads, params, self.weight_decay)
        b1, b2 = self.beta1, self.beta2
        t = state["t"] + 1
        V, S = moments(grads, state, b1, b2)
        new_state: ComponentState = {"t": t, "V": V, "S": S}
        second = S
        if self.amsgrad:
            second = running_max(state["S_max"], S)
            new_state["S_max"] = second
        eps, where = self.eps, self.eps_placement
        if self.bias_correction:
            c1 = 1.0 - power(b1, t)
            c2 = 1.0 - power(b2, t)
            new = {
                k: x - lr * (V[k] / c1) / rms_denominator(second[k] / c2, eps, where)
                for k, x in params.items()
            }
        else:
            new = {
                k: x - lr * V[k] / rms_denominator(second[k], eps, where) for k, x in params.items()
            }
        return new, new_state


@hookimpl
def gdsim_rules() -> list[type]:
    return [AdaGrad, RMSProp, Adam]
