"""Shared fixtures: scenario builders and a CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def quartic_run(**run: Any) -> dict[str, Any]:
    """A one-run quartic scenario mapping, overridable per key."""
    base = {"name": "r", "init": {"x": 5.0}, "steps": 100}
    base.update(run)
    return {"objective": {"name": "quartic"}, "runs": [base]}


def write_scenario(folder: Path, text: str, name: str = "s.toml") -> Path:
    """Write a scenario file (UTF-8) into ``folder`` and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()
