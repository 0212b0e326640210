"""Checkpoints: exact resume, safe format, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from observer_helpers import CRASH_AT, Crash, registry

import gdsim
from gdsim import checkpoint as ckpt
from gdsim import engine
from gdsim.cli import main
from gdsim.errors import CheckpointError

REG = registry()
TESTS = Path(__file__).parent


def noisy_scenario(directory: Path, every: int = 1, steps: int = 40) -> dict[str, Any]:
    """Momentum on Rosenbrock with every kind of state: RNG use, a private generator, a
    decaying schedule, a recorder, early stopping that never fires, and a checkpoint."""
    return {
        "scenario": {"name": "noisy"},
        "objective": {"name": "rosenbrock"},
        "runs": [
            {
                "name": "run",
                "steps": steps,
                "seed": 3,
                "estimator": "coin",
                "rule": {"name": "momentum", "mu": 0.9},
                "schedule": {"name": "exponential", "lr": 0.0015, "k": 0.995},
                "transforms": [{"name": "own_noise", "scale": 0.5}],
                "observers": [
                    {"name": "checkpoint", "every": every, "keep": 1000, "dir": str(directory)},
                    {"name": "recorder", "every": 2},
                    {"name": "early_stopping", "patience": 1000},
                    {"name": "crash"},
                ],
            }
        ],
    }


def run_to_end(scenario: dict[str, Any], resume: Any = None) -> tuple[engine.RunContext, Any]:
    """Run the scenario's only run (optionally resumed) and return its final context."""
    loaded = gdsim.load(scenario, registry=REG)
    spec = loaded.runs[0]
    if resume is None:
        ctx = engine.start_run(spec)
        ctx.scenario = loaded
    else:
        ctx = ckpt.restore(ckpt.load(resume), spec, loaded)
    return ctx, engine.run(spec, pm=REG.pm, context=ctx)


def same_tree(a: Any, b: Any) -> bool:
    """Bit-identical nested values (NaN equals NaN, generators compare by state)."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(same_tree(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_tree, a, b))
    if isinstance(a, np.random.Generator):
        return isinstance(b, np.random.Generator) and same_tree(
            a.bit_generator.state, b.bit_generator.state
        )
    if isinstance(a, np.ndarray | np.generic):
        return np.asarray(a).tobytes() == np.asarray(b).tobytes() and np.shape(a) == np.shape(b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def assert_same_run(first: tuple[Any, Any], second: tuple[Any, Any]) -> None:
    (full, a), (resumed, b) = first, second
    assert same_tree(full.state.params, resumed.state.params)
    assert same_tree(full.rule_state, resumed.rule_state)
    assert same_tree(full.schedule_state, resumed.schedule_state)
    assert same_tree(full.estimator_state, resumed.estimator_state)
    assert same_tree(full.transform_states, resumed.transform_states)
    assert same_tree(full.state.rng, resumed.state.rng)
    assert (a.status, a.steps, a.final_step) == (b.status, b.steps, b.final_step)
    assert same_tree(a.final_params, b.final_params)
    assert same_tree(dict(a.trace), dict(b.trace))
    assert a.outputs["early_stopping"] == b.outputs["early_stopping"]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(every=st.integers(1, 9), crash=st.integers(1, 40))
def test_resume_after_a_crash_equals_the_uninterrupted_run(
    tmp_path_factory: pytest.TempPathFactory, every: int, crash: int
) -> None:
    folder = tmp_path_factory.mktemp("ckpt")
    full = run_to_end(noisy_scenario(tmp_path_factory.mktemp("full"), every))
    scenario = noisy_scenario(folder, every)
    CRASH_AT["step"] = crash
    try:
        with pytest.raises(Crash):
            run_to_end(scenario)
    finally:
        CRASH_AT["step"] = None
    run_folder = folder / "noisy" / "run"
    files = ckpt.checkpoint_files(run_folder)
    if not files:  # crashed before the first checkpoint: nothing to resume
        assert crash - 1 < every
        return
    # the crash observer runs before the checkpoint, so the crashed step was not saved
    assert files[-1][0] == (crash - 1) // every * every
    resumed = run_to_end(scenario, resume=run_folder)
    assert_same_run(full, resumed)


def test_every_checkpoint_of_a_run_resumes_to_the_same_end(tmp_path: Path) -> None:
    full = run_to_end(noisy_scenario(tmp_path / "a", every=1, steps=25))
    files = ckpt.checkpoint_files(tmp_path / "a" / "noisy" / "run")
    assert [step for step, _ in files] == list(range(1, 26))
    for _, path in files[::4] + files[-1:]:
        assert_same_run(full, run_to_end(noisy_scenario(tmp_path / "b", 1, 25), resume=path))


def test_a_run_stopped_early_resumes_to_its_stopped_result(tmp_path: Path) -> None:
    scenario = {
        "scenario": {"name": "early"},
        "objective": {"name": "ramp", "curve": [5.0, 4.0, 3.0, 3.5, 4.0, 4.5, 5.0]},
        "runs": [
            {
                "name": "r",
                "steps": 50,
                "schedule": {"name": "constant", "lr": 1.0},
                "observers": [
                    {"name": "recorder"},
                    {"name": "early_stopping", "monitor": "validation.loss", "patience": 2},
                    {"name": "checkpoint", "every": 100, "dir": str(tmp_path)},
                ],
            }
        ],
    }
    first = gdsim.run(scenario, registry=REG)["r"]
    assert (first.status, first.steps, first.final_step) == ("stopped_early", 4, 2)
    files = ckpt.checkpoint_files(tmp_path / "early" / "r")
    assert [s for s, _ in files] == [4]  # saved at the end only
    again = gdsim.resume(files[-1][1], registry=REG)["r"]
    assert (again.status, again.steps, again.final_step) == ("stopped_early", 4, 2)
    assert again.final_params == first.final_params
    assert same_tree(dict(again.trace), dict(first.trace))


def test_keep_last_k_files(tmp_path: Path) -> None:
    scenario = noisy_scenario(tmp_path, every=3, steps=20)
    scenario["runs"][0]["observers"][0]["keep"] = 2
    gdsim.run(scenario, registry=REG)
    assert [s for s, _ in ckpt.checkpoint_files(tmp_path / "noisy" / "run")] == [18, 20]
    assert not list((tmp_path / "noisy" / "run").glob("*.tmp"))


# --- the format ------------------------------------------------------------------------------


def test_state_trees_round_trip_without_pickle(tmp_path: Path) -> None:
    mt = np.random.Generator(np.random.MT19937(5))
    mt.random(3)
    tree = {
        "a": np.arange(6, dtype=np.int32).reshape(2, 3),
        "zero_d": np.array(2.5),
        "scalar": np.float64(-0.0),
        "int": 2**70,
        "floats": [1.5, math.inf, -math.inf, math.nan],
        "tuple": (1, "two", None, True),
        "nested": {"pcg": np.random.default_rng(1), "mt": mt, "empty": {}},
    }
    encoder = ckpt._Encoder()
    meta = json.dumps(encoder.encode(tree, "t"), allow_nan=False).encode()
    path = tmp_path / "t.npz"
    with path.open("wb") as handle:
        ckpt.write_archive(handle, meta, encoder.arrays)
    with zipfile.ZipFile(path) as archive:
        arrays = {
            n.removesuffix(".npy"): np.load(archive.open(n), allow_pickle=False)
            for n in archive.namelist()
            if n.endswith(".npy")
        }
        decoded = ckpt._decode(json.loads(archive.read("meta.json")), arrays)
    assert same_tree(tree, decoded)
    assert type(decoded["scalar"]) is np.float64 and math.copysign(1, decoded["scalar"]) == -1
    assert decoded["nested"]["mt"].random() == mt.random()
    # a plain numpy reader can open it without pickle
    with np.load(path, allow_pickle=False) as npz:
        assert {"a0", "meta.json"} <= set(npz.files)
        assert np.array_equal(npz["a0"], tree["a"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array([object()], dtype=object), "Python objects"),
        ({1: 2}, "not a string"),
        ({"__gdsim_array__": 1}, "reserved"),
        (object(), "not supported"),
    ],
)
def test_unsaveable_states_are_refused(value: Any, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        ckpt._Encoder().encode({"x": value}, "the state")


# --- bad files -------------------------------------------------------------------------------

QUARTIC = """
[scenario]
name = "q"
[objective]
name = "quartic"
[defaults]
steps = 30
schedule = {{ name = "constant", lr = 0.1 }}
observers = [{{ name = "recorder" }}, {{ name = "checkpoint", every = 10, dir = "{dir}" }}]
[[runs]]
name = "m"
init = {{ x = -5.0 }}
rule = {{ name = "momentum", mu = {mu} }}
"""


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    """A scenario file and the folder of its run's checkpoints (steps 10, 20, 30)."""
    scenario = tmp_path / "q.toml"
    scenario.write_text(QUARTIC.format(dir=tmp_path / "ck", mu=0.9))
    result = CliRunner().invoke(main, ["run", str(scenario), "--json"])
    assert result.exit_code == 0, result.output
    return scenario, tmp_path / "ck" / "q" / "m"


def final_x(output: str) -> float:
    return json.loads(output[output.index("{") :])["runs"][0]["final"]["params"]["x"]


def test_cli_resume_and_run_resume_match_the_uninterrupted_run(saved: tuple[Path, Path]) -> None:
    scenario, folder = saved
    expected = gdsim.run(scenario)["m"].final_params["x"]
    runner = CliRunner()
    for args in (
        ["resume", str(folder / "step-000000010.npz"), "--json"],
        ["resume", str(folder), "--json"],
        ["run", str(scenario), "--resume", str(folder / "step-000000020.npz"), "--json"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert final_x(result.output) == float(expected)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_array_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".npy"))
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size - 1] ^= 0xFF  # last byte of the array data
    path.write_bytes(bytes(data))


def _rewrite_meta(path: Path, change: Any) -> None:
    """Edit meta.json and recompute the checksum, as a deliberate tamperer would."""
    from gdsim.checkpoint import CHECKSUM, checksum

    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    meta = json.loads(members["meta.json"])
    change(meta)
    members["meta.json"] = json.dumps(meta).encode()
    members[CHECKSUM] = checksum(members).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "corrupt or truncated"),
        (lambda p: p.write_bytes(b"not a zip at all"), "corrupt or truncated"),
        (lambda p: p.write_bytes(b""), "corrupt or truncated"),
        (_flip_array_byte, "corrupt"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(version=99)), "version 99"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(format="x")), "not a gdsim checkpoint"),
        (lambda p: _rewrite_meta(p, lambda m: m.pop("state")), "missing state"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(arrays=["a999"])), "a999 is missing"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(step=10_000)), "outside the run"),
    ],
)
def test_damaged_checkpoints_exit_2(saved: tuple[Path, Path], damage: Any, message: str) -> None:
    scenario, folder = saved
    path = folder / "step-000000020.npz"
    damage(path)
    runner = CliRunner()
    for args in (["resume", str(path)], ["run", str(scenario), "--resume", str(path)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and str(path) in result.output
        assert message in result.output
        assert "Traceback" not in result.output


def test_mismatched_scenario_exits_2(saved: tuple[Path, Path], tmp_path: Path) -> None:
    _scenario, folder = saved
    other = tmp_path / "other.toml"
    other.write_text(QUARTIC.format(dir=tmp_path / "ck", mu=0.5))
    result = CliRunner().invoke(main, ["run", str(other), "--resume", str(folder)])
    assert result.exit_code == 2
    assert "does not match run 'm'" in result.output
    assert "rule.mu: checkpoint has 0.9, scenario has 0.5" in result.output
    renamed = tmp_path / "renamed.toml"
    renamed.write_text(QUARTIC.format(dir=tmp_path / "ck", mu=0.9).replace('"m"', '"n"'))
    result = CliRunner().invoke(main, ["run", str(renamed), "--resume", str(folder)])
    assert result.exit_code == 2
    assert "checkpoint is of run 'm'" in result.output


def test_missing_checkpoint_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "nope.npz")])
    assert result.exit_code == 2
    assert "no such checkpoint file" in result.output
    result = CliRunner().invoke(main, ["resume", str(tmp_path)])
    assert result.exit_code == 2
    assert "no checkpoint files" in result.output


# --- a process killed while writing ------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import gdsim
    from gdsim import checkpoint

    marker = Path(sys.argv[2])
    original = checkpoint.write_archive
    calls = []

    def slow_write(handle, meta, arrays):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint: write half, then hang until killed
            handle.write(b"PK\\x03\\x04 half of a zip")
            handle.flush()
            marker.write_text("writing")
            time.sleep(120)
        original(handle, meta, arrays)

    checkpoint.write_archive = slow_write
    gdsim.run(sys.argv[1])
    """
)


def test_a_process_killed_mid_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    scenario = tmp_path / "q.toml"
    scenario.write_text(QUARTIC.format(dir=tmp_path / "ck", mu=0.9))
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(scenario), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the child ended before writing its second checkpoint"
            assert time.monotonic() < deadline, "the child never reached its second checkpoint"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    folder = tmp_path / "ck" / "q" / "m"
    assert [s for s, _ in ckpt.checkpoint_files(folder)] == [10]
    assert len(list(folder.glob(".*.tmp"))) == 1  # the half-written file never got its name
    loaded = ckpt.load(folder)
    assert loaded.step == 10
    resumed = gdsim.resume(folder)["m"]
    assert resumed.final_params["x"] == gdsim.run(scenario)["m"].final_params["x"]


def test_resume_keeps_the_scenario_name_of_an_unnamed_file(tmp_path: Path) -> None:
    path = tmp_path / "unnamed.toml"
    text = QUARTIC.format(dir=tmp_path / "ck", mu=0.9).replace('[scenario]\nname = "q"\n', "")
    path.write_text(text)
    gdsim.run(path)
    folder = tmp_path / "ck" / "unnamed" / "m"
    (folder / "step-000000030.npz").unlink()
    resumed = gdsim.resume(folder / "step-000000020.npz")
    assert resumed.scenario.name == "unnamed"
    assert [s for s, _ in ckpt.checkpoint_files(folder)] == [10, 20, 30]


def test_ctrl_c_exits_130_and_names_the_checkpoint_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = tmp_path / "q.toml"
    scenario.write_text(QUARTIC.format(dir=tmp_path / "ck", mu=0.9))
    result = run_then_ctrl_c(scenario, monkeypatch)
    assert result.exit_code == 130
    assert f"continue with: gdsim resume {tmp_path / 'ck' / 'q' / 'm'}" in result.output


def run_then_ctrl_c(scenario: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``gdsim run SCENARIO`` interrupted by Ctrl-C once every run has stepped."""
    real_run = gdsim.api.run

    def run_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        real_run(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(gdsim.api, "run", run_then_interrupt)
    return CliRunner().invoke(main, ["run", str(scenario)])


def test_ctrl_c_names_only_the_ensembles_this_command_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil

    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'objective = "quartic"\n[[runs]]\nname = "m"\nsteps = 30\n'
        "init.x = { linspace = [-4, 4, 3] }\n"
        f'observers = [{{ name = "checkpoint", dir = "{tmp_path / "ck"}", every = 10 }}]\n'
    )
    gdsim.run(scenario)
    (saved,) = (tmp_path / "ck" / "s").glob("ensemble-*")
    old = saved.with_name("ensemble-from-an-earlier-day")
    shutil.copytree(saved, old)
    for path in old.iterdir():
        os.utime(path, (path.stat().st_mtime - 86400,) * 2)
    result = run_then_ctrl_c(scenario, monkeypatch)
    assert result.exit_code == 130
    assert f"continue with: gdsim resume {saved}" in result.output
    assert old.name not in result.output
