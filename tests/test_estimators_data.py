"""Stochastic gradient estimators: sgd, minibatch (per_step and epoch sampling)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim import api
from gdsim.errors import ScenarioError
from gdsim.estimators import SGD, MiniBatch
from gdsim.objectives.mlp import MLP


def _scenario(estimator: Any, steps: int = 20, n: int = 40, rule: Any = "gd") -> dict:
    return {
        "objective": {
            "name": "mlp",
            "hidden": [5],
            "data": {"name": "moons", "n": n, "noise": 0.1, "seed": 3},
        },
        "runs": [
            {
                "name": "r",
                "steps": steps,
                "seed": 7,
                "rule": rule,
                "estimator": estimator,
                "schedule": {"name": "constant", "lr": 0.3},
            }
        ],
    }


def _final(raw: dict) -> dict[str, np.ndarray]:
    return api.run(raw).runs[0].final_params


@pytest.mark.parametrize("rule", ["gd", "adam"])
def test_minibatch_of_all_samples_in_order_is_full_batch(rule: str) -> None:
    full = _final(_scenario("full_batch", rule=rule))
    for sampling in ("epoch", "per_step"):
        est = {"name": "minibatch", "batch_size": 40, "sampling": sampling, "shuffle": False}
        batch = _final(_scenario(est, rule=rule))
        for k in full:
            np.testing.assert_allclose(batch[k], full[k], rtol=1e-13, atol=1e-15)


def test_minibatch_of_one_per_step_is_sgd() -> None:
    sgd = api.run(_scenario("sgd", steps=100)).runs[0]
    mb = api.run(
        _scenario({"name": "minibatch", "batch_size": 1, "sampling": "per_step"}, steps=100)
    ).runs[0]
    for k in sgd.final_params:
        assert np.array_equal(sgd.final_params[k], mb.final_params[k])
    assert sgd.epochs == mb.epochs == 2  # 100 steps of one sample over 40 samples


@settings(max_examples=30, deadline=None)
@given(
    batches=st.integers(1, 6),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    shuffle=st.booleans(),
)
def test_epoch_batches_average_to_the_full_gradient(
    batches: int, batch_size: int, seed: int, shuffle: bool
) -> None:
    n = batches * batch_size
    mlp = MLP(data={"name": "moons", "n": max(n, 2), "seed": 1}, hidden=[3])
    if mlp.num_samples() != n:
        return  # moons needs n >= 2
    rng = np.random.default_rng(seed)
    params = mlp.init(rng)
    est = MiniBatch(batch_size=batch_size, sampling="epoch", shuffle=shuffle)
    state = est.init(mlp, rng)
    total = {k: np.zeros_like(v) for k, v in params.items()}
    seen = []
    for step in range(batches):
        batch, state, ends = est.next_batch(state, rng)
        assert ends == (step == batches - 1)
        seen.append(batch)
        for k, g in mlp.value_and_grad(params, batch)[1].items():
            total[k] += g / batches
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(n))  # each sample once
    full = mlp.value_and_grad(params, None)[1]
    for k in full:
        np.testing.assert_allclose(total[k], full[k], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    ("estimator", "steps", "epochs", "seen"),
    [
        ("full_batch", 7, 7, None),
        ("sgd", 85, 2, 85),
        ({"name": "minibatch", "batch_size": 16, "sampling": "per_step"}, 7, 2, 112),
        ({"name": "minibatch", "batch_size": 16, "sampling": "epoch"}, 7, 2, 40 + 40 + 16),
        (
            {"name": "minibatch", "batch_size": 16, "sampling": "epoch", "drop_last": True},
            7,
            3,
            7 * 16,
        ),
        ({"name": "minibatch", "batch_size": 100, "sampling": "epoch"}, 3, 3, 120),
    ],
)
def test_epochs_and_samples_are_counted(estimator: Any, steps: int, epochs: int, seen: Any) -> None:
    from gdsim import engine

    spec = api.load(_scenario(estimator, steps=steps)).runs[0]
    ctx = engine.start_run(spec)
    result = engine.run(spec, context=ctx)
    assert result.epochs == epochs
    if seen is not None:
        assert ctx.estimator_state["seen"] == seen


def test_epoch_sampling_last_batch_holds_the_rest() -> None:
    mlp = MLP(data={"name": "moons", "n": 10})
    rng = np.random.default_rng(0)
    est = MiniBatch(batch_size=4, sampling="epoch")
    state = est.init(mlp, rng)
    sizes, ends = [], []
    for _ in range(6):
        batch, state, end = est.next_batch(state, rng)
        sizes.append(len(batch))
        ends.append(end)
    assert sizes == [4, 4, 2, 4, 4, 2] and ends == [False, False, True] * 2


def test_per_step_batches_have_no_repeats_and_sgd_is_uniform() -> None:
    mlp = MLP(data={"name": "moons", "n": 50})
    rng = np.random.default_rng(0)
    est = MiniBatch(batch_size=20)
    state = est.init(mlp, rng)
    for _ in range(20):
        batch, state, _ = est.next_batch(state, rng)
        assert len(np.unique(batch)) == 20 and batch.max() < 50
    sgd = SGD()
    state = sgd.init(mlp, rng)
    counts = np.zeros(50)
    for _ in range(5000):
        batch, state, _ = sgd.next_batch(state, rng)
        counts[batch] += 1
    assert counts.min() > 50 and counts.max() < 150  # 100 expected per sample


def test_data_estimator_on_an_analytic_objective_is_a_clear_error() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "defaults": {"estimator": {"name": "minibatch", "batch_size": 4}},
        "runs": [{"name": "a"}, {"name": "b", "estimator": "sgd"}],
    }
    with pytest.raises(ScenarioError) as info:
        api.load(raw)
    assert info.value.path == "defaults.estimator"
    assert "estimator 'minibatch' samples data, but objective 'quartic' has none" in str(info.value)
    raw["defaults"] = {}
    with pytest.raises(ScenarioError) as info:
        api.load(raw)
    assert info.value.path == "runs[1].estimator" and "use 'full_batch'" in str(info.value)


def test_minibatch_parameter_errors() -> None:
    for est, where in [
        ({"name": "minibatch", "batch_size": 0}, "batch_size"),
        ({"name": "minibatch", "sampling": "shuffle"}, "sampling"),
        ({"name": "minibatch", "batch": 3}, "batch"),
    ]:
        with pytest.raises(ScenarioError) as info:
            api.load(_scenario(est))
        assert info.value.path == f"runs[0].estimator.{where}"
