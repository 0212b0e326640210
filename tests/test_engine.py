"""Engine behaviour: stopping reasons, divergence, observers and event hooks, determinism."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdsim
from gdsim.components import Observer, param
from gdsim.hookspecs import hookimpl
from gdsim.registry import Registry
from tests.conftest import SCENARIOS, quartic_run


def test_divergence_is_a_status_not_a_crash():
    results = gdsim.run(quartic_run(schedule={"name": "constant", "lr": 10.0}, steps=100))
    run = results[0]
    assert run.status == "diverged"
    assert run.diverged_at is not None and 0 < run.diverged_at < 100
    assert np.isfinite(run.final_params["x"]) and np.isfinite(run.final_loss)
    assert run.final_step == run.diverged_at - 1
    assert not run.passed  # divergence not allowed by default
    assert results.to_dict()["runs"][0]["final"]["params"]["x"] is not None


def test_allowed_divergence_passes():
    run = gdsim.run(quartic_run(schedule={"name": "constant", "lr": 10.0}, allow_divergence=True))[
        0
    ]
    assert run.status == "diverged" and run.passed


def test_max_loss_declares_exploding_values_diverged():
    run = gdsim.run(quartic_run(schedule={"name": "constant", "lr": 1.2}, max_loss=50.0))[0]
    assert run.status == "diverged"
    assert abs(run.final_loss) <= 50.0


def test_gradient_tolerance_converges_early():
    run = gdsim.run(quartic_run(steps=10_000, tolerance={"grad_norm": 1e-10}))[0]
    assert run.status == "converged"
    assert run.steps < 10_000
    assert abs(float(run.final_params["x"]) - 3.2727653395584366) < 1e-8


def test_step_size_tolerance_converges_early():
    run = gdsim.run(quartic_run(steps=10_000, tolerance={"step_size": 1e-12}))[0]
    assert run.status == "converged" and run.steps < 10_000


def test_recorder_every_n_records_the_right_steps():
    run = gdsim.run(quartic_run(steps=10, observers=[{"name": "recorder", "every": 3}]))[0]
    trace = run.outputs["recorder"]["trace"]
    assert trace["step"].tolist() == [0, 3, 6, 9, 10]
    assert trace["params.x"][0] == 5.0
    assert trace["params.x"][-1] == run.final_params["x"]


@attrs.define
class StopAfter(Observer):
    """Test observer: asks the engine to stop after a given step."""

    name: ClassVar[str] = "stop_after"
    at: int = param(5)
    every: int = param(1)
    seen: list = attrs.field(init=False, factory=list)

    def step_completed(self, run):
        self.seen.append(run.step)
        if run.step >= self.at:
            run.request_stop("enough")

    def outputs(self):
        return {"seen": self.seen}


class StopPlugin:
    @hookimpl
    def gdsim_observers(self):
        return [StopAfter]


class EventLog:
    def __init__(self):
        self.events = []

    @hookimpl
    def gdsim_run_started(self, run):
        self.events.append(("started", run.name))

    @hookimpl
    def gdsim_step_completed(self, run):
        self.events.append(("step", run.step))

    @hookimpl
    def gdsim_run_completed(self, run, result):
        self.events.append(("completed", result.status))


def make_registry(*plugins):
    registry = Registry.discover(entry_points=[])
    for plugin in plugins:
        registry.pm.register(plugin)
    return Registry(registry.pm, registry.plugins)


def test_observer_can_stop_the_run():
    registry = make_registry(StopPlugin())
    scenario = quartic_run(observers=[{"name": "stop_after", "at": 7, "every": 2}])
    run = gdsim.run(scenario, registry=registry)[0]
    assert run.status == "stopped" and run.steps == 8 and run.stop_reason == "enough"
    assert run.outputs["stop_after"]["seen"] == [2, 4, 6, 8]


def test_event_hooks_reach_plugins():
    log = EventLog()
    registry = make_registry(log)
    gdsim.run(quartic_run(steps=3), registry=registry)
    assert log.events == [
        ("started", "r"),
        ("step", 1),
        ("step", 2),
        ("step", 3),
        ("completed", "completed"),
    ]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), x0=st.floats(-6, 6), mu=st.floats(0, 0.99))
def test_same_scenario_and_seed_are_bit_identical(seed, x0, mu):
    scenario = quartic_run(
        seed=seed,
        init={"x": x0},
        rule={"name": "momentum", "mu": mu},
        observers=[{"name": "recorder"}],
        allow_divergence=True,
    )
    first, second = gdsim.run(scenario)[0], gdsim.run(scenario)[0]
    assert first.to_dict() == second.to_dict()
    for key, values in first.outputs["recorder"]["trace"].items():
        np.testing.assert_array_equal(values, second.outputs["recorder"]["trace"][key])


def test_scenario_file_results_are_bit_identical_across_runs():
    first = gdsim.run(SCENARIOS / "escape_local_min.toml").to_dict()
    second = gdsim.run(SCENARIOS / "escape_local_min.toml").to_dict()
    assert first == second


@pytest.mark.parametrize("objective", ["rosenbrock", "himmelblau", "beale", "booth", "rastrigin"])
def test_2d_objectives_run_from_their_default_start(objective):
    scenario = {
        "objective": {"name": objective},
        "runs": [{"name": "r", "steps": 5, "schedule": {"name": "constant", "lr": 1e-4}}],
    }
    run = gdsim.run(scenario)[0]
    assert run.status == "completed" and run.final_params["x"].shape == (2,)


def test_stochastic_runs_are_bit_identical_for_a_seed_and_differ_across_seeds():
    # a network, mini-batches and gradient noise: every random draw the engine makes
    def scenario(seed):
        return {
            "objective": {
                "name": "mlp",
                "hidden": [6],
                "data": {"name": "moons", "n": 120, "noise": 0.2, "seed": 3},
            },
            "runs": [
                {
                    "name": "r",
                    "seed": seed,
                    "steps": 40,
                    "estimator": {"name": "minibatch", "batch_size": 16},
                    "rule": "adam",
                    "schedule": {"name": "constant", "lr": 0.01},
                    "transforms": [{"name": "gradient_noise", "std": 0.1, "seed": seed}],
                    "observers": [{"name": "recorder"}],
                }
            ],
        }

    first, second, other = (gdsim.run(scenario(s))[0] for s in (7, 7, 8))
    assert first.to_dict() == second.to_dict()
    for name, value in first.final_params.items():
        np.testing.assert_array_equal(value, second.final_params[name])
    trace, trace2 = first.outputs["recorder"]["trace"], second.outputs["recorder"]["trace"]
    for key in trace:
        np.testing.assert_array_equal(trace[key], trace2[key])
    assert first.final_loss != other.final_loss


def test_the_python_api_accepts_numpy_numbers_and_tuples():
    scenario = {
        "objective": {"name": "rosenbrock"},
        "runs": [
            {
                "name": "a",
                "steps": np.int64(3),
                "init": {"x": (np.float64(-1.5), 2.0)},
                "rule": {"name": "momentum", "mu": np.float64(0.5)},
                "schedule": {"name": "constant", "lr": 1e-4},
            }
        ],
    }
    run = gdsim.run(scenario)[0]
    assert run.steps == 3 and run.final_params["x"].shape == (2,)
    with pytest.raises(gdsim.errors.GdsimError, match="expected a scenario file path"):
        gdsim.run(None)
