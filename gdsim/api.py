"""The Python API: load and run scenarios from a notebook or a script."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gdsim import engine
from gdsim.checkpoint import Checkpoint, restore
from gdsim.checkpoint import load as load_checkpoint
from gdsim.components import Observer
from gdsim.errors import CheckpointError
from gdsim.registry import Registry, default_registry
from gdsim.results import Results
from gdsim.scenario import RunSpec, Scenario, load_file, load_mapping

log = logging.getLogger("gdsim")


def load(scenario: str | Path | Mapping[str, Any], registry: Registry | None = None) -> Scenario:
    """Validate a scenario given as a TOML path or as a mapping of the same shape."""
    if isinstance(scenario, Mapping):
        return load_mapping(scenario, registry=registry)
    return load_file(scenario, registry=registry)


def run(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    registry: Registry | None = None,
    only: list[str] | None = None,
    resume: Sequence[str | Path | Checkpoint] = (),
    extra_observers: Callable[[RunSpec], list[Observer]] | None = None,
) -> Results:
    """Run every run of a scenario (or those named in ``only``) and return the results.

    ``resume`` lists checkpoints (files, run folders or loaded ones): each run that has one
    continues from it, bit-identically to a run never interrupted. ``extra_observers`` adds
    observers that are not part of the scenario (progress bars); checkpoints do not save them.
    """
    registry = registry or default_registry()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario, registry=registry)
    checkpoints = _checkpoints_by_run(scenario, resume)
    specs = [s for s in scenario.runs if only is None or s.name in only]
    runs = []
    for spec in specs:
        if spec.name in checkpoints:
            ctx = restore(checkpoints[spec.name], spec, scenario)
        else:
            ctx = engine.start_run(spec)
            ctx.scenario = scenario
        if extra_observers is not None:
            ctx.observers.extend(extra_observers(spec))
        result = engine.run(spec, pm=registry.pm, context=ctx)
        log.info(
            "run '%s': %s after %d steps in %.3f s%s",
            result.name,
            result.status,
            result.steps,
            result.elapsed,
            f" (resumed at step {checkpoints[spec.name].step})" if spec.name in checkpoints else "",
        )
        runs.append(result)
    return Results(scenario=scenario, runs=runs)


def resume(
    checkpoint: str | Path | Checkpoint,
    registry: Registry | None = None,
    extra_observers: Callable[[RunSpec], list[Observer]] | None = None,
) -> Results:
    """Continue the run saved in ``checkpoint`` with the scenario stored inside it."""
    registry = registry or default_registry()
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    scenario = load_mapping(
        loaded.scenario_definition,
        source=loaded.scenario_source,
        registry=registry,
        default_name=str(loaded.meta["scenario"].get("name", "scenario")),
    )
    return run(
        scenario,
        registry=registry,
        only=[loaded.run],
        resume=[loaded],
        extra_observers=extra_observers,
    )


def _checkpoints_by_run(
    scenario: Scenario, resume: Sequence[str | Path | Checkpoint]
) -> dict[str, Checkpoint]:
    names = [r.name for r in scenario.runs]
    found: dict[str, Checkpoint] = {}
    for item in resume:
        loaded = item if isinstance(item, Checkpoint) else load_checkpoint(item)
        if loaded.run not in names:
            raise CheckpointError(
                f"{loaded.path}: checkpoint is of run '{loaded.run}', which scenario "
                f"{scenario.source} does not have (runs: {', '.join(names)})"
            )
        if loaded.run in found:
            raise CheckpointError(f"{loaded.path}: a second checkpoint for run '{loaded.run}'")
        found[loaded.run] = loaded
    return found
