"""Mathematical invariants of the core rules, over random shapes, gradients and hyperparameters."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim.rules.adaptive import AdaGrad, Adam, RMSProp
from gdsim.rules.classic import GD, SGD, Momentum, Nesterov
from gdsim.testing import (
    check_elementwise_split,
    check_rule_contract,
    problems,
    run_rule,
    split_problems,
)
from gdsim.transforms import ClipValue, WeightDecay

SETTINGS = settings(max_examples=40, deadline=None)

nonzero = st.floats(1e-6, 1e3).flatmap(lambda m: st.sampled_from([m, -m]))
zero_or_not = st.one_of(st.just(0.0), nonzero)
lrs = st.floats(1e-4, 1.0)
epsilons = st.floats(1e-10, 1e-2)
placements = st.sampled_from(["inside", "outside"])
betas = st.floats(0.0, 0.999)


CORE_RULES = ["gd", "momentum", "nesterov", "sgd", "adagrad", "rmsprop", "adam"]


@st.composite
def core_rules(draw):
    """Any core rule with any valid hyperparameters."""
    kind = draw(
        st.sampled_from(["gd", "momentum", "nesterov", "sgd", "adagrad", "rmsprop", "adam"])
    )
    wd = draw(st.sampled_from([0.0, 0.01, 0.5]))
    if kind == "gd":
        return GD()
    if kind in ("momentum", "nesterov"):
        return (Momentum if kind == "momentum" else Nesterov)(mu=draw(betas))
    if kind == "sgd":
        mu = draw(st.sampled_from([0.0, 0.5, 0.9]))
        nesterov = mu > 0 and draw(st.booleans())
        damp = 0.0 if nesterov else draw(st.floats(0.0, 1.0))
        return SGD(momentum=mu, dampening=damp, nesterov=nesterov, weight_decay=wd)
    if kind == "adagrad":
        return AdaGrad(
            eps=draw(epsilons),
            eps_placement=draw(placements),
            initial_accumulator=draw(st.floats(0.0, 1.0)),
            weight_decay=wd,
        )
    if kind == "rmsprop":
        return RMSProp(
            beta=draw(betas),
            eps=draw(epsilons),
            eps_placement=draw(placements),
            centered=draw(st.booleans()),
            momentum=draw(st.sampled_from([0.0, 0.9])),
            weight_decay=wd,
        )
    return Adam(
        beta1=draw(betas),
        beta2=draw(betas),
        eps=draw(epsilons),
        eps_placement=draw(placements),
        bias_correction=draw(st.booleans()),
        amsgrad=draw(st.booleans()),
        weight_decay=wd,
    )


@SETTINGS
@given(core_rules(), problems(), lrs)
def test_every_core_rule_maps_finite_to_finite_and_keeps_shapes_and_dtypes(rule, problem, lr):
    params, grads = problem
    check_rule_contract(rule, params, grads, lr)


class _TransformAsRule:
    """Lets a transform through the rule checks: x ← x − α·T(g)."""

    def __init__(self, transform) -> None:
        self.transform, self.name = transform, transform.name

    def init(self, params):
        return self.transform.init(params)

    def update(self, grads, state, params, lr):
        g, state = self.transform.apply(grads, state, params)
        return {k: x - lr * g[k] for k, x in params.items()}, state


elementwise_transforms = st.one_of(
    st.builds(ClipValue, st.floats(1e-3, 10.0)), st.builds(WeightDecay, st.floats(0.0, 1.0))
)


@SETTINGS
@given(st.one_of(core_rules(), elementwise_transforms.map(_TransformAsRule)), split_problems(), lrs)
def test_elementwise_components_treat_a_concatenation_like_its_parts(component, problems, lr):
    (params_a, grads_a), (params_b, grads_b) = problems
    check_elementwise_split(component, params_a, params_b, grads_a, grads_b, lr)


# --- Adam with β₁ = 0 is RMSProp ---------------------------------------------------------------


@SETTINGS
@given(problems(), st.floats(0.0, 0.9999), epsilons, lrs)
def test_adam_with_beta1_zero_is_rmsprop_when_variants_match(problem, beta2, eps, lr):
    """No bias correction and ε inside the root on both sides: identical iterates, bit for bit."""
    params, grads = problem
    adam = Adam(beta1=0.0, beta2=beta2, eps=eps, eps_placement="inside", bias_correction=False)
    rms = RMSProp(beta=beta2, eps=eps, eps_placement="inside")
    path_a, path_r = run_rule(adam, params, grads, lr)[0], run_rule(rms, params, grads, lr)[0]
    for xa, xr in zip(path_a, path_r, strict=True):
        for k in xa:
            assert np.array_equal(xa[k], xr[k])


@SETTINGS
@given(problems(), st.floats(0.0, 0.999), epsilons, lrs)
def test_bias_corrected_adam_with_beta1_zero_is_rmsprop_with_rescaled_rate_and_eps(
    problem, beta2, eps, lr
):
    """Adam (β₁ = 0, bias-corrected, ε outside) at step t is the ε-outside RMSProp step with
    rate α√cₜ and ε√cₜ, cₜ = 1 − β₂ᵗ: α g/(√(S/cₜ) + ε) = α√cₜ g/(√S + √cₜ ε)."""
    params, grads = problem
    adam = Adam(beta1=0.0, beta2=beta2, eps=eps)
    x_adam, x_rms = params, params
    s_adam = adam.init(params)
    s_rms = RMSProp(beta=beta2).init(params)
    for t, g in enumerate(grads, start=1):
        root_c = math.sqrt(1.0 - beta2**t)
        rms = RMSProp(beta=beta2, eps=eps * root_c, eps_placement="outside")
        x_adam, s_adam = adam.update(g, s_adam, x_adam, lr)
        x_rms, s_rms = rms.update(g, s_rms, x_rms, lr * root_c)
        for k in x_adam:
            np.testing.assert_allclose(x_adam[k], x_rms[k], rtol=1e-12, atol=1e-12 * lr)
            x_rms[k] = x_adam[k]  # compare step by step, not accumulated rounding


@SETTINGS
@given(problems(elements=zero_or_not), st.floats(0.0, 0.999), epsilons, lrs)
def test_adam_with_eps_outside_stays_within_the_stated_bound_of_rmsprop(problem, beta2, eps, lr):
    """ε outside (Adam, no bias correction) vs inside (RMSProp): per coordinate and step the
    displacements differ by at most α √ε |g| / (√S (√S + ε)) (both denominators lie in
    [√S, √S + √ε] and differ by at most √ε); the iterates by the sum of these."""
    params, grads = problem
    adam = Adam(beta1=0.0, beta2=beta2, eps=eps, eps_placement="outside", bias_correction=False)
    rms = RMSProp(beta=beta2, eps=eps)
    path_a, _ = run_rule(adam, params, grads, lr)
    path_r, _ = run_rule(rms, params, grads, lr)
    S = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    bound = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    for g, xa, xr in zip(grads, path_a, path_r, strict=True):
        for k in g:
            S[k] = beta2 * S[k] + (1 - beta2) * g[k] ** 2
            s = np.sqrt(S[k])
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(
                    g[k] == 0, 0.0, lr * math.sqrt(eps) * np.abs(g[k]) / (s * (s + eps))
                )
            bound[k] = bound[k] + step
            slack = 1e-12 * (np.abs(xr[k]) + lr)
            assert np.all(np.abs(xa[k] - xr[k]) <= bound[k] * (1 + 1e-9) + slack)


# --- Adam's first step -------------------------------------------------------------------------


@SETTINGS
@given(
    problems(elements=st.one_of(st.just(0.0), nonzero), max_steps=1), betas, betas, epsilons, lrs
)
def test_adams_first_step_is_alpha_times_sign_of_g_up_to_eps(problem, b1, b2, eps, lr):
    """After bias correction V̂ = g and Ŝ = g², so the step is α g/(|g| + ε)."""
    params, grads = problem
    new, _ = Adam(beta1=b1, beta2=b2, eps=eps).update(grads[0], Adam().init(params), params, lr)
    for k, x in params.items():
        g = grads[0][k]
        moved = np.asarray(new[k]) - x
        off = np.abs(moved + lr * np.sign(g))
        assert np.all(off <= lr * eps / (np.abs(g) + eps) + 1e-12 * (np.abs(x) + lr))


# --- scale invariance --------------------------------------------------------------------------


@st.composite
def scale_invariant_rules(draw):
    """(rule(ε), rule(ε') for gradients scaled by c): ε' = c ε outside the root, c² ε inside."""
    kind = draw(st.sampled_from(["adagrad", "rmsprop", "adam"]))
    eps, where = draw(epsilons), draw(placements)
    c = draw(st.one_of(st.integers(-8, 8).map(lambda k: 2.0**k), st.floats(1e-3, 1e3)))
    eps_c = eps * c if where == "outside" else eps * c * c
    if kind == "adagrad":
        make = lambda e: AdaGrad(eps=e, eps_placement=where)  # noqa: E731
    elif kind == "rmsprop":
        beta, centered, mu = draw(betas), draw(st.booleans()), draw(st.sampled_from([0.0, 0.9]))
        make = lambda e: RMSProp(  # noqa: E731
            beta=beta, eps=e, eps_placement=where, centered=centered, momentum=mu
        )
    else:
        b1, b2, bc, ams = draw(betas), draw(betas), draw(st.booleans()), draw(st.booleans())
        make = lambda e: Adam(  # noqa: E731
            beta1=b1, beta2=b2, eps=e, eps_placement=where, bias_correction=bc, amsgrad=ams
        )
    return make(eps), make(eps_c), c


@SETTINGS
@given(scale_invariant_rules(), problems(), lrs)
def test_adaptive_rules_are_invariant_to_scaling_the_gradients(rules, problem, lr):
    """Multiplying every gradient by c > 0 changes nothing once ε is scaled alike (ε only sets
    the scale below which gradients count as small); bit for bit when c is a power of two."""
    rule, rule_c, c = rules
    params, grads = problem
    scaled = [{k: c * v for k, v in g.items()} for g in grads]
    path, _ = run_rule(rule, params, grads, lr)
    path_c, _ = run_rule(rule_c, params, scaled, lr)
    exact = math.frexp(c)[0] == 0.5
    rtol = 1e-9
    if getattr(rule, "centered", False):
        # S − M² cancels when the gradients barely vary: its rounding error, about 1e-16·S, is
        # compared with ε inside the root (max g²/ε) and its square root with ε outside it
        gmax = max(float(np.max(np.abs(v), initial=0.0)) for g in grads for v in g.values())
        noise = 1e-15 * len(grads) * gmax**2
        rtol += (noise if rule.eps_placement == "inside" else math.sqrt(noise)) / rule.eps
    for x, xc in zip(path, path_c, strict=True):
        for k in x:
            if exact:
                assert np.array_equal(x[k], xc[k])
            else:
                np.testing.assert_allclose(xc[k], x[k], rtol=rtol, atol=rtol * lr)


# --- AdaGrad's effective step ------------------------------------------------------------------


@SETTINGS
@given(
    problems(elements=nonzero, max_steps=8),
    epsilons,
    placements,
    st.floats(0.0, 1.0),
    lrs,
)
def test_adagrads_effective_step_never_grows(problem, eps, where, g0, lr):
    """ηₜ = |Δx| / |g| per coordinate is non-increasing: G only accumulates."""
    params, grads = problem
    rule = AdaGrad(eps=eps, eps_placement=where, initial_accumulator=g0)
    zeros = {k: np.zeros(np.shape(v)) for k, v in params.items()}
    state = rule.init(params)
    previous = None
    for g in grads:
        moved, state = rule.update(g, state, zeros, lr)  # from 0, Δx = −α g / r exactly
        eta = {k: np.abs(moved[k]) / np.abs(g[k]) for k in g}
        if previous is not None:
            for k in eta:
                assert np.all(eta[k] <= previous[k] * (1 + 4e-16))
        previous = eta
