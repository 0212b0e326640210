"""A diverged run's trace ends at its last finite iterate, whatever the recorder's ``every``."""

from __future__ import annotations

import numpy as np
import pytest

import gdsim


def sweep(every: int, steps: int = 200, metrics: tuple[str, ...] = ()) -> dict:
    """GD on Rosenbrock from (-1.5, 2): lr 1e-2 diverges at step 6 (x ≈ -1.46e9 after 5)."""
    recorder: dict = {"name": "recorder", "every": every}
    if metrics:
        recorder["metrics"] = list(metrics)
    return {
        "scenario": {"name": "lr_sweep"},
        "objective": {"name": "rosenbrock"},
        "defaults": {
            "steps": steps,
            "rule": "gd",
            "init": {"x": [-1.5, 2.0]},
            "observers": [recorder],
            "allow_divergence": True,
        },
        "runs": [
            {"name": f"lr_{lr:g}", "schedule": {"name": "constant", "lr": lr}}
            for lr in (1e-4, 1e-3, 1e-2)
        ],
    }


@pytest.mark.parametrize("every", [1, 2, 4, 5, 10])
def test_the_trace_ends_at_the_last_finite_iterate(every: int) -> None:
    run = gdsim.run(sweep(every))["lr_0.01"]
    assert run.status == "diverged" and run.diverged_at == 6 and run.final_step == 5
    trace = run.trace
    steps = list(trace["step"])
    assert steps == sorted({0, *range(every, 6, every), 5})
    x = trace["params.x"]
    assert np.isfinite(x).all()
    assert np.array_equal(x[-1], run.final_params["x"])
    assert x[-1][0] == pytest.approx(-1.457249670902883e9, rel=1e-12)
    if 5 % every:  # step 5 was not due: its loss, rate and gradient were never seen
        assert np.isnan(trace["loss"][-1]) and np.isnan(trace["lr"][-1])
        assert np.isnan(trace["grad_norm"][-1])
    else:
        assert np.isfinite(trace["loss"][-1]) and trace["lr"][-1] == 1e-2
    assert all(len(v) == len(steps) for v in trace.values())


def test_runs_that_did_not_diverge_keep_their_trace() -> None:
    results = gdsim.run(sweep(10))
    assert list(results["lr_0.001"].trace["step"]) == list(range(0, 201, 10))


def test_a_divergence_found_after_the_budget_drops_the_last_row() -> None:
    # with 6 steps the loop ends on its budget; the final check finds the loss over max_loss
    run = gdsim.run(sweep(4, steps=6))["lr_0.01"]
    assert run.diverged_at == 6 and run.final_step == 5
    assert list(run.trace["step"]) == [0, 4, 5]
    assert np.array_equal(run.trace["params.x"][-1], run.final_params["x"])


def test_metrics_of_the_added_row_are_read_at_the_last_finite_iterate() -> None:
    run = gdsim.run(sweep(10, metrics=("train.loss",)))["lr_0.01"]
    assert run.trace["train.loss"][-1] == pytest.approx(run.final_loss, rel=1e-12)
