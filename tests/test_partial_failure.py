"""One failing run, a Ctrl-C or a reused --out folder loses no result that was computed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdsim.cli import main
from gdsim.fileio import safe_name

EXECUTORS = ["vectorised", "process", "dask"]

FAILING_MEMBER = """
[scenario]
name = "part"
[objective]
name = "quartic"
[defaults]
steps = 30
schedule = {{ name = "constant", lr = 0.1 }}
[[runs]]
name = "m"
sweep = "zip"
rule.name = "momentum"
rule.mu = {{ values = [0.0, 0.5, 0.9, 0.95] }}
init.x = {{ values = [-5, 5, -4, 4] }}
"""
OBSERVERS = (
    'observers = [{{ name = "recorder" }}, {{ name = "checkpoint", every = 10, '
    'dir = {{ values = ["{ok}/a", "{ok}/b", "{bad}/c", "{ok}/d"] }} }}]\n'
)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_failing_member_loses_nobody_elses_results(tmp_path: Path, executor: str) -> None:
    if executor == "dask":
        pytest.importorskip("distributed")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # checkpoints under it cannot be written
    scenario = tmp_path / "s.toml"
    scenario.write_text((FAILING_MEMBER + OBSERVERS).format(ok=tmp_path / "ck", bad=blocker))
    out = tmp_path / "out"
    args = ["run", str(scenario), "--out", str(out), "--executor", executor, "-q"]
    result = CliRunner().invoke(
        main, [*args, "--workers", "2"] if executor != "vectorised" else args
    )
    assert result.exit_code == 1, result.output
    summary = json.loads((out / "summary.json").read_text())
    statuses = {r["name"]: r["status"] for r in summary["runs"]}
    assert list(statuses.values()) == ["completed", "completed", "error", "completed"]
    failed = summary["runs"][2]
    assert "cannot write checkpoint" in failed["error"] and "Not a directory" in failed["error"]
    assert failed["passed"] is False and failed["steps"] == 10
    for run in summary["runs"]:
        assert run["files"] and all((out / f).is_file() for f in run["files"])
    assert (out / "sweeps.json").is_file()


SLOW = """
[scenario]
name = "slow"
[objective]
name = "quartic"
[defaults]
steps = 40000
schedule = {{ name = "constant", lr = 0.01 }}
[[runs]]
name = "m"
rule.name = "momentum"
rule.mu = {{ linspace = [0.0, 0.9, 8] }}  # 8 runs: one run per chunk of 2 workers
init.x = -5.0
observers = [{{ name = "checkpoint", every = 10000, dir = "{ck}" }}]
"""


def _final_checkpoints(folder: Path) -> list[Path]:
    return list(folder.rglob("step-000040000.npz"))


@pytest.mark.skipif(sys.platform == "win32", reason="needs process groups and SIGINT")
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_ctrl_c_keeps_finished_runs_and_cancels_the_rest(tmp_path: Path, executor: str) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole process group) once three runs have finished.

    Three: the first one's result has had two runs' time to reach the parent process. (In
    this process the eight runs step together as one ensemble: see the test below.)
    """
    if executor == "dask":
        pytest.importorskip("distributed")
    ck, out = tmp_path / "ck", tmp_path / "out"
    (tmp_path / "s.toml").write_text(SLOW.format(ck=ck))
    command = [sys.executable, "-m", "gdsim", "run", "s.toml", "-q", "--out", str(out)]
    command += ["--executor", executor, "--workers", "2"] if executor != "vectorised" else []
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
        while len(_final_checkpoints(ck)) < 3 and child.poll() is None:
            assert time.monotonic() < deadline, "no run finished"
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()[1]  # still running when interrupted
        os.killpg(child.pid, signal.SIGINT)
        _stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "distributed" not in stderr, stderr
    summary = json.loads((out / "summary.json").read_text())
    finished = {r["name"] for r in summary["runs"]}
    assert 1 <= len(finished) < 8  # the rest was cancelled, not waited for
    assert all(r["status"] == "completed" for r in summary["runs"])
    assert f"{len(finished)} of 8 runs had finished; their results are in {out}" in stderr
    hinted = [line.split("gdsim resume ")[1] for line in stderr.splitlines() if "resume" in line]
    for folder in hinted:
        assert (tmp_path / folder).is_dir()
        assert Path(folder).name not in {safe_name(n) for n in finished}  # unfinished only


@pytest.mark.skipif(sys.platform == "win32", reason="needs process groups and SIGINT")
def test_ctrl_c_mid_ensemble_names_the_ensemble_checkpoint(tmp_path: Path) -> None:
    """The sweep steps as one ensemble, saved as one checkpoint: Ctrl-C after the first save
    exits 130 without a traceback and names the folder to resume, whose file is complete."""
    from gdsim import checkpoint as ckpt

    ck = tmp_path / "ck"
    slow = SLOW.replace("steps = 40000", "steps = 4000000").replace("10000", "20000")
    (tmp_path / "s.toml").write_text(slow.format(ck=ck))
    command = [sys.executable, "-m", "gdsim", "run", "s.toml", "-q"]
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
        while not list(ck.rglob("step-*.npz")) and child.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()[1]
        os.killpg(child.pid, signal.SIGINT)
        _stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    (hint,) = [line.split("gdsim resume ")[1] for line in stderr.splitlines() if "resume" in line]
    folder = tmp_path / hint
    assert folder.name.startswith("ensemble-m") and "-8runs" in folder.name
    loaded = ckpt.load(folder)  # the newest file: complete, checksum and all
    assert loaded.kind == "ensemble" and len(loaded.runs) == 8 and loaded.step % 20000 == 0
    assert not list(folder.glob("*.tmp"))


QUARTIC = """
[objective]
name = "quartic"
[[runs]]
name = "{name}"
steps = 5
observers = [{{ name = "recorder" }}]
"""


def _run(tmp_path: Path, name: str, out: Path, *extra: str) -> object:
    scenario = tmp_path / f"{name}.toml"
    scenario.write_text(QUARTIC.format(name=name))
    return CliRunner().invoke(main, ["run", str(scenario), "--out", str(out), "-q", *extra])


def test_a_reused_out_folder_is_replaced_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(tmp_path, "first", out).exit_code == 0
    assert (out / "traces" / "first.recorder.csv").exists()
    assert _run(tmp_path, "second", out).exit_code == 0
    assert sorted(p.name for p in (out / "traces").iterdir() if p.suffix == ".csv") == [
        "second.recorder.csv"
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_a_folder_that_is_not_gdsims_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result = _run(tmp_path, "a", out)
    assert result.exit_code == 2
    assert "holds files that are not gdsim results (thesis.tex)" in result.output
    assert "--force" in result.output and (out / "thesis.tex").exists()
    assert _run(tmp_path, "a", out, "--force").exit_code == 0
    assert not (out / "thesis.tex").exists() and (out / "summary.json").exists()
    (tmp_path / "empty").mkdir()
    assert _run(tmp_path, "a", tmp_path / "empty").exit_code == 0  # empty: nothing to lose


def test_the_working_directory_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    for out in (Path("."), tmp_path.parent):
        result = _run(tmp_path, "a", out, "--force")
        assert result.exit_code == 2
        assert "refusing to replace a folder that holds the working directory" in result.output
    assert (tmp_path / "keep.txt").exists()


def test_a_write_that_fails_midway_leaves_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert _run(tmp_path, "first", out).exit_code == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    import gdsim.report

    original = gdsim.report.write_json

    def killed(*args: object, **kwargs: object) -> None:  # traces written, summary not
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gdsim.report, "write_json", killed)
    result = _run(tmp_path, "second", out)
    assert result.exit_code == 2 and "No space left on device" in result.output
    monkeypatch.setattr(gdsim.report, "write_json", original)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_stale_stages_and_temporary_files_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stale = tmp_path / ".out.gdsim-stage-abc123"  # a run killed while staging
    stale.mkdir()
    (stale / "summary.json").write_text("{}")
    assert _run(tmp_path, "a", out).exit_code == 0
    assert not stale.exists()
    folder = tmp_path / "ck" / "s" / "m"
    folder.mkdir(parents=True)
    left = folder / ".step-000000002.npz.k3j_9x0a.tmp"  # a checkpoint writer killed mid-write
    left.write_bytes(b"partial")
    mine = folder / "notes.tmp"
    mine.write_text("the user's own")
    scenario = tmp_path / "s.toml"
    ck = tmp_path / "ck"
    scenario.write_text(
        '[scenario]\nname = "s"\n[objective]\nname = "quartic"\n[[runs]]\nname = "m"\n'
        f'steps = 4\nobservers = [{{ name = "checkpoint", every = 2, dir = "{ck}" }}]\n'
    )
    assert CliRunner().invoke(main, ["run", str(scenario), "-q"]).exit_code == 0
    assert not left.exists() and mine.exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.tmp",
        "step-000000002.npz",
        "step-000000004.npz",
    ]
