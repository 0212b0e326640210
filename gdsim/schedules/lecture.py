"""The lecture's schedules: a constant rate, its exponential decay and its gradient-based control.

``exponential`` and ``grad_control`` reproduce the lecture's loops operation by operation (the
decay multiplies before each step; the control takes a reciprocal, then multiplies), so their
runs match the lecture's printed values bit for bit (``tests/test_lecture_values.py``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import ComponentState, Schedule, param
from gdsim.state import Params
from gdsim.validators import int_at_least, non_negative, number_in, positive
from gdsim.xp import global_norm, is_concrete, is_numpy, namespace, select


@attrs.frozen
class Constant(Schedule):
    """A fixed learning rate α.

    torch: the optimizer's ``lr`` with no scheduler; optax: ``constant_schedule(lr)``.
    """

    name: ClassVar[str] = "constant"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="learning rate α")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        return self.lr, state


@attrs.frozen
class Exponential(Schedule):
    """The lecture's decay: α ← K·α before steps 0, N, 2N, … (so step 0 already uses K·α).

    The product is accumulated step by step, exactly as the lecture's loop does; with K = 1 it is
    the constant schedule. torch and optax have no exact counterpart: ``ExponentialLR(gamma=K)``
    and ``optax.exponential_decay(α, 1, K)`` start from α at step 0 (gdsim's ``step`` with
    ``step_size = 1``), where this one starts from K·α.
    """

    name: ClassVar[str] = "exponential"
    array_api: ClassVar[bool] = True

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α₀")
    k: float = param(0.99, validator=number_in(0.0, 1.0, low_open=True), doc="decay factor K")
    every: int = param(1, validator=int_at_least(1), doc="multiply by K every N steps")

    def init(self) -> ComponentState:
        return {"lr": self.lr}

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        lr = state["lr"]
        due = step % self.every == 0
        if not is_concrete(due):  # a traced step: no Python branch
            lr = select(due, lr * self.k, lr)
            return lr, {"lr": lr}
        if due:
            lr = lr * self.k
            return lr, {"lr": lr}
        return lr, state


@attrs.frozen
class GradControl(Schedule):
    """The lecture's gradient-based control: α ← α · (1 / (1 + c·√‖∇f(x)‖)) each step, then step.

    The reciprocal is taken first and then multiplied in, in the order of the lecture's code
    (``alpha *= 1/(1 + c*sqrt(|g|))``): a single division rounds differently in the last bit.

    ‖∇f‖ is the global L2 norm over all parameters (|f'(x)| in one dimension); the rate only
    shrinks, faster where the slope is steep. torch and optax have no counterpart (their
    schedulers do not see the gradient).
    """

    name: ClassVar[str] = "grad_control"
    array_api: ClassVar[bool] = True
    elementwise: ClassVar[bool] = False  # the norm runs over all parameters of one run

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α₀")
    c: float = param(0.99, validator=non_negative(), doc="control gain c")

    def init(self) -> ComponentState:
        return {"lr": self.lr}

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        xp = namespace(grads)
        if not is_numpy(xp):  # the same formula on traced arrays
            norm = global_norm(grads)
            lr = state["lr"] * (1.0 / (1.0 + self.c * xp.sqrt(norm)))
            return lr, {"lr": lr}
        if len(grads) == 1:
            (g,) = grads.values()
            norm = abs(g) if np.ndim(g) == 0 else np.sqrt(np.sum(np.square(g)))
        else:
            norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))
        lr = state["lr"] * (1.0 / (1.0 + self.c * np.sqrt(norm)))
        return lr, {"lr": lr}
