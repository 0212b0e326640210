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


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()
