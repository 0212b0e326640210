"""Hostile names never make gdsim write outside the folder a file belongs to."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gdsim.cli import main
from gdsim.fileio import UnsafePathError, atomic_open, inside, safe_name, write_text

HOSTILE = [
    "../../up",
    "/tmp/absolute",
    "nul\\u0000byte",
    "long" * 300,
    "ünï/cødé/../..",
    "..",
    ".",
    "",
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _scenario(folder: Path) -> str:
    runs = "\n".join(
        f"""
[[runs]]
name = "{name}"
init = {{ x = {i / 4} }}
observers = [{{ name = "recorder" }}, {{ name = "checkpoint", every = 2, dir = "ck" }}]
"""
        for i, name in enumerate(n for n in HOSTILE if n)
    )
    return f"""
[scenario]
name = "../../scen/\\u0000"

[objective]
name = "quartic"

[defaults]
steps = 4
schedule = {{ name = "constant", lr = 0.1 }}
{runs}

[[runs]]
name = "x/../../../escaped_basin"
init.x = {{ linspace = [-5, 5, 3] }}
rule.name = "momentum"
rule.mu = {{ values = [0.0, 0.9] }}
"""


@pytest.mark.filterwarnings("ignore::UserWarning")  # the NUL in the title has no glyph
def test_every_writer_stays_in_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (work / "s.toml").write_text(_scenario(work), encoding="utf-8")
    before = _files(tmp_path)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["run", "s.toml", "--out", "out", "--plot", "-q"])
    assert result.exit_code == 0, result.output
    new = _files(tmp_path) - before
    allowed = (work / "out", work / "out_no_plot", work / "ck")
    outside = [p for p in new if not any(a in p.parents for a in allowed)]
    assert not outside
    kinds = {p.relative_to(work).parts[1] if p.parts[-2] != "out" else p.suffix for p in new}
    # every kind of file was written: traces, plots (with the basin map), checkpoints, summary
    assert {"traces", "plots", ".json"} <= kinds
    # the hostile runs step as one ensemble: its checkpoints hold every one of them
    from gdsim import checkpoint as ckpt

    saved = {r for f in (work / "ck").rglob("step-*.npz") for r in ckpt.load(f).runs}
    assert len(saved) >= len(HOSTILE) - 1
    assert (work / "out" / "plots" / "basins.png").exists()
    # without --plot the basin map is written beside the summary, under its safe name
    result = CliRunner().invoke(main, ["run", "s.toml", "--out", "out_no_plot", "-q"])
    assert result.exit_code == 0, result.output
    assert list((work / "out_no_plot").glob("basin_*.png"))
    assert not [p for p in _files(tmp_path) - before if not any(a in p.parents for a in allowed)]
    result = CliRunner().invoke(main, ["plot", "out", "--animate", "--animate-format", "gif"])
    assert result.exit_code == 0, result.output
    assert list((work / "out" / "plots").glob("*.gif"))  # an animation, inside too
    assert not [p for p in _files(tmp_path) - before if not any(a in p.parents for a in allowed)]
    # resuming writes beside the checkpoint, not where the stored dir points
    checkpoint = sorted((work / "ck").rglob("step-000000002.npz"))[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(main, ["resume", str(checkpoint), "-q"])
    assert result.exit_code == 0, result.output
    assert not _files(elsewhere)
    assert (checkpoint.parent / "step-000000004.npz").exists()


@given(st.text(max_size=300))
def test_a_safe_name_is_one_plain_name(name: str) -> None:
    safe = safe_name(name)
    path = inside("/root", safe)
    assert path.parent == Path("/root")
    assert "\x00" not in safe and "/" not in safe and safe not in ("", ".", "..")
    assert len(safe.encode()) <= 255


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/abs", "a\x00b", "x" * 256])
def test_inside_refuses_names_that_are_not_one_component(name: str) -> None:
    with pytest.raises(UnsafePathError, match="refusing to write"):
        inside("/root", name)


def test_atomic_open_refuses_a_path_outside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)  # a link planted inside the folder
    for path in (root / ".." / "escaped", root / "link" / "escaped", tmp_path / "escaped"):
        with pytest.raises(UnsafePathError, match="outside the folder"):
            write_text(path, "x", root=root)
    with pytest.raises(UnsafePathError, match="NUL"), atomic_open(root / "a\x00b", "w"):
        pass
    assert not (tmp_path / "escaped").exists()
    assert sorted(os.listdir(root)) == ["link"]


def test_plot_reads_only_regular_files_inside_the_results_folder(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    folder = tmp_path / "results"
    folder.mkdir()
    (tmp_path / "secret.csv").write_text("step,loss\n0,1.0\n")
    (folder / "zero.csv").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.csv")
    cases = (
        ("../secret.csv", "outside the folder"),
        ("/tmp/secret.csv", "outside the folder"),
        ("zero.csv", "outside the folder"),  # a link to /dev/zero
        ("fifo.csv", "not a regular file (a FIFO)"),
    )
    for target, message in cases:
        summary = {"scenario": {"name": "s"}, "runs": [{"name": "a", "files": [target]}]}
        (folder / "summary.json").write_text(json.dumps(summary))
        result = CliRunner().invoke(main, ["plot", str(folder)])
        assert result.exit_code == 2, (target, result.output)
        assert "cannot read the trace" in result.output and message in result.output
    (folder / "summary.json").unlink()
    os.symlink("/dev/zero", folder / "summary.json")
    result = CliRunner().invoke(main, ["plot", str(folder)])
    assert result.exit_code == 2
    assert "not a regular file" in result.output
