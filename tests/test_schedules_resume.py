"""Every schedule's state survives a checkpoint: a resumed run equals the uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gdsim
from gdsim import checkpoint as ckpt
from gdsim import engine
from gdsim.schedules import gdsim_schedules

STEPS = 24
INNER = {"name": "cosine", "lr": 0.01, "steps": 20}
PLATEAU = {"name": "reduce_on_plateau", "lr": 0.01, "patience": 1, "threshold": 0.2, "cooldown": 1}
SCHEDULES: list[dict[str, Any]] = [
    {"name": "constant", "lr": 0.01},
    {"name": "exponential", "lr": 0.01, "k": 0.95, "every": 2},
    {"name": "grad_control", "lr": 0.01, "c": 0.5},
    {"name": "step", "lr": 0.01, "step_size": 5, "gamma": 0.5},
    {"name": "multistep", "lr": 0.01, "milestones": [3, 10, 11], "gamma": 0.5},
    {"name": "inverse_time", "lr": 0.01, "decay": 0.1},
    {"name": "polynomial", "lr": 0.01, "steps": 15, "power": 2.0, "end_lr": 0.001},
    INNER,
    {"name": "cosine_restarts", "lr": 0.01, "period": 4, "mult": 2, "min_lr": 0.001},
    {"name": "one_cycle", "max_lr": 0.02, "steps": 20, "three_phase": True},
    {
        "name": "cyclic",
        "base_lr": 0.001,
        "max_lr": 0.02,
        "step_size_up": 3,
        "mode": "exp_range",
        "gamma": 0.9,
    },
    PLATEAU,
    {"name": "linear_warmup", "steps": 6, "start": 0.1, "inner": INNER},
    {"name": "exponential_warmup", "tau": 3, "inner": PLATEAU},
    {
        "name": "sequence",
        "boundaries": [5, 12],
        "pieces": [
            {"name": "linear_warmup", "steps": 5, "inner": {"name": "constant", "lr": 0.01}},
            {"name": "grad_control", "lr": 0.01},
            PLATEAU,
        ],
    },
    {"name": "scale", "factor": 0.5, "inner": {"name": "exponential", "lr": 0.02, "k": 0.9}},
]


def test_every_built_in_schedule_is_covered():
    names: set[str] = set()

    def collect(table: Any) -> None:
        if isinstance(table, dict):
            names.add(table["name"])
            for value in table.values():
                collect(value)
        elif isinstance(table, list):
            for value in table:
                collect(value)

    collect(SCHEDULES)
    assert names == {cls.name for cls in gdsim_schedules()}


def scenario(schedule: dict[str, Any], folder: Path) -> dict[str, Any]:
    return {
        "scenario": {"name": "resume"},
        "objective": "quartic",
        "runs": [
            {
                "name": "run",
                "init": {"x": 5.0},
                "rule": {"name": "momentum", "mu": 0.5},
                "schedule": schedule,
                "steps": STEPS,
                "observers": [
                    {"name": "checkpoint", "every": 1, "keep": 100, "dir": str(folder)},
                    {"name": "recorder"},
                ],
            }
        ],
    }


def finish(raw: dict[str, Any], resume: Path | None = None) -> tuple[Any, Any]:
    loaded = gdsim.load(raw)
    spec = loaded.runs[0]
    ctx = (
        engine.start_run(spec) if resume is None else ckpt.restore(ckpt.load(resume), spec, loaded)
    )
    ctx.scenario = loaded
    return ctx, engine.run(spec, context=ctx)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s["name"])
def test_resume_equals_the_uninterrupted_run(schedule, tmp_path):
    full_ctx, full = finish(scenario(schedule, tmp_path / "full"))
    files = dict(ckpt.checkpoint_files(tmp_path / "full" / "resume" / "run"))
    for step in (1, 7, 16):
        ctx, resumed = finish(scenario(schedule, tmp_path / f"r{step}"), resume=files[step])
        assert _same(ctx.schedule_state, full_ctx.schedule_state)
        assert resumed.final_params["x"].tobytes() == full.final_params["x"].tobytes()
        trace, full_trace = resumed.outputs["recorder"]["trace"], full.outputs["recorder"]["trace"]
        assert trace["lr"].tobytes() == full_trace["lr"].tobytes()
    # the schedule did change the rate (a test of a flat schedule would prove little)
    if schedule["name"] != "constant":
        assert len(set(full.outputs["recorder"]["trace"]["lr"][1:].tolist())) > 1


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return np.asarray(a).tobytes() == np.asarray(b).tobytes()
