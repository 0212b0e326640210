"""Engine behaviour the observers rely on: stop requests, the last-called checkpoint, tolerances."""

from __future__ import annotations

from pathlib import Path

import gdsim
from gdsim import checkpoint as ckpt


def quartic(**run: object) -> dict:
    return {
        "scenario": {"name": "tol"},
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "gd", "init": {"x": 5.0}, "schedule": {"name": "constant", "lr": 0.1}, **run}
        ],
    }


def test_step_size_tolerance_still_ends_the_run_and_observers_see_that_step(tmp_path: Path) -> None:
    scenario = quartic(
        steps=1000,
        tolerance={"step_size": 1e-6},
        observers=[
            {"name": "checkpoint", "every": 1000, "dir": str(tmp_path)},
            {"name": "recorder"},
        ],
    )
    result = gdsim.run(scenario)["gd"]
    assert result.status == "converged"
    assert result.stop_reason == "step size <= 1e-06"
    trace = result.trace
    assert trace["step"][-1] == result.steps  # the recorder saw the converging step
    step = abs(trace["params.x"][-1] - trace["params.x"][-2])
    assert step <= 1e-6 < abs(trace["params.x"][-2] - trace["params.x"][-3])
    # the end checkpoint resumes to the same converged result, without another step
    files = ckpt.checkpoint_files(tmp_path / "tol" / "gd")
    assert [s for s, _ in files] == [result.steps]
    again = gdsim.resume(files[-1][1])["gd"]
    assert (again.status, again.steps, again.final_params) == (
        "converged",
        result.steps,
        result.final_params,
    )


def test_checkpoint_runs_after_observers_listed_after_it(tmp_path: Path) -> None:
    scenario = quartic(
        steps=10,
        observers=[
            {"name": "checkpoint", "every": 5, "dir": str(tmp_path)},
            {"name": "recorder"},
        ],
    )
    gdsim.run(scenario)
    saved = ckpt.load(tmp_path / "tol" / "gd" / "step-000000005.npz")
    recorder = saved.state["observers"][1]
    assert recorder["name"] == "recorder"
    assert list(recorder["state"]["step"]) == [0, 1, 2, 3, 4, 5]  # includes step 5


def test_divergence_right_after_a_resume_reports_the_last_finite_iterate(tmp_path: Path) -> None:
    scenario = quartic(
        steps=40,
        max_loss=1e6,
        init={"x": 5.0},
        schedule={"name": "constant", "lr": 2.0},
        allow_divergence=True,
        observers=[{"name": "checkpoint", "every": 1, "keep": 100, "dir": str(tmp_path)}],
    )
    full = gdsim.run(scenario)["gd"]
    assert full.status == "diverged"
    folder = tmp_path / "tol" / "gd"
    last = ckpt.checkpoint_files(folder)[-1]
    assert last[0] == full.diverged_at  # saved after the last step, before the loss blew up
    again = gdsim.resume(last[1])["gd"]
    assert (again.status, again.diverged_at, again.final_step) == (
        "diverged",
        full.diverged_at,
        full.final_step,
    )
    assert again.final_params == full.final_params
    assert again.final_loss == full.final_loss
