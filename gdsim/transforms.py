"""Gradient transforms: rewrite the gradient before the update rule sees it.

A run lists them under ``transforms`` and the engine applies them in that order, so
``transforms = [{ name = "weight_decay", decay = 1e-4 }, { name = "clip_norm", max_norm = 1.0 }]``
clips the decayed gradient. Like rules, transforms are pure: ``apply`` returns new arrays and a
new state and never modifies its inputs.

``clip_value``, ``clip_norm`` and ``weight_decay`` are written against the array API
(:mod:`gdsim.xp`) and also run traced on ``jax.numpy``. ``gradient_noise`` is not: it draws from
its own numpy ``Generator`` kept in its state, which a compiled loop cannot advance (it runs on
the numpy backend only).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import ComponentState, GradientTransform, param
from gdsim.hookspecs import hookimpl
from gdsim.rules.adaptive import coupled_decay
from gdsim.state import Params, global_norm
from gdsim.validators import int_at_least, non_negative, positive
from gdsim.xp import is_concrete, is_numpy, namespace, select


@attrs.frozen
class ClipValue(GradientTransform):
    """Clip every gradient coordinate to [−c, c] (torch.nn.utils.clip_grad_value_).

    g ← min(max(g, −c), c), coordinate by coordinate.
    """

    name: ClassVar[str] = "clip_value"
    array_api: ClassVar[bool] = True

    max_value: float = param(1.0, validator=positive(), doc="bound c on each |gᵢ|")

    def apply(
        self, grads: Params, state: ComponentState, params: Params
    ) -> tuple[Params, ComponentState]:
        c = self.max_value
        xp = namespace(grads)
        clip = np.clip if is_numpy(xp) else xp.clip  # numpy's own (the compat one wraps it)
        return {k: clip(g, -c, c) for k, g in grads.items()}, state


@attrs.frozen
class ClipNorm(GradientTransform):
    """Rescale the whole gradient to global L2 norm at most c (optax.clip_by_global_norm).

    ‖g‖ = √(Σ over all parameters and coordinates of g²);  g ← g · c / ‖g‖ if ‖g‖ > c, else g
    unchanged. The direction is kept. (torch.nn.utils.clip_grad_norm_ divides by ‖g‖ + 1e-6
    instead, so it clips very slightly more.) Not elementwise: the norm spans every parameter,
    so with an ensemble axis each member would need its own norm.
    """

    name: ClassVar[str] = "clip_norm"
    array_api: ClassVar[bool] = True
    elementwise: ClassVar[bool] = False

    max_norm: float = param(1.0, validator=positive(), doc="bound c on the global norm ‖g‖")

    def apply(
        self, grads: Params, state: ComponentState, params: Params
    ) -> tuple[Params, ComponentState]:
        norm = global_norm(grads)
        over = norm > self.max_norm
        if not is_concrete(over):  # traced: g·1.0 is g, bit for bit
            scale = select(over, self.max_norm / norm, 1.0)
            return {k: g * scale for k, g in grads.items()}, state
        if not over:  # also leaves a NaN norm alone: the engine reports it
            return grads, state
        scale = self.max_norm / norm
        return {k: g * scale for k, g in grads.items()}, state


@attrs.frozen
class WeightDecay(GradientTransform):
    """Coupled weight decay (L2 regularisation): g ← g + λ x.

    The same as the ``weight_decay`` option of the core rules, but usable in front of any rule
    and orderable with the other transforms. Decoupled decay (AdamW) is not a gradient
    transform: it acts on the parameters after the rule's step.
    """

    name: ClassVar[str] = "weight_decay"
    array_api: ClassVar[bool] = True

    decay: float = param(1e-4, validator=non_negative(), doc="decay λ")

    def apply(
        self, grads: Params, state: ComponentState, params: Params
    ) -> tuple[Params, ComponentState]:
        return coupled_decay(grads, params, self.decay, skip_zero=False), state


@attrs.frozen
class GradientNoise(GradientTransform):
    """Add Gaussian noise with its own seed: g ← g + σₜ·z, z ~ N(0, I) (Neelakantan et al., 2015).

    σₜ = σ / (1 + t)^(γ/2) with t = 0, 1, 2, … counting this transform's applications, so the
    variance σₜ² = σ²/(1 + t)^γ anneals as in the paper (γ = 0.55 there); γ = 0 (default) keeps
    σ constant. The noise comes from a PCG64 generator seeded with ``seed``, independent of the
    run's seed, kept in the state as ``state["rng"]``; each ``apply`` draws from a copy, so
    earlier states stay valid. Draws are in parameter-name order, each of the gradient's shape.
    """

    name: ClassVar[str] = "gradient_noise"
    # one generator per run: an ensemble would hand member i the i-th draw of a shared stream
    elementwise: ClassVar[bool] = False

    std: float = param(0.01, validator=non_negative(), doc="noise standard deviation σ at t = 0")
    gamma: float = param(0.0, validator=non_negative(), doc="annealing exponent γ of σₜ²")
    seed: int = param(0, validator=int_at_least(0), doc="seed of the noise generator")

    def init(self, params: Params) -> ComponentState:
        return {"t": 0, "rng": np.random.Generator(np.random.PCG64(self.seed))}

    def apply(
        self, grads: Params, state: ComponentState, params: Params
    ) -> tuple[Params, ComponentState]:
        t = state["t"]
        rng = _copy_generator(state["rng"])
        sigma = self.std / (1.0 + t) ** (self.gamma / 2.0) if self.gamma else self.std
        noisy = {k: g + sigma * rng.standard_normal(np.shape(g)) for k, g in grads.items()}
        return noisy, {"t": t + 1, "rng": rng}


def _copy_generator(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator at the same point of the same stream."""
    bit_generator = type(rng.bit_generator)(0)
    bit_generator.state = rng.bit_generator.state
    return np.random.Generator(bit_generator)


@hookimpl
def gdsim_transforms() -> list[type[Any]]:
    return [ClipValue, ClipNorm, WeightDecay, GradientNoise]
