"""The loss_target observer (steps to reach a loss) and its column in the result table."""

from __future__ import annotations

import numpy as np

from gdsim import api
from gdsim.report import format_table


def quartic(target: float | None, steps: int = 60, lr: float = 0.1) -> dict:
    defaults: dict = {"steps": steps, "schedule": {"name": "constant", "lr": lr}}
    if target is not None:
        defaults["observers"] = [{"name": "loss_target", "loss": target}]
    return {
        "objective": {"name": "quartic"},
        "defaults": defaults,
        "runs": [{"name": "from5", "init": {"x": 5.0}}, {"name": "from-5", "init": {"x": -5.0}}],
    }


def first_step_below(target: float, x0: float, steps: int, lr: float) -> int | None:
    """The reference: run GD by hand and return the first n with f(xₙ) <= target."""
    from gdsim.objectives.polynomial import Quartic

    q = Quartic()
    x = np.array(x0)
    for n in range(steps + 1):
        f, g = q.value_and_grad({"x": x})
        if f <= target:
            return n
        x = x - lr * g["x"]
    return None


def test_steps_to_target_match_a_hand_run():
    for target in (5.0, 1.0, 0.8813):
        results = api.run(quartic(target))
        got = results["from5"].outputs["loss_target"]["steps_to_target"]
        assert got == first_step_below(target, 5.0, 60, 0.1)
        assert got is not None
        other = results["from-5"].outputs["loss_target"]["steps_to_target"]
        assert other == first_step_below(target, -5.0, 60, 0.1)
    assert other is None  # stuck in the local minimum, f = 2.49 > 0.8813


def test_target_met_at_the_start_counts_zero_steps():
    results = api.run(quartic(100.0))
    assert results["from5"].outputs["loss_target"]["steps_to_target"] == 0


def test_target_met_only_after_the_last_step_is_found():
    target_steps = first_step_below(1.0, 5.0, 60, 0.1)
    results = api.run(quartic(1.0, steps=target_steps))
    assert results["from5"].outputs["loss_target"]["steps_to_target"] == target_steps


def test_table_has_a_to_target_column_only_with_the_observer():
    with_target = format_table(api.run(quartic(1.0)))
    assert "to target" in with_target.splitlines()[2]
    row = next(line for line in with_target.splitlines() if line.startswith("from-5"))
    assert row.split()[3] == "-"
    assert "to target" not in format_table(api.run(quartic(None)))


def test_observer_state_round_trips():
    from gdsim.observers.target import LossTarget

    obs = LossTarget(loss=1.0)
    obs.load_state_dict({"hit": 7})
    assert obs.state_dict() == {"hit": 7} and obs.outputs()["steps_to_target"] == 7
    obs.load_state_dict(LossTarget(loss=1.0).state_dict())
    assert obs.outputs()["steps_to_target"] is None
