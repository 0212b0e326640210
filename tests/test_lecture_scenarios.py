"""The lecture tour's scenarios: each meets its expectations, and the comparisons they stand for
(across runs, which per-run expectations cannot state) hold."""

from __future__ import annotations

import numpy as np
import pytest

import gdsim
from tests.conftest import SCENARIOS

TOUR = [
    "lr_schedules",
    "lecture_classifier",
    "initializers",
    "activations",
    "combined_optimizer",
    "no_free_lunch",
    "early_stopping",
    "good_practices",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every tour scenario run once, from a scratch folder (early_stopping writes checkpoints)."""
    folder = tmp_path_factory.mktemp("tour")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        return {name: gdsim.run(SCENARIOS / f"{name}.toml") for name in TOUR}


def final_losses(results) -> dict[str, float]:
    return {r.name: r.final_loss for r in results}


def metric(run, name: str) -> float:
    split, _, key = name.partition(".")
    return run.spec.objective.metrics(run.final_params, split)[key]


@pytest.mark.parametrize("name", TOUR)
def test_tour_scenario_meets_its_expectations(results, name):
    failed = [
        f"{r.name}: {o.name} expected {o.expected}, got {o.actual}"
        for r in results[name]
        for o in r.expectations
        if not o.passed
    ]
    assert not failed


def test_adaptive_rules_beat_gd_in_the_lecture_order(results):
    loss = final_losses(results["lecture_classifier"])
    assert loss["gd"] > loss["adagrad"] > loss["rmsprop"] > loss["adam"]


def test_no_free_lunch_ranking_flips(results):
    loss = final_losses(results["no_free_lunch"])
    assert loss["quartic_momentum"] < min(loss["quartic_gd"], loss["quartic_nesterov"])
    assert loss["bowl_gd"] < loss["bowl_nesterov"] < loss["bowl_momentum"] < loss["bowl_adam"]


def test_zero_initialization_moves_only_the_output_bias(results):
    zeros = results["initializers"]["zeros"].final_params
    moved = [k for k, v in zeros.items() if np.any(v != 0.0)]
    assert moved == ["b5"]


def test_constant_initialization_never_breaks_the_symmetry(results):
    W2 = results["initializers"]["constant_0.1"].final_params["W2"]
    assert np.array_equal(W2, np.broadcast_to(W2[:, :1], W2.shape))  # every unit the same


def test_early_stopping_reports_weights_that_generalise_better(results):
    runs = results["early_stopping"]
    stopped, full = runs["early_stopping"], runs["to_the_end"]
    assert stopped.status == "stopped_early" and stopped.final_step < stopped.steps
    assert metric(stopped, "validation.loss") < metric(full, "validation.loss")
    assert metric(stopped, "train.loss") > metric(full, "train.loss")  # it stopped fitting
    reloaded, scratch = runs["reloaded"], runs["from_scratch"]
    assert metric(reloaded, "validation.loss") < metric(scratch, "validation.loss")


def test_good_practices_seeds(results):
    runs = results["good_practices"]
    again = gdsim.run(SCENARIOS / "good_practices.toml", only=["seed_1"])["seed_1"]
    for name, value in runs["seed_1"].final_params.items():
        assert np.array_equal(again.final_params[name], value)  # a fixed seed: the same bits
    assert runs["seed_1"].final_loss != runs["seed_2"].final_loss


def test_every_toggle_of_good_practices_helps(results):
    runs = results["good_practices"]
    pairs = [
        ("raw_inputs", "standardized_inputs", "validation.loss"),
        ("no_clipping", "clip_norm", "validation.loss"),
        ("no_weight_decay", "weight_decay", "validation.loss"),
        ("no_clipping", "warmup", "validation.loss"),
    ]
    for off, on, name in pairs:
        assert metric(runs[on], name) < metric(runs[off], name), (off, on)


def test_sgd_vs_minibatch_runs_see_the_same_16000_samples():
    """Q12/Q14: every run's budget is 10 epochs of the 1 600 training samples, exactly."""
    runs = gdsim.run(SCENARIOS / "sgd_vs_minibatch.toml")
    for run in runs:
        samples = run.outputs["diagnostics"]["trace"]["samples"]
        assert int(samples[-1]) == 16_000, run.name
        assert run.epochs == 10, run.name


def test_universal_approximation_width_32_ends_worse_than_width_8():
    """Q8 says so: the wider network stalls at constant-step Adam, it is not hidden."""
    runs = gdsim.run(SCENARIOS / "universal_approximation.toml")
    losses = {r.name: r.final_loss for r in runs}
    assert losses["width_1"] > losses["width_2"] > losses["width_4"] > losses["width_8"]
    assert losses["width_32"] > losses["width_8"]
    steps = runs["width_32"].outputs["diagnostics"]["trace"]["step"]
    assert np.diff(steps).max() <= 50  # curves drawn from a record every 50 steps
