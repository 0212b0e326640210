"""The Python API: load and run scenarios from a notebook or a script."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gdsim import engine
from gdsim.registry import Registry, default_registry
from gdsim.results import Results
from gdsim.scenario import Scenario, load_file, load_mapping


def load(scenario: str | Path | Mapping[str, Any], registry: Registry | None = None) -> Scenario:
    """Validate a scenario given as a TOML path or as a mapping of the same shape."""
    if isinstance(scenario, Mapping):
        return load_mapping(scenario, registry=registry)
    return load_file(scenario, registry=registry)


def run(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    registry: Registry | None = None,
    only: list[str] | None = None,
) -> Results:
    """Run every run of a scenario (or those named in ``only``) and return the results."""
    registry = registry or default_registry()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario, registry=registry)
    specs = [s for s in scenario.runs if only is None or s.name in only]
    return Results(scenario=scenario, runs=[engine.run(spec, pm=registry.pm) for spec in specs])
