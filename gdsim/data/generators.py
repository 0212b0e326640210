"""Synthetic data sets for the lecture's classifiers and the universal-approximation demo.

Every generator is a frozen attrs class whose fields are its parameters (validated like any
component parameter) and whose :meth:`Generator.generate` draws ``(X, y)`` from a seeded
generator: ``X`` is an ``(n, d)`` float64 array, ``y`` holds integer class labels ``0 … K−1``
(as float64) for classification sets and real targets for the regression set. The recipes are
written from their geometric definitions; no scikit-learn is needed.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from gdsim.components import DataSource, param
from gdsim.errors import ParamError
from gdsim.validators import int_at_least, non_negative, number_in, one_of, positive

Arrays = tuple[np.ndarray, np.ndarray]


class Generator(DataSource):
    """Base of the synthetic data sets: ``n`` samples with Gaussian ``noise``."""

    task: ClassVar[str] = "classification"
    """"classification" (integer labels) or "regression" (real targets)."""
    cacheable: ClassVar[bool] = True

    def generate(self, rng: np.random.Generator) -> Arrays:
        """Draw the samples and their targets."""
        raise NotImplementedError

    def load(self, rng: np.random.Generator) -> Arrays:
        """The data-source contract: the drawn samples."""
        return self.generate(rng)


def _split_counts(n: int, k: int) -> list[int]:
    """``n`` samples spread over ``k`` classes as evenly as possible (the first get the rest)."""
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.float64), counts)


@attrs.frozen
class Moons(Generator):
    """Two interleaving half circles: class 0 the upper arc, class 1 the lower, shifted arc."""

    name: ClassVar[str] = "moons"

    n: int = param(500, validator=int_at_least(2), doc="number of samples")
    noise: float = param(0.1, validator=non_negative(), doc="std of the Gaussian jitter")

    def generate(self, rng: np.random.Generator) -> Arrays:
        n0, n1 = _split_counts(self.n, 2)
        t0 = np.linspace(0.0, np.pi, n0)
        t1 = np.linspace(0.0, np.pi, n1)
        upper = np.column_stack([np.cos(t0), np.sin(t0)])
        lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
        X = np.vstack([upper, lower]) + self.noise * rng.standard_normal((self.n, 2))
        return X, _labels([n0, n1])


@attrs.frozen
class Circles(Generator):
    """Two concentric circles: class 0 the outer one (radius 1), class 1 the inner one."""

    name: ClassVar[str] = "circles"

    n: int = param(500, validator=int_at_least(2), doc="number of samples")
    noise: float = param(0.05, validator=non_negative(), doc="std of the Gaussian jitter")
    factor: float = param(
        0.5, validator=number_in(0.0, 1.0, low_open=True, high_open=True), doc="inner radius"
    )

    def generate(self, rng: np.random.Generator) -> Arrays:
        n0, n1 = _split_counts(self.n, 2)
        t0 = np.linspace(0.0, 2.0 * np.pi, n0, endpoint=False)
        t1 = np.linspace(0.0, 2.0 * np.pi, n1, endpoint=False)
        outer = np.column_stack([np.cos(t0), np.sin(t0)])
        inner = self.factor * np.column_stack([np.cos(t1), np.sin(t1)])
        X = np.vstack([outer, inner]) + self.noise * rng.standard_normal((self.n, 2))
        return X, _labels([n0, n1])


@attrs.frozen
class Blobs(Generator):
    """Isotropic Gaussian clusters whose centres are drawn uniformly in [−box, box]^features."""

    name: ClassVar[str] = "blobs"

    n: int = param(500, validator=int_at_least(2), doc="number of samples")
    noise: float = param(1.0, validator=non_negative(), doc="std of each cluster")
    centers: int = param(3, validator=int_at_least(2), doc="number of clusters (classes)")
    features: int = param(2, validator=int_at_least(1), doc="dimension of the samples")
    box: float = param(10.0, validator=positive(), doc="centres lie in [−box, box]^features")

    def generate(self, rng: np.random.Generator) -> Arrays:
        centres = rng.uniform(-self.box, self.box, size=(self.centers, self.features))
        counts = _split_counts(self.n, self.centers)
        y = _labels(counts)
        X = centres[y.astype(np.intp)] + self.noise * rng.standard_normal((self.n, self.features))
        return X, y


@attrs.frozen
class Spirals(Generator):
    """Interleaved Archimedean spirals, one arm per class, each turning ``turns`` times."""

    name: ClassVar[str] = "spirals"

    n: int = param(500, validator=int_at_least(2), doc="number of samples")
    noise: float = param(0.1, validator=non_negative(), doc="std of the Gaussian jitter")
    classes: int = param(2, validator=int_at_least(2), doc="number of arms (classes)")
    turns: float = param(1.5, validator=positive(), doc="how many turns each arm makes")

    def generate(self, rng: np.random.Generator) -> Arrays:
        counts = _split_counts(self.n, self.classes)
        parts = []
        for k, m in enumerate(counts):
            r = np.linspace(0.05, 1.0, m)
            theta = 2.0 * np.pi * (self.turns * r + k / self.classes)
            parts.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        X = np.vstack(parts) + self.noise * rng.standard_normal((self.n, 2))
        return X, _labels(counts)


@attrs.frozen
class Linear(Generator):
    """A linearly separable set: uniform points in [−1, 1]^features labelled by a random plane.

    Points closer than ``margin`` to the plane are pushed out to the margin, so with
    ``noise = 0`` the classes are separated by a gap of 2·margin; noise then blurs it.
    """

    name: ClassVar[str] = "linear"

    n: int = param(500, validator=int_at_least(2), doc="number of samples")
    noise: float = param(0.0, validator=non_negative(), doc="std of the Gaussian jitter")
    features: int = param(2, validator=int_at_least(1), doc="dimension of the samples")
    margin: float = param(0.1, validator=non_negative(), doc="half-width of the empty band")

    def generate(self, rng: np.random.Generator) -> Arrays:
        w = rng.standard_normal(self.features)
        w /= np.linalg.norm(w)
        X = rng.uniform(-1.0, 1.0, size=(self.n, self.features))
        s = X @ w
        side = np.where(s >= 0.0, 1.0, -1.0)
        X += np.outer(np.maximum(self.margin - np.abs(s), 0.0) * side, w)
        X += self.noise * rng.standard_normal(X.shape)
        return X, (side > 0).astype(np.float64)


REGRESSION_FUNCTIONS = ("sin", "abs", "step", "square", "gauss", "sawtooth")


def _target(function: str, x: np.ndarray) -> np.ndarray:
    if function == "sin":
        return np.sin(x)
    if function == "abs":
        return np.abs(x)
    if function == "step":
        return (x >= 0.0).astype(np.float64)
    if function == "square":
        return x * x
    if function == "gauss":
        return np.exp(-x * x)
    return x / np.pi - np.floor(x / np.pi + 0.5)  # sawtooth with period π


@attrs.frozen
class Regression1D(Generator):
    """A 1-D regression target y = f(x) + noise·ε on x uniform in [low, high].

    ``function`` is one of sin, abs, step, square, gauss (exp(−x²)) or sawtooth (period π);
    used to show a one-hidden-layer network approximating it better as its width grows.
    """

    name: ClassVar[str] = "regression1d"
    task: ClassVar[str] = "regression"

    n: int = param(200, validator=int_at_least(2), doc="number of samples")
    noise: float = param(0.0, validator=non_negative(), doc="std of the Gaussian target noise")
    function: str = param("sin", validator=one_of(*REGRESSION_FUNCTIONS), doc="the target f")
    low: float = param(-3.0, validator=number_in(), doc="left end of the x interval")
    high: float = param(3.0, validator=number_in(), doc="right end of the x interval")

    def __attrs_post_init__(self) -> None:
        if not self.high > self.low:
            raise ParamError("high", f"expected a number > low = {self.low!r}, got {self.high!r}")

    def generate(self, rng: np.random.Generator) -> Arrays:
        x = np.sort(rng.uniform(self.low, self.high, size=self.n))
        y = _target(self.function, x) + self.noise * rng.standard_normal(self.n)
        return x[:, None], y


GENERATORS: dict[str, type[Generator]] = {
    cls.name: cls for cls in (Moons, Circles, Blobs, Spirals, Linear, Regression1D)
}
"""The synthetic data sets by name."""
