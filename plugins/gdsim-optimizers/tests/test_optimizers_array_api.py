"""Every rule of the plugin runs traced under jax.jit and agrees with numpy (skipped without JAX),
over enough steps that RAdam rectifies, ASGD averages and Lookahead synchronises."""

from __future__ import annotations

import pytest
from gdsim.rules.adaptive import Adam
from gdsim.rules.classic import Momentum

from gdsim_optimizers.adadelta import Adadelta
from gdsim_optimizers.adam_variants import AdaBound, Adamax, AdamW, NAdam, RAdam
from gdsim_optimizers.asgd import ASGD
from gdsim_optimizers.lookahead import Lookahead

RULES = [
    AdamW(),
    AdamW(weight_decay=0.0, amsgrad=True),
    NAdam(weight_decay=0.01),
    Adamax(),
    RAdam(),
    RAdam(beta2=0.9),
    AdaBound(),
    AdaBound(amsbound=True, weight_decay=0.1),
    Adadelta(),
    ASGD(t0=3.0, lambd=0.01),
    Lookahead(inner=Adam(), k=3),
    Lookahead(inner=Momentum(mu=0.5), k=2, alpha=0.8),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_is_array_api_and_agrees_with_numpy_under_jit(rule):
    assert rule.array_api
    pytest.importorskip("jax")
    from gdsim.tracing import compare_backends

    compare_backends(rule, rtol=1e-12, steps=20)
