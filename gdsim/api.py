"""The Python API: load and run scenarios from a notebook or a script."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    executor: str = "vectorised",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: bool = False,
) -> Results:
    """Run every run of a scenario (or those named in ``only``) and return the results.

    ``executor`` is "vectorised" (in this process; runs that can step together do so as one
    ensemble), "process" (a local pool of ``workers``) or "dask" (the scheduler at
    ``scheduler``, a given ``client``, or a local cluster); the results are the same bit for
    bit. ``progress`` draws a counter on stderr when it is a terminal.
    """
    from gdsim.executors import Progress, execute

    registry = registry or default_registry()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario, registry=registry)
    specs = [s for s in scenario.runs if only is None or s.name in only]
    counter = Progress(len(specs)) if progress else None
    try:
        runs = execute(specs, registry.pm, executor, workers, scheduler, client, counter)
    finally:
        if counter is not None:
            counter.close()
    return Results(scenario=scenario, runs=runs)
