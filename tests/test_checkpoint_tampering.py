"""Checkpoints are checked, not trusted: schema, dtypes and a checksum over every member."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from gdsim import checkpoint as ckpt
from gdsim.cli import main

SCENARIO = """
[scenario]
name = "t"
[objective]
name = "quartic"
[[runs]]
name = "m"
init = {{ x = -5.0 }}
rule = {{ name = "adam" }}
schedule = {{ name = "constant", lr = 0.1 }}
steps = 30
observers = [{{ name = "checkpoint", every = 10, dir = "{dir}" }}]
"""


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    """A scenario and its run's checkpoint at step 20."""
    scenario = tmp_path / "t.toml"
    scenario.write_text(SCENARIO.format(dir=tmp_path / "ck"))
    result = CliRunner().invoke(main, ["run", str(scenario), "-q"])
    assert result.exit_code == 0, result.output
    return scenario, tmp_path / "ck" / "t" / "m" / "step-000000020.npz"


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _write(path: Path, members: dict[str, bytes], sign: bool = True) -> None:
    if sign:
        members[ckpt.CHECKSUM] = ckpt.checksum(members).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _edit_meta(
    change: Callable[[dict[str, Any]], Any], sign: bool = True
) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        members = _members(path)
        meta = json.loads(members["meta.json"])
        text = change(meta)
        members["meta.json"] = (text if isinstance(text, str) else json.dumps(meta)).encode()
        _write(path, members, sign)

    return damage


def _replace_array(
    find: Callable[[dict[str, Any]], str], array: np.ndarray
) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        members = _members(path)
        name = find(json.loads(members["meta.json"]))
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()
        _write(path, members)

    return damage


def _param(meta: dict[str, Any]) -> str:
    return meta["state"]["params"]["x"]["__gdsim_scalar__"]


def _rule_buffer(meta: dict[str, Any]) -> str:
    rule = meta["state"]["rule"]
    first = next(v for v in rule.values() if isinstance(v, dict) and "x" in v)
    return next(iter(first["x"].values()))


def _deep(meta: dict[str, Any]) -> str:
    meta["state"]["observers"][0]["state"] = {"deep": None}
    return json.dumps(meta).replace('{"deep": null}', "[" * 100_000 + "]" * 100_000)


def _flip_one_meta_byte(path: Path) -> None:
    members = _members(path)
    members["meta.json"] = members["meta.json"].replace(b'"step": 20', b'"step": 10')
    _write(path, members, sign=False)  # valid zip, valid JSON, old checksum


CASES = [
    (
        _edit_meta(lambda m: m.update(step=float("inf"))),
        "field 'step': expected an integer >= 0, got Infinity",
    ),
    (_edit_meta(lambda m: m.update(step=15.5)), "field 'step': expected an integer >= 0, got 15.5"),
    (_edit_meta(lambda m: m.update(step=True)), "field 'step': expected an integer >= 0, got true"),
    (_edit_meta(lambda m: m.update(epoch=-3)), "field 'epoch': expected an integer >= 0, got -3"),
    (_edit_meta(lambda m: m.update(status="pwned")), "field 'status': expected null or one of"),
    (_edit_meta(lambda m: m.update(arrays=["../../etc/passwd"])), "field 'arrays'"),
    (_edit_meta(_deep), "nests 100004 deep, more than the limit of 200"),
    (_edit_meta(lambda m: m.update(version=1)), "version 1 is not supported (written before"),
    (_replace_array(_param, np.array("abc")), "has dtype <U3; checkpoints hold real numbers"),
    (
        _replace_array(_param, np.array(-3.0, dtype=np.float32)),
        "'state.params.x': expected a float64 array, got float32",
    ),
    (_replace_array(_param, np.array(1 + 2j)), "has dtype complex128"),
    (
        _replace_array(_rule_buffer, np.zeros(3)),
        "is float64 of shape (3,), the run expects float64 of shape ()",
    ),
    (_flip_one_meta_byte, "checksum mismatch"),
    (_edit_meta(lambda m: m.update(epoch=5), sign=False), "checksum mismatch"),
]


@pytest.mark.parametrize(("damage", "message"), CASES)
def test_a_tampered_checkpoint_exits_2_naming_file_and_field(
    saved: tuple[Path, Path], damage: Callable[[Path], None], message: str
) -> None:
    scenario, path = saved
    damage(path)
    for args in (["resume", str(path)], ["run", str(scenario), "--resume", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        # at most the "resuming …" line before the one error line
        assert result.output.splitlines()[-1].startswith(f"error: {path}: ")
        assert len(result.output.splitlines()) <= 2
        assert message in result.output
        assert "Traceback" not in result.output and "a run raised" not in result.output


def test_an_untouched_checkpoint_passes_every_check(saved: tuple[Path, Path]) -> None:
    _scenario, path = saved
    loaded = ckpt.load(path)
    assert loaded.step == 20
    members = _members(path)
    assert members[ckpt.CHECKSUM].decode() == ckpt.checksum(members)
    assert ckpt.json_depth(members["meta.json"].decode()) < ckpt.MAX_JSON_DEPTH


def test_a_zip_bomb_is_refused_before_inflating(saved: tuple[Path, Path], tmp_path: Path) -> None:
    _scenario, path = saved
    members = _members(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        with archive.open("a99.npy", "w", force_zip64=True) as handle:
            chunk = bytes(1 << 20)
            for _ in range(ckpt.MAX_META_BYTES // len(chunk) + 1):
                handle.write(chunk)
        with archive.open("pad.bin", "w", force_zip64=True) as handle:
            pass
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("a99.npy").file_size > ckpt.MAX_META_BYTES
    # meta.json itself stays small, so only the total can stop this one: shrink the budget
    import gdsim.memory

    original = gdsim.memory.memory_limit
    gdsim.memory.memory_limit = lambda: (2 * ckpt.MAX_META_BYTES, "test")
    try:
        result = CliRunner().invoke(main, ["resume", str(path)])
    finally:
        gdsim.memory.memory_limit = original
    assert result.exit_code == 2
    assert "unpacks to" in result.output


def test_a_nul_in_the_checkpoint_dir_is_caught_at_validation(tmp_path: Path) -> None:
    scenario = tmp_path / "t.toml"
    scenario.write_text(SCENARIO.format(dir="ck\\u0000x"))
    result = CliRunner().invoke(main, ["validate", str(scenario)])
    assert result.exit_code == 2
    assert (
        "runs[0].observers[0].dir: expected a folder name without NUL characters" in result.output
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_not_read_as_checkpoints(tmp_path: Path) -> None:
    fifo = tmp_path / "step-000000001.npz"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        result = CliRunner().invoke(main, ["resume", str(path)])  # would block or never end
        assert result.exit_code == 2
        assert f"not a regular file ({kind})" in result.output
