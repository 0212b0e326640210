"""Malformed scenarios: each exits 2, names the key path and never shows a traceback.

Each file in tests/data/malformed/ states in its header what the message must contain:
``# expect-path: KEY.PATH`` and one or more ``# expect-message: TEXT`` lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.scenario import load_file

CORPUS = sorted((Path(__file__).parent / "data" / "malformed").glob("*.toml"))


def header(path: Path, key: str) -> list[str]:
    prefix = f"# {key}:"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line[len(prefix) :].strip() for line in lines if line.startswith(prefix)]


def test_the_corpus_covers_the_required_kinds_of_error():
    names = {p.stem for p in CORPUS}
    required = {"syntax_error", "unknown_section", "unknown_rule", "wrong_type_param"}
    required |= {"out_of_range_mu", "missing_runs", "empty_runs", "missing_required_param"}
    assert required <= names


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_malformed_scenario_exits_2_with_key_path(cli, path):
    result = cli.invoke(main, ["run", str(path)])
    assert result.exit_code == 2, result.output
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "Traceback" not in result.output
    assert str(path) in message
    for expected_path in header(path, "expect-path"):
        assert f": {expected_path}" in message or expected_path in message, message
    for fragment in header(path, "expect-message"):
        assert fragment in message, message


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_malformed_scenario_fails_validate_too(cli, path):
    result = cli.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_malformed_scenario_raises_a_scenario_error_with_its_path(path):
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    expected = header(path, "expect-path")
    if expected and not expected[0].endswith(".toml"):
        assert info.value.path == expected[0]
    assert info.value.file == str(path)


def test_missing_file_exits_2(cli, tmp_path):
    result = cli.invoke(main, ["run", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "no such file" in result.output
