"""Checkpoints of a whole vectorised ensemble, and diagnostics inside it.

One file holds every member (the live ones' state, the outcome of those that ended, every
member observer's state); resuming it gives, member by member, the results and observer
outputs of the uninterrupted ensemble — which equal those of the runs stepped alone — bit for
bit. A checkpoint that was changed, or that does not belong to the scenario, is refused.
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_ensemble_observers import assert_same, ensembles, same_outputs, vectorised

import gdsim
from gdsim import checkpoint as ckpt
from gdsim import engine
from gdsim.cli import main
from gdsim.components import MemberObserver, Objective, Observer
from gdsim.ensemble import identical, run_group
from gdsim.errors import CheckpointError
from gdsim.scenario import load_mapping


def without_checkpoint(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs besides the checkpoint's own (its file list names other folders)."""
    return {k: v for k, v in outputs.items() if k != "checkpoint"}


def assert_same_runs(results: list[Any], reference: list[Any]) -> None:
    assert [r.name for r in results] == [r.name for r in reference]
    for a, b in zip(results, reference, strict=True):
        assert identical(a, b), (a.to_dict(), b.to_dict())
        assert same_outputs(without_checkpoint(a.outputs), without_checkpoint(b.outputs)), a.name


def ensemble_folder(root: Path) -> Path:
    (folder,) = [f for f in root.glob("*/ensemble-*") if f.is_dir()]
    return folder


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ensembles(), st.integers(1, 9), st.data())
def test_a_resumed_ensemble_equals_the_uninterrupted_one(
    raw: dict[str, Any], every: int, data: st.DataObject
) -> None:
    """Hypothesis over sizes, hyperparameters, observers, stop points and the step at which
    the ensemble is resumed (any of the checkpoints it wrote)."""
    if len(raw["runs"]) < 2:
        raw["runs"].append({**raw["runs"][0], "name": "twin"})
    with tempfile.TemporaryDirectory() as tmp:
        saver = {"name": "checkpoint", "every": every, "keep": 1000, "dir": tmp}
        raw["defaults"]["observers"] = [*raw["defaults"]["observers"], saver]
        scenario = load_mapping(raw)
        whole = gdsim.run(scenario).runs
        assert_same_runs(whole, [engine.run(s, scenario=scenario) for s in scenario.runs])
        files = ckpt.checkpoint_files(ensemble_folder(Path(tmp)))
        assert files  # at least the one written at the end
        _, path = data.draw(st.sampled_from(files))
        loaded = ckpt.load(path)
        assert loaded.kind == "ensemble" and loaded.runs == [s.name for s in scenario.runs]
        ended = len(loaded.runs) - int(loaded.meta["live"])
        event(f"{'some' if ended else 'no'} member ended before the checkpoint")
        assert_same_runs(gdsim.resume(path).runs, whole)


def sweep(tmp: Path, **changes: Any) -> dict[str, Any]:
    """Runs that diverge, converge, stop early and complete, at different steps."""
    runs = [
        {
            "name": "completes",
            "init": {"x": 6.0},
            "steps": 40,
            "schedule": {"name": "constant", "lr": 0.001},
        },
        {"name": "diverges", "init": {"x": 5.0}, "schedule": {"name": "constant", "lr": 3.0}},
        {"name": "converges", "init": {"x": 3.0}, "tolerance": {"grad_norm": 0.5}},
        {"name": "stops", "init": {"x": 1.0}, "rule": {"name": "momentum", "mu": 0.9}},
        {"name": "short", "init": {"x": 2.0}, "steps": 3},
    ]
    observers = [
        {"name": "recorder", "every": 3},
        {"name": "diagnostics", "every": 2},
        {"name": "loss_target", "loss": 1.0},
        {"name": "early_stopping", "patience": 2, "every": 4, "min_delta": 0.5},
        {"name": "checkpoint", "every": 5, "keep": 100, "dir": str(tmp / "ck")},
    ]
    raw = {
        "scenario": {"name": "fates"},
        "objective": {"name": "quartic"},
        "defaults": {
            "steps": 60,
            "allow_divergence": True,
            "rule": {"name": "momentum", "mu": 0.5},
            "schedule": {"name": "constant", "lr": 0.05},
            "observers": observers,
        },
        "runs": runs,
    }
    for key, value in changes.items():
        raw["runs"][int(key[1:])].update(value)
    return raw


def test_members_that_ended_before_the_checkpoint_keep_their_outcome(tmp_path: Path) -> None:
    scenario = load_mapping(sweep(tmp_path))
    whole = gdsim.run(scenario).runs
    statuses = {r.name: r.status for r in whole}
    assert statuses == {
        "completes": "completed",
        "diverges": "diverged",
        "converges": "converged",
        "stops": "stopped_early",
        "short": "completed",
    }
    folder = ensemble_folder(tmp_path / "ck")
    last_end = max(r.steps for r in whole if r.name != "completes")
    late = [(s, p) for s, p in ckpt.checkpoint_files(folder) if last_end < s < 40]
    assert late, "a checkpoint after the others ended, before 'completes' ended"
    for _, path in late:
        assert ckpt.load(path).meta["live"] == 1
        assert_same_runs(gdsim.resume(path).runs, whole)
    assert_same_runs(whole, [engine.run(s, scenario=scenario) for s in scenario.runs])


def test_a_scenario_resumes_its_ensemble_and_runs_its_other_runs_afresh(tmp_path: Path) -> None:
    raw = sweep(tmp_path)
    raw["runs"].append({"name": "apart", "objective": {"name": "rosenbrock"}, "init": {}})
    scenario = load_mapping(raw)
    whole = gdsim.run(scenario).runs
    (_, path), *_ = ckpt.checkpoint_files(ensemble_folder(tmp_path / "ck"))
    assert "apart" not in ckpt.load(path).runs  # another objective: stepped on its own
    assert_same_runs(gdsim.run(scenario, resume=[path]).runs, whole)


def test_without_at_end_the_last_every_step_is_still_saved(tmp_path: Path) -> None:
    raw = sweep(tmp_path)
    raw["defaults"]["observers"][-1].update(at_end=False, every=20)
    gdsim.run(load_mapping(raw))
    steps = [s for s, _ in ckpt.checkpoint_files(ensemble_folder(tmp_path / "ck"))]
    assert steps == [20, 40]  # 40: the step 'completes' ends at, as its run alone saves


def test_a_scenario_that_starts_a_run_from_saved_weights_keeps_checkpoints_per_run(
    tmp_path: Path,
) -> None:
    """``init = { from = … }`` reads one run's checkpoint folder: the runs of such a scenario
    keep theirs (stepped one by one) instead of one ensemble checkpoint."""
    raw = sweep(tmp_path)
    folder = tmp_path / "ck" / "fates" / "short"
    raw["runs"].append({"name": "after", "init": {"from": str(folder)}, "steps": 2})
    results = gdsim.run(load_mapping(raw))
    assert ckpt.checkpoint_files(folder) and not list((tmp_path / "ck").glob("*/ensemble-*"))
    after = results["after"]
    assert (
        after.status == "completed"
        and after.trace["params.x"][0] == results["short"].final_params["x"]
    )


def test_resumed_ensembles_write_their_checkpoints_beside_the_file(tmp_path: Path) -> None:
    scenario = load_mapping(sweep(tmp_path))
    gdsim.run(scenario)
    folder = ensemble_folder(tmp_path / "ck")
    before = {p.name: p.read_bytes() for _, p in ckpt.checkpoint_files(folder)}
    (folder / "step-000000030.npz").unlink()
    gdsim.resume(folder / "step-000000025.npz")
    after = {p.name: p.read_bytes() for _, p in ckpt.checkpoint_files(folder)}
    assert after == before  # rewritten identically, the removed one included


def test_a_swept_value_changed_since_the_checkpoint_is_refused(tmp_path: Path) -> None:
    gdsim.run(load_mapping(sweep(tmp_path)))
    path = ckpt.checkpoint_files(ensemble_folder(tmp_path / "ck"))[2][1]
    # the second run's start differs: same names, same first run, another ensemble
    changed = load_mapping(sweep(tmp_path, r1={"init": {"x": 4.5}}))
    with pytest.raises(CheckpointError, match=r"starting\s+points"):
        gdsim.run(changed, resume=[path])
    first_changed = load_mapping(sweep(tmp_path, r0={"init": {"x": -4.0}}))
    with pytest.raises(
        CheckpointError, match=re.escape("init.x: checkpoint has 6.0, scenario has -4.0")
    ):
        gdsim.run(first_changed, resume=[path])


def _rewrite(path: Path, change: Any) -> None:
    """Rewrite a checkpoint's meta.json and recompute its checksum (a crafted file)."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    meta = json.loads(members[ckpt.META])
    change(meta)
    members[ckpt.META] = json.dumps(meta).encode()
    members[ckpt.CHECKSUM] = ckpt.checksum(members).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip_a_byte, "corrupt|checksum mismatch"),
        (
            lambda p: _rewrite(p, lambda m: m["state"].update(members=[0, 99])),
            "state.members",
        ),
        (
            lambda p: _rewrite(p, lambda m: m.update(runs=["completes"])),
            "state.members': expected increasing member indices below 1",
        ),
        (lambda p: _rewrite(p, lambda m: m.update(version=4)), "version 4 is not supported"),
        (
            lambda p: _rewrite(p, lambda m: m["state"].update(rule={})),
            "corrupt ensemble checkpoint \\(KeyError",
        ),
        (lambda p: _rewrite(p, lambda m: m.pop("members_digest")), "missing members_digest"),
    ],
)
def test_damaged_ensemble_checkpoints_exit_2_without_a_traceback(
    tmp_path: Path, damage: Any, message: str
) -> None:
    gdsim.run(load_mapping(sweep(tmp_path)))
    path = ckpt.checkpoint_files(ensemble_folder(tmp_path / "ck"))[1][1]
    damage(path)
    result = CliRunner().invoke(main, ["resume", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1].startswith("error: ")  # after "resuming …" at most
    assert re.search(message, result.output), result.output


def test_evaluate_and_init_from_explain_that_an_ensemble_checkpoint_holds_many_runs(
    tmp_path: Path,
) -> None:
    gdsim.run(load_mapping(sweep(tmp_path)))
    folder = ensemble_folder(tmp_path / "ck")
    result = CliRunner().invoke(main, ["evaluate", str(folder)])
    assert result.exit_code == 2
    assert "an ensemble checkpoint (5 runs" in result.output


# --------------------------------------------------------------------------------------------
# what falls back to runs stepped one by one


class Silent(MemberObserver):
    """A member observer with state it cannot save."""


@attrs.define
class Unsaveable(Observer):
    name: ClassVar[str] = "unsaveable"

    def for_members(self, size: int) -> MemberObserver | None:
        return Silent()


def test_checkpointed_runs_fall_back_without_a_scenario_or_with_unsaveable_observers() -> None:
    raw = sweep(Path(tempfile.gettempdir()) / "never-written")
    specs = list(load_mapping(raw).runs)
    inits = [s.initial_params(np.random.default_rng(s.seed)) for s in specs]
    assert run_group(specs, inits) is None  # no scenario to save
    unsaved = [attrs.evolve(s, observers=(*s.observers, Unsaveable())) for s in specs]
    scenario = load_mapping(raw)
    assert run_group(unsaved, inits, scenario=scenario) is None


# --------------------------------------------------------------------------------------------
# diagnostics of parameters with more than one number per member


@attrs.frozen
class Bowl(Objective):
    """f(W) = Σ c_ij W_ij² / 2 over a 2 × 3 matrix, elementwise over a leading member axis."""

    name: ClassVar[str] = "bowl"
    elementwise: ClassVar[bool] = True

    def init(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"W": np.zeros((2, 3))}

    def value_and_grad(self, params: Any, batch: Any = None) -> tuple[Any, Any]:
        w = params["W"]
        c = np.arange(1.0, 7.0).reshape(2, 3) / 7.0
        return np.sum(c * w * w, axis=(-2, -1)) / 2.0, {"W": c * w}


def test_diagnostics_of_matrix_parameters_equal_runs_stepped_alone() -> None:
    """Norms of a matrix (summed by vdot, member by member) and the unit spread, bit for bit
    as the run stepped alone records them."""
    diagnostics = {"name": "diagnostics", "every": 3, "weights": True, "spread": True}
    scenario = load_mapping(
        {
            "objective": {"name": "quartic"},
            "defaults": {"steps": 10, "rule": {"name": "momentum", "mu": 0.5}},
            "runs": [{"name": f"m{i}", "observers": [diagnostics]} for i in range(4)],
        }
    )
    rng = np.random.default_rng(3)
    bowl = Bowl()  # one objective: runs share it to step together
    specs = [attrs.evolve(s, objective=bowl) for s in scenario.runs]
    inits = [{"W": rng.normal(size=(2, 3))} for _ in specs]
    specs = [attrs.evolve(s, init=init) for s, init in zip(specs, inits, strict=True)]
    results = vectorised(specs)
    assert_same(results, [engine.run(s) for s in specs])
    trace = results[1].outputs["diagnostics"]["trace"]
    assert list(trace["step"]) == [0, 3, 6, 9, 10]
    assert np.all(trace["spread.W"] > 0)
