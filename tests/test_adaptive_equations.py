"""Each core rule against a hand-written, coordinate-by-coordinate reference of its equations.

The references use Python floats and ``math`` only, written from the docstring equations, so they
share no code with the rules. The lecture defaults are also checked bit for bit against the
lecture's own one-line formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdsim.rules.adaptive import AdaGrad, Adam, RMSProp
from gdsim.rules.classic import SGD, Momentum, Nesterov

STEPS = 6
RTOL = 1e-13


def gradient_sequence(seed: int, n: int = 5) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list(rng.normal(size=n) * rng.choice([1e-3, 1.0, 30.0])) for _ in range(STEPS)]


def run_rule(rule, x0: list[float], grads: list[list[float]], lr: float) -> list[np.ndarray]:
    params = {"w": np.array(x0)}
    state = rule.init(params)
    path = []
    for g in grads:
        params, state = rule.update({"w": np.array(g)}, state, params, lr)
        path.append(np.asarray(params["w"]))
    return path


def run_reference(step_fn, x0: list[float], grads: list[list[float]]) -> list[np.ndarray]:
    """``step_fn(i, t, x, g, mem) -> x`` per coordinate i; ``mem`` is that coordinate's dict."""
    xs = list(x0)
    mems: list[dict] = [{} for _ in xs]
    path = []
    for t, g in enumerate(grads, start=1):
        xs = [step_fn(i, t, xs[i], g[i], mems[i]) for i in range(len(xs))]
        path.append(np.array(xs))
    return path


def assert_paths_close(path, ref, rtol=RTOL):
    for got, want in zip(path, ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)


X0 = [0.5, -1.25, 3.0, 0.0, -0.01]
LR = 0.05


def denom(s: float, eps: float, where: str) -> float:
    return math.sqrt(s + eps) if where == "inside" else math.sqrt(s) + eps


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("g0", [0.0, 0.3])
def test_adagrad_matches_reference(where, wd, g0):
    eps = 1e-6

    def step(i, t, x, g, m):
        g = g + wd * x
        m["G"] = m.get("G", g0) + g * g
        return x - LR * g / denom(m["G"], eps, where)

    rule = AdaGrad(eps=eps, eps_placement=where, initial_accumulator=g0, weight_decay=wd)
    grads = gradient_sequence(1)
    assert_paths_close(run_rule(rule, X0, grads, LR), run_reference(step, X0, grads))


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("mu", [0.0, 0.8])
@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_rmsprop_matches_reference(where, centered, mu, wd):
    beta, eps = 0.9, 1e-6

    def step(i, t, x, g, m):
        g = g + wd * x
        m["S"] = beta * m.get("S", 0.0) + (1 - beta) * g * g
        d = m["S"]
        if centered:
            m["M"] = beta * m.get("M", 0.0) + (1 - beta) * g
            d = max(m["S"] - m["M"] ** 2, 0.0)
        r = denom(d, eps, where)
        if mu > 0:
            m["B"] = mu * m.get("B", 0.0) + g / r
            return x - LR * m["B"]
        return x - LR * g / r

    rule = RMSProp(
        beta=beta, eps=eps, eps_placement=where, centered=centered, momentum=mu, weight_decay=wd
    )
    grads = gradient_sequence(2)
    assert_paths_close(run_rule(rule, X0, grads, LR), run_reference(step, X0, grads), rtol=1e-12)


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("bias_correction", [True, False])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.02])
def test_adam_matches_reference(where, bias_correction, amsgrad, wd):
    b1, b2, eps = 0.8, 0.95, 1e-6

    def step(i, t, x, g, m):
        g = g + wd * x
        m["V"] = b1 * m.get("V", 0.0) + (1 - b1) * g
        m["S"] = b2 * m.get("S", 0.0) + (1 - b2) * g * g
        s = m["S"]
        if amsgrad:
            m["Smax"] = max(m.get("Smax", 0.0), m["S"])
            s = m["Smax"]
        v = m["V"]
        if bias_correction:
            v, s = v / (1 - b1**t), s / (1 - b2**t)
        return x - LR * v / denom(s, eps, where)

    rule = Adam(
        beta1=b1,
        beta2=b2,
        eps=eps,
        eps_placement=where,
        bias_correction=bias_correction,
        amsgrad=amsgrad,
        weight_decay=wd,
    )
    grads = gradient_sequence(3)
    assert_paths_close(run_rule(rule, X0, grads, LR), run_reference(step, X0, grads))


def test_amsgrad_uses_the_maximum_of_the_uncorrected_second_moment():
    """A large gradient followed by small ones: AMSGrad keeps the large S, Adam forgets it."""
    grads = [[10.0], [0.1], [0.1], [0.1]]
    plain = run_rule(Adam(beta2=0.5), [0.0], grads, 1.0)
    ams = run_rule(Adam(beta2=0.5, amsgrad=True), [0.0], grads, 1.0)
    assert abs(ams[-1][0] - ams[-2][0]) < abs(plain[-1][0] - plain[-2][0])


@pytest.mark.parametrize(
    ("mu", "damp", "nesterov", "wd"),
    [(0.0, 0.0, False, 0.0), (0.0, 0.0, False, 0.1), (0.9, 0.0, False, 0.0),
     (0.9, 0.3, False, 0.01), (0.7, 0.0, True, 0.0), (0.7, 0.0, True, 0.05)],
)  # fmt: skip
def test_sgd_matches_torch_documented_algorithm(mu, damp, nesterov, wd):
    def step(i, t, x, g, m):
        g = g + wd * x
        if mu != 0:
            m["b"] = g if t == 1 else mu * m["b"] + (1 - damp) * g
            g = g + mu * m["b"] if nesterov else m["b"]
        return x - LR * g

    rule = SGD(momentum=mu, dampening=damp, nesterov=nesterov, weight_decay=wd)
    grads = gradient_sequence(4)
    assert_paths_close(run_rule(rule, X0, grads, LR), run_reference(step, X0, grads))


def test_sgd_first_step_is_not_dampened():
    rule = SGD(momentum=0.9, dampening=0.5)
    params = {"w": np.array([1.0])}
    new, state = rule.update({"w": np.array([2.0])}, rule.init(params), params, 0.1)
    assert new["w"][0] == 1.0 - 0.1 * 2.0
    assert state["b"]["w"][0] == 2.0


def test_sgd_rejects_nesterov_without_momentum_or_with_dampening():
    from gdsim.errors import ParamError

    with pytest.raises(ParamError, match="nesterov"):
        SGD(nesterov=True)
    with pytest.raises(ParamError, match="nesterov"):
        SGD(momentum=0.9, dampening=0.1, nesterov=True)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_equals_lecture_momentum_under_a_constant_rate(nesterov):
    """PyTorch's b and the lecture's v are related by v = −α b when α is constant."""
    lecture = Nesterov(mu=0.9) if nesterov else Momentum(mu=0.9)
    torch_form = SGD(momentum=0.9, nesterov=nesterov)
    grads = gradient_sequence(5)
    assert_paths_close(
        run_rule(torch_form, X0, grads, LR), run_rule(lecture, X0, grads, LR), rtol=1e-12
    )


def test_lecture_defaults_are_bit_for_bit_the_lecture_formulas():
    """With default options the rules are exactly the lecture's expressions (no rounding drift)."""
    grads = gradient_sequence(6)
    x = np.array(X0)
    G = np.zeros(5)
    S_r = np.zeros(5)
    V = np.zeros(5)
    S_a = np.zeros(5)
    xa, xr, xg = x.copy(), x.copy(), x.copy()
    for t, g in enumerate(grads, start=1):
        g = np.array(g)
        G = G + g * g
        xg = xg - LR * g / np.sqrt(G + 1e-6)
        S_r = 0.9 * S_r + (1.0 - 0.9) * (g * g)
        xr = xr - LR * g / np.sqrt(S_r + 1e-6)
        V = 0.9 * V + (1.0 - 0.9) * g
        S_a = 0.999 * S_a + (1.0 - 0.999) * (g * g)
        xa = xa - LR * (V / (1.0 - 0.9**t)) / (np.sqrt(S_a / (1.0 - 0.999**t)) + 1e-6)
    assert np.array_equal(run_rule(AdaGrad(), X0, grads, LR)[-1], xg)
    assert np.array_equal(run_rule(RMSProp(), X0, grads, LR)[-1], xr)
    assert np.array_equal(run_rule(Adam(), X0, grads, LR)[-1], xa)


def test_rules_do_not_modify_their_inputs():
    for rule in (
        AdaGrad(weight_decay=0.1),
        RMSProp(centered=True, momentum=0.5),
        Adam(amsgrad=True),
        SGD(momentum=0.9, nesterov=True),
    ):
        params = {"w": np.array(X0)}
        grads = {"w": np.ones(5)}
        state = rule.init(params)
        state = rule.update(grads, state, params, LR)[1]  # a state with non-zero buffers
        snapshot = {
            k: ({n: a.copy() for n, a in v.items()} if isinstance(v, dict) else v)
            for k, v in state.items()
        }
        rule.update(grads, state, params, LR)
        assert np.array_equal(params["w"], np.array(X0))
        assert np.array_equal(grads["w"], np.ones(5))
        for k, v in snapshot.items():
            if isinstance(v, dict):
                for n, a in v.items():
                    assert np.array_equal(state[k][n], a), (rule.name, k)
            else:
                assert state[k] == v
