"""Objectives: exact coefficients, analytic gradients against central finite differences."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim.errors import ParamError
from gdsim.objectives.polynomial import Polynomial, Quartic, parse_coefficient
from gdsim.objectives.test_functions import Beale, Booth, Himmelblau, Rastrigin, Rosenbrock
from gdsim.registry import default_registry

TWO_D = [Rosenbrock(), Himmelblau(), Beale(), Booth(), Rastrigin()]


def central_difference(objective, params, h=1e-6):
    grads = {}
    for name, value in params.items():
        flat = np.array(value, dtype=np.float64).ravel()
        g = np.zeros_like(flat)
        for i in range(flat.size):
            up, down = flat.copy(), flat.copy()
            up[i] += h
            down[i] -= h
            f_up = objective.value({**params, name: up.reshape(np.shape(value))})
            f_down = objective.value({**params, name: down.reshape(np.shape(value))})
            g[i] = (f_up - f_down) / (2 * h)
        grads[name] = g.reshape(np.shape(value))
    return grads


def test_quartic_coefficients_are_the_lectures_fractions():
    expected = [Fraction(319, 8400), Fraction(43, 4200), Fraction(-6799, 8400)]
    expected += [Fraction(-299, 840), Fraction(6)]
    assert Quartic().coefficients == tuple(float(c) for c in expected)


def test_quartic_value_matches_the_formula():
    x = 1.7
    f = 319 / 8400 * x**4 + 43 / 4200 * x**3 - 6799 / 8400 * x**2 - 299 / 840 * x + 6
    assert Quartic().value({"x": np.array(x)}) == f


@pytest.mark.parametrize("text", ["319/8400", "-6", "1.5e-3", " 2/3 "])
def test_fraction_strings_are_parsed_exactly(text):
    assert parse_coefficient(text) == float(Fraction(text.strip()))


@pytest.mark.parametrize("bad", ["1/0", "abc", True, None])
def test_bad_coefficients_are_rejected(bad):
    with pytest.raises((ValueError, ParamError)):
        Polynomial(coefficients=[1.0, bad])


@settings(max_examples=60, deadline=None)
@given(
    coefficients=st.lists(st.floats(-3, 3), min_size=1, max_size=6),
    x=st.floats(-3, 3),
)
def test_polynomial_gradient_matches_finite_difference(coefficients, x):
    poly = Polynomial(coefficients=coefficients)
    params = {"x": np.array(x)}
    _, grads = poly.value_and_grad(params)
    numeric = central_difference(poly, params)
    np.testing.assert_allclose(grads["x"], numeric["x"], rtol=1e-5, atol=1e-5)


coefficient = st.one_of(
    st.just(0.0),
    st.floats(1e-6, 1e6).flatmap(lambda m: st.sampled_from([m, -m])),
)


@settings(max_examples=200, deadline=None)
@given(
    coefficients=st.lists(coefficient, min_size=1, max_size=8),
    max_loss=st.one_of(st.floats(1e-3, 1e300), st.just(np.inf)),
    where=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=20),
    evaluation=st.sampled_from(["exact", "horner"]),
)
def test_polynomial_loss_radius_is_sound(coefficients, max_loss, where, evaluation):
    """Inside the box the loss as computed (either evaluation, rounding included) is
    acceptable: the compiled backend skips the loss there, so the box must never be too big."""
    poly = Polynomial(coefficients=coefficients, evaluation=evaluation)
    radius = poly.loss_radius(max_loss)
    if radius is None:  # not even x = 0 is surely acceptable
        assert abs(coefficients[-1]) > min(max_loss, 1e300) / 4
        return
    assert 0.0 <= radius < np.inf  # inf itself is never inside
    x = np.array([radius, -radius, *(w * radius for w in where)])
    loss, _ = poly.value_and_grad({"x": x})
    assert np.all(np.abs(loss) <= max_loss), (radius, x[np.abs(loss) > max_loss])


@pytest.mark.parametrize("objective", TWO_D, ids=lambda o: o.name)
@settings(max_examples=60, deadline=None)
@given(
    max_loss=st.one_of(st.floats(1e-3, 1e300), st.just(np.inf)),
    where=st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=1, max_size=20),
)
def test_test_function_loss_radius_is_sound(objective, max_loss, where):
    """The box's corners and points inside it: the loss as computed stays acceptable."""
    radius = objective.loss_radius(max_loss)
    if isinstance(objective, Rastrigin):  # no box: its loss grows with the coordinates
        assert radius is None
        return
    if radius is None:  # only a limit below 4 × the bound at 0 (170 at most, Himmelblau's)
        assert max_loss < 4 * 170
        return
    assert 0.0 <= radius < np.inf
    corners = [(s1, s2) for s1 in (-1, 1) for s2 in (-1, 1)]
    x = radius * np.array(corners + list(where), dtype=np.float64)
    loss, _ = objective.value_and_grad({"x": x})
    assert np.all(np.abs(loss) <= max_loss), (radius, x[np.abs(loss) > max_loss])


def test_polynomial_loss_radius_is_not_needlessly_small():
    """The lecture's quartic at the default max_loss 1e100: a box of about 1.6e25, within a
    factor 1.5 of where its leading term alone reaches a quarter of the limit."""
    radius = Quartic().loss_radius(1e100)
    leading = (1e100 / 4 / (319 / 8400)) ** 0.25
    assert leading / 1.5 < radius <= leading


@pytest.mark.parametrize("objective", TWO_D, ids=lambda o: o.name)
@settings(max_examples=40, deadline=None)
@given(point=st.tuples(st.floats(-2, 2), st.floats(-2, 2)))
def test_2d_gradient_matches_finite_difference(objective, point):
    params = {"x": np.array(point)}
    _, grads = objective.value_and_grad(params)
    numeric = central_difference(objective, params)
    scale = max(1.0, float(np.max(np.abs(numeric["x"]))))
    np.testing.assert_allclose(grads["x"], numeric["x"], rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("objective", TWO_D, ids=lambda o: o.name)
def test_documented_minima_are_stationary_with_zero_loss(objective):
    minima = objective.minima()
    assert minima
    for minimum in minima:
        loss, grads = objective.value_and_grad({"x": np.array(minimum["params"]["x"])})
        assert loss == pytest.approx(0.0, abs=1e-10)
        np.testing.assert_allclose(grads["x"], 0.0, atol=1e-6)


@pytest.mark.parametrize("objective", TWO_D, ids=lambda o: o.name)
def test_2d_objectives_accept_an_ensemble_axis(objective):
    points = np.array([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.7]])
    loss, grads = objective.value_and_grad({"x": points})
    assert loss.shape == (3,)
    for i, point in enumerate(points):
        single_loss, single_grads = objective.value_and_grad({"x": point})
        assert loss[i] == single_loss
        np.testing.assert_array_equal(grads["x"][i], single_grads["x"])


def test_every_registered_objective_is_documented():
    registry = default_registry()
    for name in registry.names("objective"):
        assert registry.get("objective", name).summary(), name


def test_a_subclass_computing_another_loss_has_no_inherited_box():
    """The parent's box bounds the parent's loss: a subclass that computes its own gets none
    (a compiled backend then checks the loss itself)."""
    import attrs

    @attrs.frozen
    class Scaled(Polynomial):
        def value_and_grad(self, params, batch=None):
            value, grads = super().value_and_grad(params, batch)
            return 100.0 * value, {"x": 100.0 * grads["x"]}

    @attrs.frozen
    class Renamed(Rosenbrock):  # the same loss: the box stays
        pass

    assert Polynomial(coefficients=(1.0, 0.0, 0.0)).loss_radius(1e3) is not None
    assert Scaled(coefficients=(1.0, 0.0, 0.0)).loss_radius(1e3) is None
    assert Renamed().loss_radius(1e3) == Rosenbrock().loss_radius(1e3)
    assert Rastrigin().loss_radius(1e3) is None
