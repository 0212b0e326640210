"""The network objective's weight initializers, registered through ``gdsim_initializers``.

Each is an :class:`gdsim.components.Initializer` drawing a (fan_in, fan_out) matrix from the
run's generator; ``scale`` is the network's ``init_scale``: the value of ``constant``, the bound
of ``uniform``, the standard deviation of ``normal`` and the gain of the Xavier (Glorot) and He
(Kaiming) families. The glorot_* and kaiming_* names are aliases of xavier_* and he_*.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from gdsim.components import Initializer
from gdsim.hookspecs import hookimpl


@attrs.frozen
class Zeros(Initializer):
    """Every weight 0 (the symmetric start that hidden units never leave)."""

    name: ClassVar[str] = "zeros"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return np.zeros((fan_in, fan_out))


@attrs.frozen
class Constant(Initializer):
    """Every weight equal to ``scale`` (symmetric too)."""

    name: ClassVar[str] = "constant"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return np.full((fan_in, fan_out), scale)


@attrs.frozen
class Uniform(Initializer):
    """Uniform on [−scale, scale)."""

    name: ClassVar[str] = "uniform"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return rng.uniform(-scale, scale, size=(fan_in, fan_out))


@attrs.frozen
class Normal(Initializer):
    """Normal with mean 0 and standard deviation ``scale``."""

    name: ClassVar[str] = "normal"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return scale * rng.standard_normal((fan_in, fan_out))


@attrs.frozen
class XavierUniform(Initializer):
    """Xavier/Glorot uniform: U(−b, b) with b = scale·√(6/(fan_in + fan_out))."""

    name: ClassVar[str] = "xavier_uniform"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        bound = scale * np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-1.0, 1.0, size=(fan_in, fan_out)) * bound


@attrs.frozen
class XavierNormal(Initializer):
    """Xavier/Glorot normal: standard deviation scale·√(2/(fan_in + fan_out))."""

    name: ClassVar[str] = "xavier_normal"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return rng.standard_normal((fan_in, fan_out)) * (scale * np.sqrt(2.0 / (fan_in + fan_out)))


@attrs.frozen
class HeUniform(Initializer):
    """He/Kaiming uniform: U(−b, b) with b = scale·√(6/fan_in)."""

    name: ClassVar[str] = "he_uniform"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=(fan_in, fan_out)) * (scale * np.sqrt(6.0 / fan_in))


@attrs.frozen
class HeNormal(Initializer):
    """He/Kaiming normal: standard deviation scale·√(2/fan_in)."""

    name: ClassVar[str] = "he_normal"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        return rng.standard_normal((fan_in, fan_out)) * (scale * np.sqrt(2.0 / fan_in))


@attrs.frozen
class GlorotUniform(XavierUniform):
    """The same as xavier_uniform, under the name other libraries use."""

    name: ClassVar[str] = "glorot_uniform"


@attrs.frozen
class GlorotNormal(XavierNormal):
    """The same as xavier_normal, under the name other libraries use."""

    name: ClassVar[str] = "glorot_normal"


@attrs.frozen
class KaimingUniform(HeUniform):
    """The same as he_uniform, under the name other libraries use."""

    name: ClassVar[str] = "kaiming_uniform"


@attrs.frozen
class KaimingNormal(HeNormal):
    """The same as he_normal, under the name other libraries use."""

    name: ClassVar[str] = "kaiming_normal"


BUILTIN_INITIALIZERS: tuple[type[Initializer], ...] = (
    Zeros,
    Constant,
    Uniform,
    Normal,
    XavierUniform,
    XavierNormal,
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    KaimingUniform,
    KaimingNormal,
)


@hookimpl
def gdsim_initializers() -> list[type]:
    return list(BUILTIN_INITIALIZERS)
