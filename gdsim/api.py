"""The Python API: load and run scenarios from a notebook or a script."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gdsim import engine
from gdsim.checkpoint import Checkpoint, restore
from gdsim.checkpoint import load as load_checkpoint
from gdsim.components import Observer
from gdsim.ensemble import paused_gc
from gdsim.errors import CheckpointError, Interrupted, ScenarioError
from gdsim.registry import Registry, default_registry
from gdsim.results import Results, RunResult
from gdsim.scenario import RunSpec, Scenario, load_file, load_mapping
from gdsim.weights import SavedWeights, evaluate, load_weights

__all__ = ["SavedWeights", "evaluate", "load", "load_weights", "resume", "run"]

log = logging.getLogger("gdsim")


def load(scenario: str | Path | Mapping[str, Any], registry: Registry | None = None) -> Scenario:
    """Validate a scenario given as a TOML path or as a mapping of the same shape."""
    if isinstance(scenario, Mapping):
        return load_mapping(scenario, registry=registry)
    if not isinstance(scenario, str | Path):
        raise ScenarioError(
            f"expected a scenario file path or a mapping, got {type(scenario).__name__}"
        )
    return load_file(scenario, registry=registry)


def run(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    registry: Registry | None = None,
    only: list[str] | None = None,
    resume: Sequence[str | Path | Checkpoint] = (),
    extra_observers: Callable[[RunSpec], list[Observer]] | None = None,
    executor: str = "vectorised",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: bool = False,
    resume_folders: Mapping[str, str | Path] | None = None,
    backend: str | None = None,
) -> Results:
    """Run every run of a scenario (or those named in ``only``) and return the results.

    ``scenario`` is the path of a TOML scenario file (str or Path), a mapping with the same
    tables as such a file (``{"objective": "quartic", "runs": [{"name": "a"}]}``), or a
    :class:`Scenario` already loaded by :func:`gdsim.load`. ``only`` lists the names of the runs
    to run (the others are skipped; None runs them all). ``registry`` holds the components the
    scenario may name (rules, objectives, observers, …); None means the one built from the
    installed plugins. ``workers`` is the number of worker processes of ``executor =
    "process"`` or of a local dask cluster (None: one per CPU; unused by "vectorised").

    Example::

        import gdsim

        results = gdsim.run("scenarios/escape_local_min.toml", only=["gd_from_5"])
        results["gd_from_5"].final_loss  # the run's final loss
        results.passed  # did every run meet its expectations?

    ``executor`` is "vectorised" (in this process; runs that can step together do so as one
    ensemble), "process" (a local pool of ``workers``) or "dask" (the scheduler at
    ``scheduler``, a given ``client``, or a local cluster); the results are the same bit for
    bit. ``progress`` draws a runs-done counter on stderr when it is a terminal.

    ``resume`` lists checkpoints (files, run folders or loaded ones): each run that has one
    continues from it, bit-identically to a run never interrupted; an ensemble checkpoint
    continues all of its runs, as one ensemble again. ``extra_observers`` adds
    observers that are not part of the scenario (progress bars); checkpoints do not save them.
    Resumed runs, and every run when ``extra_observers`` is given, step one by one here. Runs
    that start from saved weights (``init = { from = "…" }``) run last, one by one in this
    process, so that they can load what the scenario's other runs saved. A run that raises
    ends with status ``error``; the others go on. Ctrl-C raises
    :class:`gdsim.errors.Interrupted` (a KeyboardInterrupt) whose ``results`` hold the runs
    that had finished.
    ``resume_folders`` (run name → folder) sends a resumed run's new checkpoints there instead
    of to the ``dir`` of its checkpoint observer.
    ``backend`` ("numpy" or "jax", see ``docs/backends.md``) overrides the scenario's own
    ``backend`` key: where its ensembles step.
    """
    from gdsim.backends import BackendError, get_backend, using_backend
    from gdsim.executors import Progress, execute

    registry = registry or default_registry()
    if not isinstance(scenario, Scenario):
        scenario = load(scenario, registry=registry)
    if backend is not None and backend != scenario.backend:
        scenario = attrs.evolve(scenario, backend=backend, raw=_with_backend(scenario.raw, backend))
    try:
        get_backend(scenario.backend)  # not installed: say so before any run
    except BackendError as exc:
        raise BackendError(f"{scenario.source}: {exc}") from None
    checkpoints, ensembles = _checkpoints_by_run(scenario, resume)
    in_ensembles = {name for loaded in ensembles for name in loaded.runs}
    # every run as the scenario's columns: a sweep is stepped from them (or shipped to workers
    # as them), and its results stay columns (RunList) whose runs are made when read
    shipped = (
        only is None
        and not checkpoints
        and not ensembles
        and extra_observers is None
        and not _loads_saved_weights(scenario.raw)
    )
    specs: Sequence[RunSpec] = scenario.runs
    if not shipped:
        wanted = None if only is None else set(only)
        with paused_gc():  # a sweep's runs are made here, possibly a million of them
            specs = [s for s in scenario.runs if wanted is None or s.name in wanted]

    def stepped_here(spec: RunSpec) -> bool:
        return spec.name in checkpoints or extra_observers is not None

    by_name = {s.name: s for s in specs} if ensembles else {}
    for loaded in ensembles:
        left_out = [name for name in loaded.runs if name not in by_name]
        if left_out:
            raise CheckpointError(
                f"{loaded.path}: the checkpoint holds an ensemble of {len(loaded.runs)} runs; "
                f"resume all of them (run '{left_out[0]}' is not selected)"
            )

    # runs that start from saved weights go last, one by one: they may load what the others saved
    later = [] if shipped else [s for s in specs if s.init_from is not None]
    first = specs if shipped else [s for s in specs if s.init_from is None]
    here = [] if shipped else [s for s in first if stepped_here(s) and s.name not in in_ensembles]
    elsewhere = (
        first
        if shipped
        else [s for s in first if not stepped_here(s) and s.name not in in_ensembles]
    )
    results: dict[str, RunResult] = {}
    done: Sequence[RunResult] = []

    def run_here(spec: RunSpec) -> None:
        if spec.name in checkpoints:
            ctx = restore(checkpoints[spec.name], spec, scenario)
            if resume_folders and spec.name in resume_folders:
                _redirect_checkpoints(ctx, Path(resume_folders[spec.name]))
        else:
            ctx = engine.start_run(spec)
            ctx.scenario = scenario
        if extra_observers is not None:
            ctx.observers.extend(extra_observers(spec))
        with using_backend(scenario.backend):  # a resumed run steps where it started
            results[spec.name] = engine.run(spec, pm=registry.pm, context=ctx)

    try:
        for spec in here:
            run_here(spec)
        for loaded in ensembles:
            from gdsim.ensemble import resume_group

            folder = (resume_folders or {}).get(loaded.runs[0])
            with using_backend(scenario.backend):  # its expectations: the backend's promise
                done = resume_group(
                    [by_name[name] for name in loaded.runs],
                    loaded,
                    scenario,
                    folder=None if folder is None else Path(folder),
                )
            results.update((r.name, r) for r in done)
        if elsewhere:
            counter = Progress(len(elsewhere)) if progress else None
            try:
                done = execute(
                    elsewhere, registry.pm, executor, workers, scheduler, client, counter, scenario
                )
            finally:
                if counter is not None:
                    counter.close()
            if not shipped:
                results.update((r.name, r) for r in done)
        for spec in later:
            run_here(spec)
    except KeyboardInterrupt as exc:  # keep what finished, in scenario order
        results.update((r.name, r) for r in getattr(exc, "runs", []))
        finished = (
            list(results.values())
            if shipped
            else [results[s.name] for s in specs if s.name in results]
        )
        raise Interrupted(finished, Results(scenario=scenario, runs=finished)) from None
    runs: Sequence[RunResult] = done if shipped else [results[s.name] for s in specs]
    for loaded in ensembles:
        log.info(
            "ensemble of %d runs (%s …): resumed at step %d",
            len(loaded.runs),
            loaded.runs[0],
            loaded.step,
        )
    if not log.isEnabledFor(logging.INFO):  # one line per run: a million lines for a sweep
        return Results(scenario=scenario, runs=runs)
    for result in runs:
        resumed = checkpoints.get(result.name)
        log.info(
            "run '%s': %s after %d steps in %.3f s%s",
            result.name,
            result.status,
            result.steps,
            result.elapsed,
            f" (resumed at step {resumed.step})" if resumed is not None else "",
        )
    return Results(scenario=scenario, runs=runs)


def _redirect_checkpoints(ctx: Any, folder: Path) -> None:
    from gdsim.observers.checkpoint import Checkpoint as CheckpointObserver

    for observer in ctx.observers:
        if isinstance(observer, CheckpointObserver):
            observer.resume_folder = folder


def resume(
    checkpoint: str | Path | Checkpoint,
    registry: Registry | None = None,
    extra_observers: Callable[[RunSpec], list[Observer]] | None = None,
    checkpoint_dir: str | Path | None = None,
) -> Results:
    """Continue the run saved in ``checkpoint`` with the scenario stored inside it.

    The stored scenario came from whoever wrote the file, so its checkpoint observer's ``dir``
    is not followed: the resumed run saves its new checkpoints beside the file it continues,
    or into ``checkpoint_dir/<scenario>/<run>`` when the caller gives one.
    """
    from gdsim.fileio import inside
    from gdsim.observers.checkpoint import ensemble_folder_name, folder_name

    registry = registry or default_registry()
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    scenario = load_mapping(
        loaded.scenario_definition,
        source=loaded.scenario_source,
        registry=registry,
        default_name=str(loaded.meta["scenario"].get("name", "scenario")),
    )
    if checkpoint_dir is None:
        folder = loaded.path.parent
    elif loaded.kind == "ensemble":
        folder = inside(
            checkpoint_dir, folder_name(scenario.name), ensemble_folder_name(loaded.runs)
        )
    else:
        folder = inside(checkpoint_dir, folder_name(scenario.name), folder_name(loaded.run))
    return run(
        scenario,
        registry=registry,
        only=loaded.runs,
        resume=[loaded],
        extra_observers=extra_observers,
        resume_folders={loaded.run: folder},
    )


def _checkpoints_by_run(
    scenario: Scenario, resume: Sequence[str | Path | Checkpoint]
) -> tuple[dict[str, Checkpoint], list[Checkpoint]]:
    """The run checkpoints by run name, and the ensemble checkpoints."""
    if not resume:
        return {}, []
    names = [r.name for r in scenario.runs]
    known = set(names)
    found: dict[str, Checkpoint] = {}
    ensembles: list[Checkpoint] = []
    claimed: set[str] = set()
    for item in resume:
        loaded = item if isinstance(item, Checkpoint) else load_checkpoint(item)
        if loaded.kind == "ensemble":
            missing = [name for name in loaded.runs if name not in known]
            if missing:
                raise CheckpointError(
                    f"{loaded.path}: checkpoint holds run '{missing[0]}' (of an ensemble of "
                    f"{len(loaded.runs)}), which scenario {scenario.source} does not have"
                )
            twice = claimed.intersection(loaded.runs) | set(found).intersection(loaded.runs)
            if twice:
                raise CheckpointError(
                    f"{loaded.path}: a second checkpoint for run '{sorted(twice)[0]}'"
                )
            claimed.update(loaded.runs)
            ensembles.append(loaded)
            continue
        if loaded.run in claimed:
            raise CheckpointError(f"{loaded.path}: a second checkpoint for run '{loaded.run}'")
        if loaded.run not in known:
            raise CheckpointError(
                f"{loaded.path}: checkpoint is of run '{loaded.run}', which scenario "
                f"{scenario.source} does not have (runs: {', '.join(names)})"
            )
        if loaded.run in found:
            raise CheckpointError(f"{loaded.path}: a second checkpoint for run '{loaded.run}'")
        found[loaded.run] = loaded
    return found, ensembles


def _with_backend(raw: Mapping[str, Any], backend: str) -> dict[str, Any]:
    """The scenario's definition asking for ``backend`` (what its checkpoints save, so that a
    resume steps on the backend the run started on)."""
    raw = dict(raw)
    meta = raw.get("scenario")
    if isinstance(meta, Mapping) and "backend" in meta:
        raw["scenario"] = {**meta, "backend": backend}
    else:
        raw["backend"] = backend
    return raw


def _loads_saved_weights(raw: Mapping[str, Any]) -> bool:
    """Whether any run of the scenario file starts from saved weights (``init.from``)."""
    tables = [raw.get("defaults"), *(raw.get("runs") or [])]
    return any(
        isinstance(table, Mapping)
        and isinstance(table.get("init"), Mapping)
        and "from" in table["init"]
        for table in tables
    )
