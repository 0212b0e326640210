"""Gradient transforms: their equations, the noise generator's determinism, and scenario use."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdsim import api
from gdsim.errors import ScenarioError
from gdsim.testing import check_transform_contract
from gdsim.transforms import ClipNorm, ClipValue, GradientNoise, WeightDecay

PARAMS = {"w": np.array([1.0, -2.0, 3.0]), "b": np.array(0.5)}
GRADS = {"w": np.array([0.5, -4.0, 2.0]), "b": np.array(-3.0)}


def test_clip_value_clips_each_coordinate():
    g, _ = ClipValue(max_value=1.0).apply(GRADS, {}, PARAMS)
    assert np.array_equal(g["w"], [0.5, -1.0, 1.0]) and g["b"] == -1.0


def test_clip_norm_rescales_the_global_norm_and_keeps_the_direction():
    norm = np.sqrt(0.25 + 16 + 4 + 9)
    g, _ = ClipNorm(max_norm=2.0).apply(GRADS, {}, PARAMS)
    clipped = np.sqrt(sum(np.sum(v**2) for v in g.values()))
    assert clipped == pytest.approx(2.0, rel=1e-15)
    np.testing.assert_allclose(g["w"], GRADS["w"] * 2.0 / norm, rtol=1e-15)
    np.testing.assert_allclose(g["b"], GRADS["b"] * 2.0 / norm, rtol=1e-15)


def test_clip_norm_leaves_small_gradients_alone():
    g, _ = ClipNorm(max_norm=100.0).apply(GRADS, {}, PARAMS)
    assert g is GRADS


def test_weight_decay_adds_lambda_x():
    g, _ = WeightDecay(decay=0.1).apply(GRADS, {}, PARAMS)
    np.testing.assert_array_equal(g["w"], GRADS["w"] + 0.1 * PARAMS["w"])
    assert g["b"] == GRADS["b"] + 0.1 * PARAMS["b"]


def apply_n(transform, n, grads=GRADS):
    state = transform.init(PARAMS)
    out = []
    for _ in range(n):
        g, state = transform.apply(grads, state, PARAMS)
        out.append(g)
    return out, state


def test_gradient_noise_is_reproducible_from_its_own_seed():
    a, _ = apply_n(GradientNoise(std=0.1, seed=3), 3)
    b, _ = apply_n(GradientNoise(std=0.1, seed=3), 3)
    c, _ = apply_n(GradientNoise(std=0.1, seed=4), 3)
    for x, y in zip(a, b, strict=True):
        assert all(np.array_equal(x[k], y[k]) for k in x)
    assert not np.array_equal(a[0]["w"], c[0]["w"])
    assert not np.array_equal(a[0]["w"], a[1]["w"])  # fresh noise every step


def test_gradient_noise_draws_from_the_documented_stream():
    """Names in order, each a standard normal of the gradient's shape from PCG64(seed), × σ."""
    (g,), state = apply_n(GradientNoise(std=0.1, seed=7), 1)
    rng = np.random.Generator(np.random.PCG64(7))
    expected_w = GRADS["w"] + 0.1 * rng.standard_normal(3)
    expected_b = GRADS["b"] + 0.1 * rng.standard_normal(())
    assert np.array_equal(g["w"], expected_w) and g["b"] == expected_b
    assert state["rng"].bit_generator.state == rng.bit_generator.state


def test_gradient_noise_statistics_and_annealing():
    zero = {"w": np.zeros(20000)}
    t = GradientNoise(std=0.5, gamma=0.55, seed=1)
    state = t.init(zero)
    draws = []
    for _ in range(4):
        g, state = t.apply(zero, state, zero)
        draws.append(g["w"])
    for step, d in enumerate(draws):
        sigma = 0.5 / (1 + step) ** (0.55 / 2)
        assert abs(np.mean(d)) < 4 * sigma / np.sqrt(d.size)
        assert np.std(d) == pytest.approx(sigma, rel=0.03)


def test_gradient_noise_with_zero_std_changes_nothing():
    (g,), _ = apply_n(GradientNoise(std=0.0), 1)
    assert all(np.array_equal(g[k], GRADS[k]) for k in g)


def test_gradient_noise_state_resumes_from_bit_generator_state():
    """What a checkpoint saves (bit_generator.state and t) continues the stream exactly."""
    t = GradientNoise(std=1.0, seed=11)
    full, _ = apply_n(t, 4)
    _, state = apply_n(t, 2)
    saved = {"t": state["t"], "bg": state["rng"].bit_generator.state}
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = saved["bg"]
    restored = {"t": saved["t"], "rng": rng}
    for expected in full[2:]:
        g, restored = t.apply(GRADS, restored, PARAMS)
        assert np.array_equal(g["w"], expected["w"])


arrays = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), elements=st.floats(-1e3, 1e3)
)
transforms = st.one_of(
    st.builds(ClipValue, st.floats(1e-3, 10.0)),
    st.builds(ClipNorm, st.floats(1e-3, 10.0)),
    st.builds(WeightDecay, st.floats(0.0, 1.0)),
    st.builds(GradientNoise, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 100)),
)


@settings(max_examples=40, deadline=None)
@given(transforms, arrays, st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=3))
def test_every_transform_is_pure_finite_and_keeps_shapes(transform, x, scales):
    params = {"x": x}
    grads = [{"x": s * np.ones_like(x)} for s in scales]
    check_transform_contract(transform, params, grads)


def quartic_run(**run):
    return {
        "objective": {"name": "quartic"},
        "runs": [{"init": {"x": 5.0}, "steps": 3, **run}],
    }


def test_transforms_chain_in_order_from_the_scenario():
    """weight decay then clip: the clipped gradient has norm 1; clip then decay would not."""
    spec = quartic_run(
        rule="gd",
        schedule={"name": "constant", "lr": 0.1},
        transforms=[
            {"name": "weight_decay", "decay": 10.0},
            {"name": "clip_norm", "max_norm": 1.0},
        ],
        steps=1,
    )
    result = api.run(spec).runs[0]
    assert result.final_params["x"] == pytest.approx(5.0 - 0.1, rel=1e-15)


def test_gradient_noise_in_a_scenario_is_deterministic():
    spec = quartic_run(transforms=[{"name": "gradient_noise", "std": 1.0, "seed": 5}], steps=20)
    a = api.run(spec).runs[0].final_params["x"]
    b = api.run(spec).runs[0].final_params["x"]
    plain = api.run(quartic_run(steps=20)).runs[0].final_params["x"]
    assert a == b and a != plain


def test_bad_transform_parameter_names_its_key_path():
    spec = quartic_run(transforms=["clip_value", {"name": "clip_norm", "max_norm": -1.0}])
    with pytest.raises(ScenarioError) as err:
        api.load(spec)
    assert "runs[0].transforms[1].max_norm" in str(err.value)
    spec = quartic_run(transforms=[{"name": "clip_nrom"}])
    with pytest.raises(ScenarioError, match="did you mean 'clip_norm'"):
        api.load(spec)
