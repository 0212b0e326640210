"""The run table: plain columns for pipes, two lines per run on a narrow terminal."""

from __future__ import annotations

import gdsim
from gdsim.cli import main
from gdsim.report import format_table, run_table
from tests.conftest import SCENARIOS

ESCAPE = SCENARIOS / "escape_local_min.toml"


def body(text: str) -> list[str]:
    """The table's lines: between the title's blank line and the blank line before the outcome."""
    lines = text.splitlines()
    end = len(lines) - 1 - lines[::-1].index("")
    return lines[2:end]


def test_wide_enough_terminal_gets_the_plain_table() -> None:
    results = gdsim.run(ESCAPE)
    plain = format_table(results)
    assert format_table(results, width=200) == plain
    table = run_table(results)
    rows = body(plain)[2:]
    assert len(rows) == len(table.rows)
    for line, cells in zip(rows, table.rows, strict=True):
        assert line.split() == " ".join(cells).split()  # one line per run, every cell in it


def test_narrow_terminal_keeps_every_number_whole() -> None:
    results = gdsim.run(ESCAPE)
    table = run_table(results)
    narrow = format_table(results, width=60)
    lines = body(narrow)
    assert all(len(line) <= 60 for line in lines), lines
    assert len(lines) == 3 + 2 * len(table.rows)
    params = table.header.index("final params")
    loss = table.header.index("final loss")
    for i, cells in enumerate(table.rows):
        first, second = lines[3 + 2 * i], lines[4 + 2 * i]
        assert first.split()[0] == cells[0] and cells[-1] in first
        assert second.startswith("    ")
        assert second.split() == [*cells[params].split(), cells[loss]]
    assert narrow.splitlines()[-1] == format_table(results).splitlines()[-1]


def test_piped_output_is_the_plain_table_whatever_columns_says(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    result = cli.invoke(main, ["run", str(ESCAPE)])
    assert result.exit_code == 0
    assert result.output.strip() == format_table(gdsim.run(ESCAPE)).strip()
