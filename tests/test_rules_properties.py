"""Maths invariants of the lecture's rules and schedules (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gdsim
from gdsim.rules.classic import GD, Momentum, Nesterov
from gdsim.schedules import Constant, Exponential
from tests.conftest import quartic_run

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)
learning_rates = st.floats(1e-4, 1.0)


@st.composite
def params_and_grad_sequences(draw):
    shape = draw(shapes)
    names = draw(st.lists(st.sampled_from(["x", "w", "b"]), min_size=1, max_size=3, unique=True))
    params = {n: draw(hnp.arrays(np.float64, shape, elements=finite)) for n in names}
    steps = draw(st.integers(1, 6))
    grads = [
        {n: draw(hnp.arrays(np.float64, shape, elements=finite)) for n in names}
        for _ in range(steps)
    ]
    return params, grads


def run_rule(rule, params, grad_sequence, lr):
    state = rule.init(params)
    for grads in grad_sequence:
        params, state = rule.update(grads, state, params, lr)
    return params


@pytest.mark.parametrize("rule_class", [Momentum, Nesterov], ids=lambda c: c.name)
@settings(max_examples=80, deadline=None)
@given(data=params_and_grad_sequences(), lr=learning_rates)
def test_momentum_rules_with_mu_zero_are_gd(rule_class, data, lr):
    params, grads = data
    expected = run_rule(GD(), params, grads, lr)
    actual = run_rule(rule_class(mu=0.0), params, grads, lr)
    for name in params:
        np.testing.assert_array_equal(actual[name], expected[name])


@settings(max_examples=50, deadline=None)
@given(data=params_and_grad_sequences(), lr=learning_rates)
def test_rules_are_pure_and_keep_shape_and_dtype(data, lr):
    params, grads = data
    for rule in (GD(), Momentum(mu=0.5), Nesterov(mu=0.5)):
        before = {k: v.copy() for k, v in params.items()}
        state = rule.init(params)
        new, _ = rule.update(grads[0], state, params, lr)
        for name in params:
            np.testing.assert_array_equal(params[name], before[name])
            assert np.shape(new[name]) == np.shape(params[name])
            assert np.asarray(new[name]).dtype == np.float64


@settings(max_examples=50, deadline=None)
@given(lr=learning_rates, steps=st.integers(1, 50), every=st.integers(1, 7))
def test_exponential_with_k_one_is_constant(lr, steps, every):
    constant, decay = Constant(lr=lr), Exponential(lr=lr, k=1.0, every=every)
    c_state, d_state = constant.init(), decay.init()
    for step in range(steps):
        c_lr, c_state = constant.learning_rate(c_state, step, {}, 0.0)
        d_lr, d_state = decay.learning_rate(d_state, step, {}, 0.0)
        assert c_lr == d_lr


@settings(max_examples=30, deadline=None)
@given(lr=learning_rates, k=st.floats(0.5, 1.0), every=st.integers(1, 5), steps=st.integers(1, 30))
def test_exponential_multiplies_before_steps_0_n_2n(lr, k, every, steps):
    schedule = Exponential(lr=lr, k=k, every=every)
    state = schedule.init()
    expected = lr
    for step in range(steps):
        if step % every == 0:
            expected *= k
        got, state = schedule.learning_rate(state, step, {}, 0.0)
        assert got == expected


@settings(max_examples=25, deadline=None)
@given(x0=st.floats(-6, 6), lr=st.floats(0.001, 0.2), steps=st.integers(1, 60))
def test_exponential_k_one_run_equals_constant_run(x0, lr, steps):
    def final(schedule):
        scenario = quartic_run(init={"x": x0}, steps=steps, schedule=schedule)
        return gdsim.run(scenario)[0].final_params["x"]

    np.testing.assert_array_equal(
        final({"name": "exponential", "lr": lr, "k": 1.0}), final({"name": "constant", "lr": lr})
    )
