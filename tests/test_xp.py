"""gdsim.xp: the array-API helpers, on numpy (and on JAX when it is installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdsim import numerics, state
from gdsim import xp as gx


def test_namespace_is_numpy_for_numbers_numpy_and_empty_trees():
    for tree in (1.0, 3, True, None, {}, {"x": 1.0}, {"t": 0, "v": {"x": np.zeros(2)}}):
        assert gx.namespace(tree) is gx.NUMPY
    assert gx.namespace(np.float64(2.0), {"x": np.ones(3)}) is gx.NUMPY
    assert gx.is_numpy(gx.NUMPY) and gx.is_numpy(np)


def test_namespace_functions_are_numpys_own():
    xp = gx.namespace(np.ones(2))
    assert xp.sqrt is np.sqrt and xp.where is np.where and xp.maximum is np.maximum


def test_select_branches_on_scalars_and_is_elementwise_on_arrays():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert gx.select(True, a, b) is a
    assert gx.select(np.bool_(False), a, b) is b
    assert gx.select(np.array(True), a, b) is a
    np.testing.assert_array_equal(gx.select(np.array([True, False]), a, b), [1.0, 4.0])


def test_power_is_libm_on_numpy():
    base = np.linspace(0.5, 0.999, 101)
    got = gx.power(base, 37)
    assert got.dtype == np.float64
    assert [float(v) for v in got] == [math.pow(float(v), 37) for v in base]
    assert gx.power(0.9, 3) == math.pow(0.9, 3)
    np.testing.assert_array_equal(gx.power(base, 5), numerics.power(base, 5))


def test_errstate_is_numpys_on_numpy():
    with gx.errstate(gx.NUMPY, over="raise"), pytest.raises(FloatingPointError):
        np.exp(np.array([1000.0]))


def test_zeros_like_and_global_norm_keep_the_numpy_bits():
    params = {"a": np.array([3.0, -4.0]), "b": np.array(12.0)}
    zeros = gx.zeros_like(params)
    assert all(z.dtype == np.float64 and z.shape == params[k].shape for k, z in zeros.items())
    assert not any(np.any(z) for z in zeros.values())
    assert gx.global_norm(params) == 13.0 == state.global_norm(params)
    assert isinstance(gx.global_norm(params), float)
    members = {"a": np.array([[3.0, 4.0], [6.0, 8.0]])}
    np.testing.assert_array_equal(gx.global_norm(members, ensemble=True), [5.0, 10.0])


# --- on JAX ---------------------------------------------------------------------------------


@pytest.fixture
def jnp():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        yield jax.numpy


def test_namespace_of_jax_arrays_is_jax_numpy_and_mixing_raises(jnp):
    x = jnp.ones(3)
    assert gx.namespace({"x": x, "t": 0}) is jnp
    assert gx.namespace(0.5, x) is jnp
    with pytest.raises(TypeError):  # a JAX leaf first: every leaf is checked
        gx.namespace({"x": x}, np.ones(2))


def test_helpers_on_jax_agree_with_numpy(jnp):
    import jax

    base = np.linspace(0.5, 0.999, 11)
    np.testing.assert_allclose(gx.power(jnp.asarray(base), 7), gx.power(base, 7), rtol=1e-14)
    params = {"a": jnp.asarray([3.0, -4.0]), "b": jnp.asarray(12.0)}
    assert float(gx.global_norm(params)) == 13.0
    zeros = gx.zeros_like(params)
    assert all(z.dtype == jnp.float64 and not jnp.any(z) for z in zeros.values())
    with gx.errstate(jnp, over="raise"):  # a no-op, not an error
        pass

    @jax.jit
    def pick(c, a, b):
        return gx.select(c > 0, a, b), gx.minimum(c, 2.0), gx.cos(c), gx.exp(c), gx.floor(c)

    got = pick(jnp.asarray(1.5), jnp.asarray(1.0), jnp.asarray(2.0))
    assert [float(v) for v in got] == pytest.approx([1.0, 1.5, math.cos(1.5), math.exp(1.5), 1.0])
    assert not gx.is_concrete(jnp.ones(1)) and gx.is_concrete(np.ones(1)) and gx.is_concrete(2)
