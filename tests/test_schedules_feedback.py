"""Metric feedback: the engine hands monitored metrics to schedules at epoch ends;
reduce-on-plateau reacts at the right step; third-party schedules use the same contract."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

import gdsim
from gdsim import engine
from gdsim.components import EpochMetrics, Objective, Schedule
from gdsim.errors import ScenarioError
from gdsim.estimators import FullBatch
from gdsim.observers.recorder import Recorder
from gdsim.rules.classic import GD
from gdsim.scenario import RunSpec, load_mapping
from gdsim.schedules import Constant, LinearWarmup, ReduceOnPlateau, Sequence


@attrs.define(eq=False)
class Curve(Objective):
    """Test objective: parameters never move (zero gradient); its validation loss after the
    k-th epoch is ``curve[k]`` (one entry consumed per evaluation)."""

    name: ClassVar[str] = "curve"
    data_backed: ClassVar[bool] = True
    curve: list[float] = attrs.field(factory=list)
    reads: int = 0

    def init(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": np.array(0.0)}

    def value_and_grad(self, params: Any, batch: Any = None) -> tuple[Any, Any]:
        return 0.0, {"x": np.array(0.0)}

    def metrics(self, params: Any, split: str = "train") -> dict[str, float]:
        if split != "validation":
            return {"loss": 0.0}
        value = self.curve[self.reads]
        self.reads += 1
        return {"loss": value}


def lr_trace(schedule: Schedule, curve: list[float], reads: int | None = None) -> list[float]:
    """The rate of each step of a full-batch run (one step per epoch) fed ``curve``; the
    metric must be evaluated ``reads`` times (default: once per epoch, none more)."""
    objective = Curve(curve=list(curve))
    spec = RunSpec(
        name="r",
        objective=objective,
        estimator=FullBatch(),
        rule=GD(),
        schedule=schedule,
        observers=(Recorder(params=False, grad_norm=False),),
        steps=len(curve),
    )
    result = engine.run(spec)
    assert objective.reads == (len(curve) if reads is None else reads)
    return list(result.outputs["recorder"]["trace"]["lr"][1:])


def test_reduce_on_plateau_reacts_after_patience_bad_epochs():
    # epochs 1-3 improve; 4, 5, 6 do not: the third bad epoch (> patience 2) ends at step 6,
    # so step 6 (0-based, the 7th) is the first with the reduced rate
    curve = [5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0, 1.0]
    got = lr_trace(ReduceOnPlateau(lr=0.8, patience=2, factor=0.5), curve)
    assert got == [0.8] * 6 + [0.4] * 3 + [0.2] * 3


def test_cooldown_and_floor():
    curve = [1.0] * 14
    # patience 0: every non-improving epoch reduces, unless in cooldown (2 epochs)
    got = lr_trace(ReduceOnPlateau(lr=1.0, patience=0, factor=0.5, cooldown=2, min_lr=0.2), curve)
    # epoch 1 improves (from inf); epoch 2 reduces; 3, 4 cool down; 5 reduces; …; floor 0.2
    assert got == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]


def test_a_threshold_makes_small_improvements_count_as_bad():
    curve = [1.0, 0.99, 0.98, 0.97, 0.96]
    got = lr_trace(ReduceOnPlateau(lr=1.0, patience=1, threshold=0.05), curve)
    assert got == [1.0, 1.0, 1.0, 0.1, 0.1]
    got = lr_trace(ReduceOnPlateau(lr=1.0, patience=1, threshold=0.0), curve)
    assert got == [1.0] * 5


def test_every_skips_epochs_without_evaluating():
    objective = Curve(curve=[3.0, 3.0, 3.0])
    schedule = ReduceOnPlateau(lr=1.0, patience=0, every=3)
    spec = RunSpec(
        name="r", objective=objective, estimator=FullBatch(), rule=GD(), schedule=schedule, steps=9
    )
    engine.run(spec)
    assert objective.reads == 3  # after epochs 3, 6 and 9 only


def test_a_sequence_feeds_only_its_active_piece():
    curve = [1.0] * 8
    plateau = ReduceOnPlateau(lr=1.0, patience=0, factor=0.5)
    got = lr_trace(Sequence(pieces=(Constant(lr=2.0), plateau), boundaries=(4,)), curve, reads=4)
    # the plateau piece starts at step 4 and sees epochs 5…: 5 improves (from inf), 6 reduces
    assert got == [2.0] * 4 + [1.0, 1.0, 0.5, 0.25]
    warm = lr_trace(LinearWarmup(steps=2, start=0.5, inner=plateau), curve)
    assert warm == [0.5, 0.75, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]


@attrs.frozen
class HalveWhenAbove(Schedule):
    """A third-party schedule: halves its rate after each epoch whose train loss exceeds 1."""

    name: ClassVar[str] = "halve_when_above"

    def init(self) -> dict[str, Any]:
        return {"lr": 0.1, "seen": []}

    def learning_rate(self, state, step, grads, loss):
        return state["lr"], state

    def monitors(self, objective: Objective) -> tuple[str, ...]:
        return ("train.loss",)

    def observe(self, state, epoch, metrics):
        value = metrics["train.loss"]
        lr = state["lr"] / 2 if value > 1 else state["lr"]
        return {"lr": lr, "seen": [*state["seen"], (epoch, value)]}


def test_third_party_schedules_receive_the_metrics_they_name():
    from gdsim.objectives.polynomial import Quartic

    objective = Quartic()
    spec = RunSpec(
        name="r",
        objective=objective,
        estimator=FullBatch(),
        rule=GD(),
        schedule=HalveWhenAbove(),
        init={"x": np.array(5.0)},
        steps=5,
    )
    ctx = engine.start_run(spec)
    engine.run(spec, context=ctx)
    seen = ctx.schedule_state["seen"]
    assert [epoch for epoch, _ in seen] == [1, 2, 3, 4, 5]
    # each value is the train loss at the parameters reached after that epoch
    assert seen[-1][1] == objective.value(ctx.state.params)


def test_epoch_metrics_evaluate_lazily_and_only_declared_names():
    objective = Curve(curve=[7.0])
    metrics = EpochMetrics(objective, {"x": np.array(0.0)}, ("validation.loss",))
    assert objective.reads == 0
    assert dict(metrics) == {"validation.loss": 7.0}
    assert metrics["validation.loss"] == 7.0 and objective.reads == 1  # cached per split
    with pytest.raises(KeyError, match="not named"):
        metrics["train.loss"]


def test_a_monitored_metric_the_objective_lacks_is_a_scenario_error():
    raw = {
        "objective": "quartic",
        "runs": [
            {"name": "r", "schedule": {"name": "reduce_on_plateau", "monitor": "validation.loss"}}
        ],
    }
    with pytest.raises(ScenarioError) as info:
        load_mapping(raw, source="s.toml")
    assert info.value.path == "runs[0].schedule.monitor"
    assert "offers no 'validation.loss'" in str(info.value)
    raw["runs"][0]["schedule"] = {
        "name": "linear_warmup",
        "inner": {"name": "reduce_on_plateau", "monitor": "validation.accuracy"},
    }
    with pytest.raises(ScenarioError) as info:
        load_mapping(raw, source="s.toml")
    assert info.value.path == "runs[0].schedule.inner.monitor"


def test_plateau_runs_are_stepped_alone_in_a_sweep():
    raw = {
        "objective": "quartic",
        "runs": [
            {
                "name": "p",
                "init": {"x": {"values": [-5.0, 5.0]}},
                "schedule": {"name": "reduce_on_plateau", "lr": 0.05, "patience": 1},
                "steps": 30,
            }
        ],
    }
    results = gdsim.run(raw)
    assert [r.status for r in results] == ["completed", "completed"]
