"""Invariants of the plugin's rules over random shapes, gradients and hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip(
    "gdsim_optimizers",
    reason="gdsim-optimizers is not installed: pip install ./plugins/gdsim-optimizers",
)

from gdsim.rules.adaptive import AdaGrad, Adam, RMSProp
from gdsim.rules.classic import GD, SGD, Momentum, Nesterov
from gdsim.testing import (
    check_elementwise_split,
    check_rule_contract,
    problems,
    run_rule,
    split_problems,
)

from gdsim_optimizers.adadelta import Adadelta
from gdsim_optimizers.adam_variants import AdaBound, Adamax, AdamW, NAdam, RAdam
from gdsim_optimizers.asgd import ASGD
from gdsim_optimizers.lookahead import Lookahead

SETTINGS = settings(max_examples=40, deadline=None)

betas = st.floats(0.0, 0.999)
epsilons = st.floats(1e-10, 1e-2)
decays = st.sampled_from([0.0, 0.01, 0.5])
lrs = st.floats(1e-4, 1.0)
placements = st.sampled_from(["inside", "outside"])


simple_inner = st.one_of(
    st.just(GD()),
    st.builds(Momentum, betas),
    st.builds(Nesterov, betas),
    st.builds(SGD, st.sampled_from([0.0, 0.9])),
    st.builds(AdaGrad, epsilons),
    st.builds(RMSProp, betas, epsilons),
    st.builds(Adam, betas, betas, epsilons),
)
plugin_rules = st.one_of(
    st.builds(AdamW, betas, betas, epsilons, st.sampled_from(["inside", "outside"]),
              st.booleans(), st.floats(0.0, 0.5)),
    st.builds(NAdam, betas, betas, epsilons, st.floats(0.0, 0.1), decays),
    st.builds(Adamax, betas, betas, epsilons, decays),
    st.builds(RAdam, betas, betas, epsilons, decays),
    st.builds(AdaBound, betas, betas, st.floats(1e-3, 1.0), st.floats(1e-4, 1.0), epsilons,
              st.booleans(), decays),
    st.builds(Adadelta, betas, epsilons, decays),
    st.builds(ASGD, st.floats(0.0, 0.1), st.floats(0.0, 1.0), st.floats(0.0, 3.0), decays),
    st.builds(Lookahead, simple_inner, st.integers(1, 4), st.floats(0.01, 1.0)),
)  # fmt: skip


@SETTINGS
@given(plugin_rules, problems(), lrs)
def test_every_plugin_rule_maps_finite_to_finite_and_keeps_shapes_and_dtypes(rule, problem, lr):
    params, grads = problem
    check_rule_contract(rule, params, grads, lr)


@SETTINGS
@given(plugin_rules, split_problems(), lrs)
def test_plugin_rules_treat_a_concatenation_like_its_parts(rule, problems, lr):
    assert rule.elementwise
    (params_a, grads_a), (params_b, grads_b) = problems
    check_elementwise_split(rule, params_a, params_b, grads_a, grads_b, lr)


@SETTINGS
@given(
    betas, betas, epsilons, st.sampled_from(["inside", "outside"]), st.booleans(), problems(), lrs
)
def test_adamw_with_zero_decay_is_adam(b1, b2, eps, where, amsgrad, problem, lr):
    params, grads = problem
    adamw = AdamW(beta1=b1, beta2=b2, eps=eps, eps_placement=where, amsgrad=amsgrad, weight_decay=0)
    adam = Adam(beta1=b1, beta2=b2, eps=eps, eps_placement=where, amsgrad=amsgrad)
    for x, y in zip(run_rule(adamw, params, grads, lr)[0], run_rule(adam, params, grads, lr)[0],
                    strict=True):  # fmt: skip
        assert all(np.array_equal(x[k], y[k]) for k in x)


@SETTINGS
@given(st.one_of(simple_inner, plugin_rules), problems(), lrs)
def test_lookahead_with_k1_and_alpha1_is_its_inner_rule(inner, problem, lr):
    params, grads = problem
    wrapped = Lookahead(inner=inner, k=1, alpha=1.0)
    for x, y in zip(run_rule(wrapped, params, grads, lr)[0], run_rule(inner, params, grads, lr)[0],
                    strict=True):  # fmt: skip
        assert all(np.array_equal(x[k], y[k]) for k in x)


@SETTINGS
@given(problems(), betas, betas, epsilons, lrs)
def test_radam_warm_up_is_bias_corrected_momentum(problem, b1, b2, eps, lr):
    """While ρₜ <= 5 (β₂ <= 0.6 keeps ρ∞ <= 4, so always) RAdam steps α V̂: no second moment."""
    params, grads = problem
    b2 = b2 * 0.6 / 0.999
    path, _ = run_rule(RAdam(beta1=b1, beta2=b2, eps=eps), params, grads, lr)
    x = params
    V = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    for t, (g, got) in enumerate(zip(grads, path, strict=True), start=1):
        V = {k: b1 * V[k] + (1 - b1) * g[k] for k in g}
        x = {k: x[k] - (V[k] / (1 - b1**t)) * lr for k in x}
        for k in x:
            assert np.array_equal(got[k], x[k])


@SETTINGS
@given(problems(), st.floats(1e-3, 1.0), st.floats(1e-4, 1.0), lrs)
def test_adabound_steps_stay_inside_the_band(problem, final_lr, gamma, lr):
    """Each coordinate moves by η·V with η in [η*(1 − 1/(γt+1)), η*(1 + 1/(γt))]."""
    params, grads = problem
    rule = AdaBound(final_lr=final_lr, gamma=gamma)
    state = rule.init(params)
    for t, g in enumerate(grads, start=1):
        zeros = {k: np.zeros(np.shape(v)) for k, v in params.items()}
        moved, state = rule.update(g, state, zeros, lr)
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        for k in g:
            V = np.abs(state["V"][k])
            step = np.abs(moved[k])
            assert np.all(step <= upper * V * (1 + 1e-12))
            assert np.all(step >= lower * V * (1 - 1e-12))
