"""One-dimensional polynomials, among them the lecture's quartic.

Coefficients are given highest degree first (numpy.polyval order). Exact fractions are accepted
as strings such as ``"319/8400"`` and rounded once to float64. The value and the derivative are
evaluated term by term in the lecture's order, e.g. for a quartic
``f'(x) = 4·a·x**3 + 3·b·x**2 + 2·c·x + d``, so that its printed trajectories are reproduced
to the last bit.

The powers ``x**k`` are computed by :func:`int_powers` in double-double arithmetic and rounded
once, not by ``numpy.power``: numpy's power rounds differently on arrays (SIMD kernels, up to a
few ulp) than on scalars (libm), which would make an ensemble of runs differ from the same runs
stepped one by one. Only IEEE multiplications and additions are used, so the result is the
same for scalars, 0-d arrays and arrays, on every platform, and reproduces the lecture's values.

Both evaluations are written against the array API (:mod:`gdsim.xp`): traced on ``jax.numpy``
the exact powers fix up overflows with ``where`` instead of a branch.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import Objective, param
from gdsim.errors import ParamError
from gdsim.hookspecs import hookimpl
from gdsim.objectives.loss_box import computes_as, radius_where
from gdsim.state import Params
from gdsim.validators import one_of
from gdsim.xp import errstate, is_concrete, namespace

QUARTIC_COEFFICIENTS: tuple[str, ...] = ("319/8400", "43/4200", "-6799/8400", "-299/840", "6")
"""The lecture's f(x) = 319/8400 x⁴ + 43/4200 x³ − 6799/8400 x² − 299/840 x + 6."""


def parse_coefficient(value: Any) -> float:
    """A float64 from a number or an exact fraction string ("319/8400", "-6", "1.5e-3")."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a fraction string, got {value!r}")
    number: float | None = None
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            number = float(Fraction(value.strip()))
    except (ValueError, ZeroDivisionError, OverflowError):
        number = None
    if number is not None and math.isfinite(number):
        return number
    shown = f"an integer of {value.bit_length()} bits" if isinstance(value, int) else repr(value)
    raise ValueError(f"expected a number or a fraction string like '319/8400', got {shown}")


_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a float64 into two 26-bit halves


def _split(a: Any) -> tuple[Any, Any]:
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def int_powers(x: Any, n: int) -> list[Any]:
    """``[1.0, x, x**2, …, x**n]``, each power correctly rounded in practice, elementwise.

    Each power is kept as an unevaluated sum hi + lo (double-double): the product by ``x`` is
    split exactly with Dekker's algorithm, so the low part carries the rounding error of the
    high part and the power is rounded to float64 only once (``x*x`` already is). Only IEEE
    ``*``, ``+`` and ``-`` are used, hence identical results for numpy scalars, 0-d arrays and
    arrays (where ``numpy.power`` rounds differently). Where a power overflows it is the plain
    product (±inf); NaN stays NaN. Results in the subnormal range may be off by an ulp.
    """
    if isinstance(x, float):  # Python floats: the same IEEE operations, no numpy overhead
        return _int_powers(x, n)
    with errstate(namespace(x), over="ignore", invalid="ignore"):
        return _int_powers(x, n)


def _int_powers(x: Any, n: int) -> list[Any]:
    powers: list[Any] = [1.0, x]
    if n < 2:
        return powers[: n + 1]
    xh, xl = _split(x)
    hi = x * x
    powers.append(hi)
    lo = ((xh * xh - hi) + 2.0 * (xh * xl)) + xl * xl  # x² = hi + lo exactly
    for k in range(3, n + 1):
        p = hi * x
        hh, hl = _split(hi)
        lo = (((hh * xh - p) + hh * xl + hl * xh) + hl * xl) + lo * x
        value = p + lo
        powers.append(value)
        if k < n:
            lo = lo - (value - p)
            hi = value
    # NaN from an overflowing split propagates upwards, so checking the top power suffices
    top = powers[-1]
    if not is_concrete(top):  # traced: the fix-up below, branch-free (a no-op where finite)
        xp = namespace(top)
        for k in range(3, n + 1):
            powers[k] = xp.where(xp.isfinite(powers[k]), powers[k], powers[k - 1] * x)
        return powers
    if not (math.isfinite(top) if np.ndim(top) == 0 else np.isfinite(top).all()):
        for k in range(3, n + 1):
            plain = powers[k - 1] * x
            powers[k] = (
                (powers[k] if math.isfinite(powers[k]) else plain)
                if np.ndim(plain) == 0
                else np.where(np.isfinite(powers[k]), powers[k], plain)
            )
    return powers


def _convert_coefficients(values: Any) -> tuple[float, ...]:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise ParamError("coefficients", f"expected a list of numbers, got {values!r}")
    try:
        coefficients = tuple(parse_coefficient(v) for v in values)
    except ValueError as exc:
        raise ParamError("coefficients", str(exc)) from None
    if not coefficients:
        raise ParamError("coefficients", "expected at least one coefficient, got []")
    return coefficients


@attrs.frozen
class Polynomial(Objective):
    """A polynomial in one variable x, coefficients highest degree first."""

    name: ClassVar[str] = "polynomial"
    elementwise: ClassVar[bool] = True
    array_api: ClassVar[bool] = True

    coefficients: tuple[float, ...] = param(
        converter=_convert_coefficients,
        doc="highest degree first; numbers or exact fractions as strings ('319/8400')",
    )
    x0: float = param(0.0, doc="default initial x when a run gives no init")
    evaluation: str = param(
        "exact",
        validator=one_of("exact", "horner"),
        doc="'exact': term by term with correctly rounded powers (reproduces the lecture); "
        "'horner': Horner's scheme, several times faster, rounds differently",
    )

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[Polynomial]:
        """What ``gdsim check-plugin`` checks: a quadratic and the lecture's quartic, both ways."""
        quartic = ("319/8400", "43/4200", "-6799/8400", "-299/840", "6")
        return [cls(coefficients=(1.0, -2.0, 0.5)), cls(coefficients=quartic, evaluation="horner")]

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    def init(self, rng: np.random.Generator) -> Params:
        return {"x": np.array(self.x0, dtype=np.float64)}

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x = params["x"]
        n = self.degree
        c = self.coefficients
        if self.evaluation == "horner":
            return _horner(c, x)
        if is_concrete(x) and np.ndim(x) == 0:  # one run: Python floats, same bits, faster
            value, grad = self._terms(float(x), n, c)
            return np.float64(value), {"x": np.float64(grad)}
        value, grad = self._terms(x, n, c)
        return value, {"x": grad}

    @staticmethod
    def _terms(x: Any, n: int, c: tuple[float, ...]) -> tuple[Any, Any]:
        """The value and derivative term by term, in the lecture's order."""
        xp = int_powers(x, n)
        # value: c0·x**n + c1·x**(n-1) + … + cn, summed left to right
        value = c[0] * xp[n] if n > 0 else c[0] + 0.0 * x
        for k in range(1, n + 1):
            power = n - k
            value = value + (c[k] * xp[power] if power > 0 else c[k])
        # derivative: n·c0·x**(n-1) + (n-1)·c1·x**(n-2) + … + c(n-1)
        if n == 0:
            grad = 0.0 * x
        else:
            grad = n * c[0] * xp[n - 1] if n > 1 else c[0] + 0.0 * x
            for k in range(1, n):
                power = n - k - 1
                grad = grad + ((n - k) * c[k] * xp[power] if power > 0 else c[k])
        return value, grad

    def minima(self) -> list[dict[str, Any]]:
        return _polynomial_minima(self)

    def loss_radius(self, max_loss: float) -> float | None:
        """Where the coefficients' absolute sum Σ|cₖ|·r^(n−k), which bounds |f(x)| for
        |x| <= r, stays within a quarter of ``max_loss`` (at most 1e300): the factor 4 covers
        either evaluation's rounding (at most about (2n + 2)·2⁻⁵³ of that sum)."""
        if not computes_as(self, Polynomial):
            return None
        return bounded_radius(self.coefficients, max_loss)


def _horner(c: tuple[float, ...], x: Any) -> tuple[Any, Params]:
    """Value and derivative by Horner's scheme: v ← v·x + cₖ, g ← g·x + (n−k)·cₖ."""
    n = len(c) - 1
    # in place on arrays this function created itself (no temporaries); scalars just rebind
    value = c[0] * x + c[1] if n >= 1 else c[0] + 0.0 * x
    for k in range(2, n + 1):
        value *= x
        value += c[k]
    first = n * c[0] * x + (n - 1) * c[1] if n >= 2 else None
    grad = first if first is not None else (c[0] if n == 1 else 0.0) + 0.0 * x
    for k in range(2, n):
        grad *= x
        grad += (n - k) * c[k]
    return value, {"x": grad}


def bounded_radius(coefficients: tuple[float, ...], max_loss: float) -> float | None:
    """The loss box of a polynomial: the largest r with Σ|cₖ|·r^(n−k) within a quarter of
    ``max_loss`` (:func:`gdsim.objectives.loss_box.radius_where`)."""
    n = len(coefficients) - 1
    sizes = [abs(c) for c in coefficients]

    def size(r: float) -> float:
        partial = 0.0  # Horner's partial sums, bounded: none may overflow either
        for c in sizes:
            partial = partial * r + c
            if partial > 1e300:
                return math.inf
        terms = []
        for k, c in enumerate(sizes):  # |c|·r·…·r from the coefficient: no early underflow
            term = c
            for _ in range(n - k):
                term *= r
            terms.append(term)
        return math.fsum(terms)

    return radius_where(size, max_loss, n)


def _polynomial_minima(poly: Polynomial) -> list[dict[str, Any]]:
    """Real local minima from the roots of the derivative, the lowest marked global."""
    if poly.degree < 2:
        return []
    deriv = np.polyder(np.array(poly.coefficients))
    second = np.polyder(deriv)
    found = []
    for root in np.roots(deriv):
        if abs(root.imag) > 1e-9:
            continue
        x = float(root.real)
        if np.polyval(second, x) > 0:
            loss = float(np.polyval(np.array(poly.coefficients), x))
            found.append({"params": {"x": x}, "loss": loss, "kind": "local"})
    if found:
        best = min(found, key=lambda m: m["loss"])
        best["kind"] = "global"
    return sorted(found, key=lambda m: m["params"]["x"])


@attrs.frozen
class Quartic(Polynomial):
    """The lecture's quartic: global minimum near x = 3.27, local minimum near x = −3.25."""

    name: ClassVar[str] = "quartic"

    coefficients: tuple[float, ...] = param(
        QUARTIC_COEFFICIENTS,
        converter=_convert_coefficients,
        doc="fixed: 319/8400, 43/4200, -6799/8400, -299/840, 6",
    )
    x0: float = param(5.0, doc="default initial x when a run gives no init")

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[Polynomial]:
        """What ``gdsim check-plugin`` checks: the quartic, evaluated both ways."""
        return [cls(), cls(evaluation="horner")]

    def __attrs_post_init__(self) -> None:
        if self.coefficients != _convert_coefficients(QUARTIC_COEFFICIENTS):
            raise ParamError(
                "coefficients", "the quartic's coefficients are fixed; use 'polynomial' instead"
            )


@hookimpl
def gdsim_objectives() -> list[type]:
    return [Polynomial, Quartic]
