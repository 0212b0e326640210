"""Each plugin rule against a hand-written, coordinate-by-coordinate reference of its equations.

The references use Python floats and ``math`` only, written from the docstrings. The rules were
also cross-checked once against torch 2.13's optimizers (max relative difference ≤ 1e-13 over 30
steps; torch is not needed here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip(
    "gdsim_optimizers",
    reason="gdsim-optimizers is not installed: pip install ./plugins/gdsim-optimizers",
)

from gdsim.rules.adaptive import Adam
from gdsim.rules.classic import GD, Momentum

from gdsim_optimizers.adadelta import Adadelta
from gdsim_optimizers.adam_variants import AdaBound, Adamax, AdamW, NAdam, RAdam
from gdsim_optimizers.asgd import ASGD
from gdsim_optimizers.lookahead import Lookahead

STEPS = 8
X0 = [0.5, -1.25, 3.0, 0.0, -0.01]


def gradients(seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list(rng.normal(size=len(X0)) * rng.choice([1e-3, 1.0, 30.0])) for _ in range(STEPS)]


def run_rule(rule, grads, lrs):
    params = {"w": np.array(X0)}
    state = rule.init(params)
    path = []
    for g, lr in zip(grads, lrs, strict=True):
        params, state = rule.update({"w": np.array(g)}, state, params, lr)
        path.append(np.asarray(params["w"]))
    return path, state


def run_reference(step, grads, lrs):
    """``step(t, x, g, lr, mem) -> x`` per coordinate; ``mem`` holds that coordinate's buffers."""
    xs = list(X0)
    mems = [{} for _ in xs]
    path = []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        xs = [step(t, xs[i], g[i], lr, mems[i]) for i in range(len(xs))]
        path.append(np.array(xs))
    return path, mems


def check(rule, step, seed, lrs=None, rtol=1e-13):
    grads = gradients(seed)
    lrs = lrs or [0.01] * STEPS
    got, state = run_rule(rule, grads, lrs)
    want, mems = run_reference(step, grads, lrs)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)
    return state, mems


@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw(wd, amsgrad):
    b1, b2, eps = 0.9, 0.99, 1e-8

    def step(t, x, g, lr, m):
        x = x * (1 - lr * wd)
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["S"] = b2 * m.get("S", 0.0) + (1 - b2) * g * g
        s = m["S"]
        if amsgrad:
            m["Smax"] = s = max(m.get("Smax", 0.0), m["S"])
        return x - lr * (m["V"] / (1 - b1**t)) / (math.sqrt(s / (1 - b2**t)) + eps)

    check(AdamW(beta2=b2, weight_decay=wd, amsgrad=amsgrad), step, 1)


@pytest.mark.parametrize(("psi", "wd"), [(0.004, 0.0), (0.02, 0.05)])
def test_nadam(psi, wd):
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(t, x, g, lr, m):
        g = g + wd * x
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        m["prod"] = m.get("prod", 1.0) * mu_t
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["S"] = b2 * m.get("S", 0.0) + (1 - b2) * g * g
        denom = math.sqrt(m["S"] / (1 - b2**t)) + eps
        nesterov_mean = (1 - mu_t) / (1 - m["prod"]) * g + mu_next / (1 - m["prod"] * mu_next) * m[
            "V"
        ]
        return x - lr * nesterov_mean / denom

    check(NAdam(momentum_decay=psi, weight_decay=wd), step, 2, rtol=1e-12)


def test_adamax():
    b1, b2, eps, wd = 0.9, 0.999, 1e-8, 0.01

    def step(t, x, g, lr, m):
        g = g + wd * x
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["U"] = max(b2 * m.get("U", 0.0), abs(g) + eps)
        return x - lr / (1 - b1**t) * m["V"] / m["U"]

    check(Adamax(weight_decay=wd), step, 3)


@pytest.mark.parametrize("b2", [0.999, 0.9, 0.5])
def test_radam_warm_up_then_rectified(b2):
    """β₂ = 0.999 and 0.9 pass ρₜ > 5 at t = 6, within the 8 steps (both branches); 0.5 never."""
    b1, eps, wd = 0.9, 1e-8, 0.02
    rho_inf = 2 / (1 - b2) - 1

    def step(t, x, g, lr, m):
        g = g + wd * x
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["S"] = b2 * m.get("S", 0.0) + (1 - b2) * g * g
        v_hat = m["V"] / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t <= 5:
            return x - lr * v_hat
        r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return x - lr * v_hat * r * math.sqrt(1 - b2**t) / (math.sqrt(m["S"]) + eps)

    check(RAdam(beta2=b2, weight_decay=wd), step, 4)


@pytest.mark.parametrize("amsbound", [False, True])
def test_adabound_with_a_changing_rate(amsbound):
    b1, b2, final, gamma, eps = 0.9, 0.999, 0.1, 0.01, 1e-8
    lrs = [0.01 * 0.9**i for i in range(STEPS)]

    def step(t, x, g, lr, m):
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["S"] = b2 * m.get("S", 0.0) + (1 - b2) * g * g
        s = m["S"]
        if amsbound:
            m["Smax"] = s = max(m.get("Smax", 0.0), m["S"])
        eta_star = final * lr / lrs[0]
        lower = eta_star * (1 - 1 / (gamma * t + 1))
        upper = eta_star * (1 + 1 / (gamma * t))
        eta = lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (math.sqrt(s) + eps)
        return x - min(max(eta, lower), upper) * m["V"]

    check(AdaBound(gamma=gamma, amsbound=amsbound), step, 5, lrs=lrs)


def test_adadelta():
    rho, eps, wd = 0.9, 1e-6, 0.01

    def step(t, x, g, lr, m):
        g = g + wd * x
        m["S"] = rho * m.get("S", 0.0) + (1 - rho) * g * g
        delta = math.sqrt(m.get("U", 0.0) + eps) / math.sqrt(m["S"] + eps) * g
        m["U"] = rho * m.get("U", 0.0) + (1 - rho) * delta * delta
        return x - lr * delta

    check(Adadelta(weight_decay=wd), step, 6, lrs=[1.0] * STEPS)


def test_asgd_iterates_and_average():
    lam, p, t0, wd = 0.01, 0.75, 3, 0.02

    def step(t, x, g, lr, m):
        g = g + wd * x
        eta = lr / (1 + lam * lr * (t - 1)) ** p
        mu = 1 / max(1, t - 1 - t0)
        x = x * (1 - lam * eta) - eta * g
        m["ax"] = x if mu == 1 else m["ax"] + mu * (x - m["ax"])
        return x

    state, mems = check(ASGD(lambd=lam, power=p, t0=t0, weight_decay=wd), step, 7, lrs=[0.1] * 8)
    np.testing.assert_allclose(state["ax"]["w"], [m["ax"] for m in mems], rtol=1e-13)


def test_lookahead_with_gradient_descent_inside():
    """k = 3, a = 0.5 around GD: three GD steps, then halfway back to the slow weights."""
    k, a = 3, 0.5

    def step(t, x, g, lr, m):
        m.setdefault("slow", x)
        x = x - lr * g
        if t % k == 0:
            m["slow"] = (1 - a) * m["slow"] + a * x
            x = m["slow"]
        return x

    check(Lookahead(inner=GD(), k=k, alpha=a), step, 8)


def test_lookahead_keeps_the_inner_state_across_synchronisations():
    rule = Lookahead(inner=Momentum(mu=0.9), k=2, alpha=0.5)
    params = {"w": np.array([1.0])}
    state = rule.init(params)
    for _ in range(2):
        params, state = rule.update({"w": np.array([1.0])}, state, params, 0.1)
    assert state["t"] == 2 and state["inner"]["v"]["w"][0] == pytest.approx(-0.1 * 1.9)
    assert params["w"][0] == state["slow"]["w"][0]


def test_adamw_decay_is_decoupled_from_the_adaptive_scaling():
    """With a zero gradient Adam's step is 0, so AdamW only shrinks x by (1 − αλ)."""
    rule = AdamW(weight_decay=0.1)
    params = {"w": np.array([2.0])}
    new, _ = rule.update({"w": np.array([0.0])}, rule.init(params), params, 0.5)
    assert new["w"][0] == 2.0 * (1 - 0.5 * 0.1)
    coupled = Adam(weight_decay=0.1)
    new_c, _ = coupled.update({"w": np.array([0.0])}, coupled.init(params), params, 0.5)
    assert new_c["w"][0] == pytest.approx(2.0 - 0.5, rel=1e-5)  # normalised: a full α step
