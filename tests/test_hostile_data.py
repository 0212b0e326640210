"""Data files say what they hold: BOM, explicit headers, special files, complex arrays."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gdsim.cli import main
from gdsim.data import DataError, load_csv, load_npz
from gdsim.data import files as data_files

ROWS = "1.0,2.0,0\n3.0,4.0,1\n5.0,6.0,0\n7.0,8.0,1\n"


def test_a_byte_order_mark_is_not_a_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeff" + ROWS).encode())
    X, y, names = load_csv(path)
    assert names is None
    assert X.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    assert y.tolist() == [0.0, 1.0, 0.0, 1.0]
    path.write_bytes(("\ufeffa,b,label\n" + ROWS).encode())
    assert load_csv(path)[2] == ["a", "b", "label"]


def test_auto_refuses_a_first_row_that_mixes_numbers_and_text(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("1.0,2.O,0\n" + ROWS)
    with pytest.raises(DataError, match=r"row 1 mixes numbers and text \(column 2: '2\.O'\)"):
        load_csv(path)
    with pytest.raises(DataError, match=r"row 1, column 2: expected a number, got '2\.O'"):
        load_csv(path, header=False)
    X, _y, names = load_csv(path, header=True)  # the user says it is a header
    assert names == ["1.0", "2.O", "0"] and X.shape == (4, 2)


def test_header_choices_are_explicit_and_auto_leaves_a_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.csv"
    path.write_text("x1,x2,label\n" + ROWS)
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        assert load_csv(path)[2] == ["x1", "x2", "label"]
    assert "row 1 taken as the header (x1, x2, label)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        assert load_csv(path, header=True)[2] == ["x1", "x2", "label"]
        numbers = tmp_path / "n.csv"
        numbers.write_text(ROWS)
        assert load_csv(numbers, header=False)[0].shape == (4, 2)
        assert load_csv(numbers, header=True)[0].shape == (3, 2)  # row 1 named the columns
    assert not caplog.text
    with pytest.raises(DataError, match='header must be true, false or "auto"'):
        load_csv(path, header="yes")


def _scenario(tmp_path: Path, data: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(
        f'[objective]\nname = "mlp"\nhidden = [3]\n[objective.data]\n{data}\n'
        '[[runs]]\nname = "a"\nsteps = 2\n'
    )
    return path


def test_header_is_a_scenario_key(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("1.0,2.O,0\n" + ROWS * 5)
    data = f'name = "csv"\npath = "{tmp_path / "d.csv"}"'
    result = CliRunner().invoke(main, ["validate", str(_scenario(tmp_path, data))])
    assert result.exit_code == 2
    assert "objective.data.path:" in result.output and "mixes numbers and text" in result.output
    result = CliRunner().invoke(
        main, ["validate", str(_scenario(tmp_path, data + "\nheader = true"))]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        main, ["validate", str(_scenario(tmp_path, data + '\nheader = "maybe"'))]
    )
    assert result.exit_code == 2
    assert "objective.data.header: expected true, false or \"auto\", got 'maybe'" in result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_data_files_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        for source in ("csv", "npz"):
            data = f'name = "{source}"\npath = "{path}"'
            result = CliRunner().invoke(main, ["validate", str(_scenario(tmp_path, data))])
            assert result.exit_code == 2, result.output
            assert f"not a regular file ({kind})" in result.output
            assert "objective.data.path" in result.output


def test_long_lines_and_large_files_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.csv"
    path.write_text("1.0," * 1000 + "1\n")
    monkeypatch.setattr(data_files, "MAX_LINE_CHARS", 100)
    with pytest.raises(DataError, match="line 1 is longer than 100 characters"):
        load_csv(path)
    monkeypatch.setattr(data_files, "MAX_CSV_BYTES", 1000)
    with pytest.raises(DataError, match="larger than the limit of 1000 bytes"):
        load_csv(path)


def test_complex_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, X=np.ones((4, 2)) * (1 + 1j), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match=r"array 'X' holds complex numbers \(dtype complex128\)"):
        load_npz(path)
    np.savez(path, X=np.ones((4, 2)), y=np.array([0, 1, 0, 1j]))
    with pytest.raises(DataError, match="array 'y' holds complex numbers"):
        load_npz(path)
