"""The diagnostics observer and the engine fields it reads; the data scenarios as regression
checks, and the claims their comments make (vanishing gradients by layer, symmetry)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gdsim import api, engine

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DATA_SCENARIOS = [
    "symmetry",
    "vanishing",
    "exploding",
    "sgd_vs_minibatch",
    "adaptive_classifier",
    "universal_approximation",
]


def _raw(observers: list, steps: int = 12, transforms: list | None = None) -> dict:
    run = {
        "name": "r",
        "steps": steps,
        "rule": {"name": "momentum", "mu": 0.5},
        "schedule": {"name": "constant", "lr": 0.2},
        "estimator": {"name": "minibatch", "batch_size": 8},
        "observers": observers,
    }
    if transforms:
        run["transforms"] = transforms
    return {
        "objective": {
            "name": "mlp",
            "hidden": [4, 3],
            "data": {"name": "moons", "n": 40, "split": [0.5, 0.25, 0.25]},
        },
        "runs": [run],
    }


def test_update_and_gradient_norms_per_parameter() -> None:
    observer = {"name": "diagnostics", "every": 1, "weights": True, "splits": ["train", "test"]}
    recorder = {"name": "recorder", "every": 1, "params": True, "max_param_size": 1000}
    result = api.run(_raw([observer, recorder])).runs[0]
    trace = result.outputs["diagnostics"]["trace"]
    params = result.outputs["recorder"]["trace"]
    assert list(trace["step"]) == list(range(13))
    assert list(trace["samples"]) == [8 * s for s in range(13)]
    for k in ("W1", "b1", "W2", "b2", "W3", "b3"):
        history = params[f"params.{k}"]
        updates = [np.linalg.norm(history[s] - history[s - 1]) for s in range(1, 13)]
        np.testing.assert_allclose(trace[f"update.{k}"][1:], updates, rtol=1e-12)
        weights = [np.linalg.norm(history[s]) for s in range(13)]
        np.testing.assert_allclose(trace[f"weight.{k}"], weights, rtol=1e-12)
        assert np.isnan(trace[f"grad.{k}"][0]) and np.all(trace[f"grad.{k}"][1:] > 0)
    objective = result.spec.objective
    final = objective.metrics(result.final_params, "test")
    assert trace["test.accuracy"][-1] == final["accuracy"]
    assert trace["train.loss"][-1] == objective.value(result.final_params)


def test_first_step_gradient_norms_match_the_objective() -> None:
    raw = _raw([{"name": "diagnostics", "every": 1}], steps=1)
    raw["runs"][0]["rule"] = "gd"
    spec = api.load(raw).runs[0]
    ctx = engine.start_run(spec)
    start = dict(ctx.params)
    result = engine.run(spec, context=ctx)
    grads = spec.objective.value_and_grad(start, ctx.batch)[1]
    trace = result.outputs["diagnostics"]["trace"]
    for k, g in grads.items():
        assert trace[f"grad.{k}"][1] == pytest.approx(np.linalg.norm(g), rel=1e-12)
        assert trace[f"update.{k}"][1] == pytest.approx(0.2 * np.linalg.norm(g), rel=1e-12)


def test_engine_fills_the_step_fields_only_for_observers() -> None:
    # prev_params is always kept (checkpoints need it); the diagnostics-only fields are not
    spec = api.load(_raw([])).runs[0]
    ctx = engine.start_run(spec)
    engine.run(spec, context=ctx)
    assert ctx.raw_grads is None and ctx.batch is None


def test_spread_is_zero_only_for_a_symmetric_start() -> None:
    raw = _raw([{"name": "diagnostics", "every": 4, "spread": True, "grads": False}])
    zeros = {**raw, "objective": {**raw["objective"], "initializer": "zeros"}}
    trace = api.run(zeros).runs[0].outputs["diagnostics"]["trace"]
    assert np.all(trace["spread.W1"] == 0.0) and np.all(trace["spread.W2"] == 0.0)
    trace = api.run(raw).runs[0].outputs["diagnostics"]["trace"]
    assert np.all(trace["spread.W1"] > 0.0)


def test_bad_split_name_is_a_scenario_error() -> None:
    from gdsim.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        api.load(_raw([{"name": "diagnostics", "splits": ["valid"]}]))
    assert info.value.path == "runs[0].observers[0].splits"


@pytest.mark.parametrize("name", DATA_SCENARIOS)
def test_data_scenarios_meet_their_expectations(name: str) -> None:
    results = api.run(SCENARIOS / f"{name}.toml")
    failed = [(r.name, o.name) for r in results for o in r.expectations if not o.passed]
    assert not failed
    if name == "vanishing":
        sig = results["sigmoid_xavier"].outputs["diagnostics"]["trace"]
        relu = results["relu_he"].outputs["diagnostics"]["trace"]
        assert sig["grad.W1"][1] / sig["grad.W7"][1] < 1e-3  # the first layer barely learns
        assert 0.1 < relu["grad.W1"][1] / relu["grad.W7"][1] < 10
    if name == "symmetry":
        for run in ("zeros_gd", "zeros_momentum", "zeros_adam"):
            assert np.all(results[run].outputs["diagnostics"]["trace"]["spread.W1"] == 0.0)
        assert results["xavier_adam"].final_loss < 0.2 * results["zeros_adam"].final_loss
    if name == "sgd_vs_minibatch":
        losses = [results[r].final_loss for r in ("sgd", "minibatch_32", "minibatch_512")]
        assert losses == sorted(losses) and losses[-1] < results["full_batch"].final_loss
        assert {results[r].epochs for r in ("sgd", "minibatch_32", "full_batch")} == {10}
    if name == "universal_approximation":
        losses = [results[f"width_{w}"].final_loss for w in (1, 2, 4, 8)]
        assert losses == sorted(losses, reverse=True)
