"""scenarios/schedules.toml: it meets its expectations, tells its story, and records the rates
each schedule gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdsim import api

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "schedules.toml"


def test_the_schedules_scenario():
    results = api.run(SCENARIO)
    failed = [(r.name, o.name) for r in results for o in r.expectations if not o.passed]
    assert not failed
    loss = {r.name: r.final_loss for r in results}
    # every schedule that decays from α = 20 ends below the constant α = 20
    assert max(loss, key=loss.get) == "constant_20"
    # a warm-up before the same cosine helps
    assert loss["warmup_cosine"] < loss["cosine"]
    for r in results:
        trace = r.outputs["recorder"]["trace"]
        steps, lr = trace["step"][1:], trace["lr"][1:]
        # the recorded rate of step s (after s steps) is the rate the schedule gave step s − 1
        schedule, state = r.spec.schedule, r.spec.schedule.init()
        if not schedule.monitors(r.spec.objective):
            expected = []
            for t in range(r.steps):
                rate, state = schedule.learning_rate(state, t, {}, 0.0)
                expected.append(rate)
            assert np.array_equal(lr, np.array(expected)[steps - 1]), r.name
    plateau = results["reduce_on_plateau"].outputs["recorder"]["trace"]["lr"][1:]
    assert plateau[0] == 20.0 and plateau[-1] < 20.0 * 0.5**3  # it reduced several times
