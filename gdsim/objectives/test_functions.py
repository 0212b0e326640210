"""Classic two-dimensional test functions, with their known minima.

Each takes one parameter ``x`` of shape (2,) (or (E, 2) with an ensemble axis), x = (x₁, x₂).

- rosenbrock: f = (a − x₁)² + b (x₂ − x₁²)² (a = 1, b = 100); minimum (a, a²), f = 0.
- himmelblau: f = (x₁² + x₂ − 11)² + (x₁ + x₂² − 7)²; four minima with f = 0: (3, 2),
  (−2.805118, 3.131313), (−3.779310, −3.283186), (3.584428, −1.848127).
- beale: f = (1.5 − x₁ + x₁x₂)² + (2.25 − x₁ + x₁x₂²)² + (2.625 − x₁ + x₁x₂³)²;
  minimum (3, 0.5), f = 0.
- booth: f = (x₁ + 2x₂ − 7)² + (2x₁ + x₂ − 5)²; minimum (1, 3), f = 0.
- rastrigin: f = 2A + Σᵢ (xᵢ² − A cos 2πxᵢ) (A = 10); minimum (0, 0), f = 0, surrounded by
  a regular grid of local minima.

Squares and cubes are written as products, not ``**``: numpy's power rounds differently on
scalars (libm) than on arrays (SIMD), and the same run must give the same bits whether it is
stepped alone or inside an ensemble.

All are written against the array API (:mod:`gdsim.xp`) and also run traced on ``jax.numpy``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import Objective, param
from gdsim.hookspecs import hookimpl
from gdsim.objectives.loss_box import computes_as, radius_where
from gdsim.state import Params
from gdsim.validators import positive
from gdsim.xp import namespace


def _split(params: Params) -> tuple[np.ndarray, np.ndarray]:
    x = params["x"]
    return x[..., 0], x[..., 1]


def _join(g1: Any, g2: Any) -> Params:
    return {"x": namespace(g1, g2).stack([g1, g2], axis=-1)}


class TestFunction(Objective):
    """Shared behaviour of the 2-D test functions: parameter ``x`` of shape (2,)."""

    elementwise: ClassVar[bool] = True
    array_api: ClassVar[bool] = True
    default_start: ClassVar[tuple[float, float]] = (0.0, 0.0)
    known_minima: ClassVar[tuple[tuple[float, float], ...]] = ()

    def init(self, rng: np.random.Generator) -> Params:
        return {"x": np.array(self.default_start, dtype=np.float64)}

    def minima(self) -> list[dict[str, Any]]:
        found = []
        for point in self.known_minima:
            loss, _ = self.value_and_grad({"x": np.array(point)})
            found.append({"params": {"x": list(point)}, "loss": float(loss), "kind": "global"})
        return found


@attrs.frozen
class Rosenbrock(TestFunction):
    """Rosenbrock's banana valley: f = (a − x₁)² + b(x₂ − x₁²)², minimum at (a, a²)."""

    name: ClassVar[str] = "rosenbrock"
    default_start: ClassVar[tuple[float, float]] = (-1.5, 2.0)

    a: float = param(1.0, doc="position of the minimum (a, a²)")
    b: float = param(100.0, validator=positive(), doc="steepness of the valley walls")

    @property
    def known_minima(self) -> tuple[tuple[float, float], ...]:  # type: ignore[override]
        return ((self.a, self.a**2),)

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x1, x2 = _split(params)
        r = self.a - x1
        s = x2 - x1 * x1
        value = r * r + self.b * (s * s)
        return value, _join(-2.0 * r - 4.0 * self.b * x1 * s, 2.0 * self.b * s)

    def loss_radius(self, max_loss: float) -> float | None:
        """f ≤ (|a| + r)² + b(r + r²)² on the box |xᵢ| ≤ r."""
        if not computes_as(self, Rosenbrock):
            return None
        a, b = abs(self.a), self.b
        return radius_where(lambda r: (a + r) ** 2 + b * (r + r * r) ** 2, max_loss, 4)


@attrs.frozen
class Himmelblau(TestFunction):
    """Himmelblau's function: four global minima with f = 0, one local maximum."""

    name: ClassVar[str] = "himmelblau"
    known_minima: ClassVar[tuple[tuple[float, float], ...]] = (
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286170),
        (3.584428340330492, -1.848126526964404),
    )

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x1, x2 = _split(params)
        p = x1 * x1 + x2 - 11.0
        q = x1 + x2 * x2 - 7.0
        value = p * p + q * q
        return value, _join(4.0 * x1 * p + 2.0 * q, 2.0 * p + 4.0 * x2 * q)

    def loss_radius(self, max_loss: float) -> float | None:
        """f ≤ (r² + r + 11)² + (r² + r + 7)² on the box |xᵢ| ≤ r."""
        if not computes_as(self, Himmelblau):
            return None
        return radius_where(lambda r: (r * r + r + 11.0) ** 2 + (r * r + r + 7.0) ** 2, max_loss, 4)


@attrs.frozen
class Beale(TestFunction):
    """Beale's function: flat plateaus and sharp ridges, minimum at (3, 0.5)."""

    name: ClassVar[str] = "beale"
    default_start: ClassVar[tuple[float, float]] = (1.0, 1.0)
    known_minima: ClassVar[tuple[tuple[float, float], ...]] = ((3.0, 0.5),)

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x1, x2 = _split(params)
        t1 = 1.5 - x1 + x1 * x2
        x2_2 = x2 * x2
        x2_3 = x2_2 * x2
        t2 = 2.25 - x1 + x1 * x2_2
        t3 = 2.625 - x1 + x1 * x2_3
        value = t1 * t1 + t2 * t2 + t3 * t3
        g1 = 2.0 * t1 * (x2 - 1.0) + 2.0 * t2 * (x2_2 - 1.0) + 2.0 * t3 * (x2_3 - 1.0)
        g2 = 2.0 * t1 * x1 + 4.0 * t2 * x1 * x2 + 6.0 * t3 * x1 * x2_2
        return value, _join(g1, g2)

    def loss_radius(self, max_loss: float) -> float | None:
        """f ≤ (1.5 + r + r²)² + (2.25 + r + r³)² + (2.625 + r + r⁴)² on the box |xᵢ| ≤ r."""

        def size(r: float) -> float:
            return (1.5 + r + r**2) ** 2 + (2.25 + r + r**3) ** 2 + (2.625 + r + r**4) ** 2

        return radius_where(size, max_loss, 8) if computes_as(self, Beale) else None


@attrs.frozen
class Booth(TestFunction):
    """Booth's function: a convex quadratic with minimum at (1, 3)."""

    name: ClassVar[str] = "booth"
    known_minima: ClassVar[tuple[tuple[float, float], ...]] = ((1.0, 3.0),)

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x1, x2 = _split(params)
        p = x1 + 2.0 * x2 - 7.0
        q = 2.0 * x1 + x2 - 5.0
        return p * p + q * q, _join(2.0 * p + 4.0 * q, 4.0 * p + 2.0 * q)

    def loss_radius(self, max_loss: float) -> float | None:
        """f ≤ (3r + 7)² + (3r + 5)² on the box |xᵢ| ≤ r."""
        if not computes_as(self, Booth):
            return None
        return radius_where(lambda r: (3 * r + 7.0) ** 2 + (3 * r + 5.0) ** 2, max_loss, 2)


@attrs.frozen
class Rastrigin(TestFunction):
    """Rastrigin's function: a bowl covered in regularly spaced local minima, global at 0.

    No loss box: its loss sums over every coordinate it is given, a number a box cannot know.
    """

    name: ClassVar[str] = "rastrigin"
    default_start: ClassVar[tuple[float, float]] = (2.5, -2.2)
    known_minima: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, 0.0),)

    A: float = param(10.0, validator=positive(), doc="amplitude of the cosine ripples")

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x = params["x"]
        xp = namespace(x)
        two_pi = 2.0 * np.pi
        value = 2.0 * self.A + xp.sum(x * x - self.A * xp.cos(two_pi * x), axis=-1)
        grad = 2.0 * x + two_pi * self.A * xp.sin(two_pi * x)
        return value, {"x": grad}


@hookimpl
def gdsim_objectives() -> list[type]:
    return [Rosenbrock, Himmelblau, Beale, Booth, Rastrigin]
