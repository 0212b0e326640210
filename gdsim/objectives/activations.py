"""The network objective's hidden-layer activations, registered through ``gdsim_activations``.

Each is an :class:`gdsim.components.Activation`: ``forward(z)`` gives ``a = f(z)`` on a new
array and ``backward(d, z, a)`` multiplies the upstream gradient ``d`` by ``f'(z)``, from
whichever of ``z`` and ``a`` is cheaper (σ' = a(1 − a), tanh' = 1 − a²).

They are written once for every array library of the array API standard: the functions come
from the arguments' namespace (numpy for numpy arrays, ``jax.numpy`` for jax arrays, also
under ``jax.jit``). The augmented assignments (``d *= a``) update numpy arrays in place and
rebind immutable ones (jax), so numpy keeps its allocation-free backward pass.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from gdsim.components import Activation, param
from gdsim.hookspecs import hookimpl
from gdsim.validators import non_negative, positive
from gdsim.xp import namespace


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1+e^(−z)) on a fresh array; e^(−z) = inf gives exactly 0.

    Callers run it under ``np.errstate(over="ignore")`` (once per loss evaluation, not per
    layer, because entering the context costs about a microsecond). On numpy the operations
    reuse one fresh array (``out=``); other libraries compute the same operations out of place.
    """
    if type(z) is np.ndarray:
        out = np.negative(z)
        np.exp(out, out=out)
        out += 1.0
        return np.reciprocal(out, out=out)
    xp = namespace(z)
    return 1.0 / (1.0 + xp.exp(-z))


@attrs.frozen
class Sigmoid(Activation):
    """The logistic function σ(z) = 1/(1 + e^(−z)); σ'(z) = σ(z)(1 − σ(z))."""

    name: ClassVar[str] = "sigmoid"
    array_api: ClassVar[bool] = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= a
        d *= 1.0 - a
        return d


@attrs.frozen
class Tanh(Activation):
    """The hyperbolic tangent; tanh'(z) = 1 − tanh(z)²."""

    name: ClassVar[str] = "tanh"
    array_api: ClassVar[bool] = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return namespace(z).tanh(z)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= 1.0 - a * a
        return d


@attrs.frozen
class ReLU(Activation):
    """max(z, 0); the derivative is 1 for z > 0 and 0 otherwise (0 at the kink)."""

    name: ClassVar[str] = "relu"
    array_api: ClassVar[bool] = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return namespace(z).maximum(z, 0.0)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= z > 0.0
        return d


@attrs.frozen
class LeakyReLU(Activation):
    """z for z > 0, s·z otherwise (s = ``negative_slope``)."""

    name: ClassVar[str] = "leaky_relu"
    array_api: ClassVar[bool] = True

    negative_slope: float = param(0.01, validator=non_negative(), doc="slope s for z < 0")

    def forward(self, z: np.ndarray) -> np.ndarray:
        return namespace(z).where(z > 0.0, z, self.negative_slope * z)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= namespace(z).where(z > 0.0, 1.0, self.negative_slope)
        return d


@attrs.frozen
class ELU(Activation):
    """z for z > 0, α(e^z − 1) otherwise; the derivative there is a + α."""

    name: ClassVar[str] = "elu"
    array_api: ClassVar[bool] = True

    alpha: float = param(1.0, validator=positive(), doc="α: the value approached as z → −∞ is −α")

    def forward(self, z: np.ndarray) -> np.ndarray:
        xp = namespace(z)
        return xp.where(z > 0.0, z, self.alpha * xp.expm1(xp.minimum(z, 0.0)))

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= namespace(z).where(z > 0.0, 1.0, a + self.alpha)
        return d


@attrs.frozen
class Softplus(Activation):
    """log(1 + e^z), a smooth ReLU; its derivative is σ(z)."""

    name: ClassVar[str] = "softplus"
    array_api: ClassVar[bool] = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return namespace(z).logaddexp(0.0, z)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= sigmoid(z)
        return d


@attrs.frozen
class Identity(Activation):
    """The identity f(z) = z: a network of linear layers (a linear model)."""

    name: ClassVar[str] = "linear"
    array_api: ClassVar[bool] = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return namespace(z).asarray(z, copy=True)

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return d


BUILTIN_ACTIVATIONS: tuple[type[Activation], ...] = (
    Sigmoid,
    Tanh,
    ReLU,
    LeakyReLU,
    ELU,
    Softplus,
    Identity,
)


@hookimpl
def gdsim_activations() -> list[type]:
    return list(BUILTIN_ACTIVATIONS)
