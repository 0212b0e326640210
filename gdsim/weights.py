"""Saved weights: the lecture's loader, reading parameters back from a checkpoint or results folder.

A run writes its parameters in two places: a checkpoint (``step-*.npz``, every array of the run's
state, see :mod:`gdsim.checkpoint`) and a results folder (``summary.json``, each run's final
parameters as exact decimal floats, written by ``gdsim run --out``). :func:`load_weights` reads
either, so that

* a new run can start from them (``init = { from = "…" }`` in a scenario: fine-tuning, or
  continuing with another rule — unlike ``gdsim resume``, which continues the *same* run), and
* :func:`evaluate` (``gdsim evaluate``) can score them on a data split, as the lecture's loader is
  used for prediction.

Before parameters are used they are checked against the objective they are meant for: same
objective kind, same parameter names, same shapes. Every problem is a :class:`WeightsError`
naming the file and what does not match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.errors import CheckpointError, GdsimError, did_you_mean, with_hint
from gdsim.state import Params


class WeightsError(GdsimError):
    """Saved weights cannot be read, or do not fit the objective they are loaded into."""


class AmbiguousRunError(WeightsError):
    """A results folder holds several runs and none was named.

    ``how`` says how to name one where the error is raised: ``run="NAME"`` from Python,
    ``init = { from = "…", run = "NAME" }`` in a scenario, ``--run NAME`` in ``gdsim evaluate``;
    ``rephrase`` gives the same error with another ``how``.
    """

    def __init__(self, folder: Path, names: list[str], how: str = 'run="NAME"') -> None:
        self.folder = folder
        self.names = names
        self.how = how
        super().__init__(
            f"{folder}: the results hold {len(names)} runs ({', '.join(names)}); name one ({how})"
        )

    def rephrase(self, how: str) -> AmbiguousRunError:
        return AmbiguousRunError(self.folder, self.names, how)


@attrs.frozen
class SavedWeights:
    """Parameters read back from a checkpoint or a results folder, with where they came from."""

    params: Mapping[str, np.ndarray]
    run: str
    """The name of the run that produced them."""
    objective: str
    """The name of the objective they were trained on (``mlp``, ``quartic`` …)."""
    definition: Mapping[str, Any] | None
    """The scenario definition they came from (None when the results folder lacks it)."""
    path: Path
    kind: str
    """``"checkpoint"`` or ``"results"``."""
    step: int
    """The step count the parameters belong to (for early stopping: the best step)."""

    def describe(self) -> str:
        """One line: which file, which run, which step."""
        return f"{self.path} (run '{self.run}', {self.kind}, step {self.step})"


def load_weights(path: str | Path, run: str | None = None) -> SavedWeights:
    """Read saved parameters from a checkpoint file or folder, or from a results folder.

    ``run`` picks one run of a results folder holding several (a checkpoint holds one run; if
    ``run`` is given it must be that one).
    """
    path = Path(path)
    if path.is_dir() and (path / "summary.json").exists():
        return _from_results(path, run)
    if path.is_file() and path.name == "summary.json":
        return _from_results(path.parent, run)
    if path.suffix == ".npz" or path.is_dir():
        return _from_checkpoint(path, run)
    if not path.exists():
        raise WeightsError(f"{path}: no such file or folder")
    raise WeightsError(
        f"{path}: expected a checkpoint (step-*.npz, or a run's checkpoint folder) or a "
        "results folder (with summary.json)"
    )


def _from_checkpoint(path: Path, run: str | None) -> SavedWeights:
    from gdsim import checkpoint as ckpt

    try:
        loaded = ckpt.load(path)
    except CheckpointError as exc:
        raise WeightsError(str(exc)) from None
    if loaded.kind == "ensemble":
        raise WeightsError(
            f"{loaded.path}: an ensemble checkpoint ({len(loaded.runs)} runs, from "
            f"'{loaded.runs[0]}'); saved weights are read from one run's checkpoint or from a "
            "results folder (gdsim run --out)"
        )
    if run is not None and run != loaded.run:
        raise WeightsError(
            f"{loaded.path}: the checkpoint holds run '{loaded.run}', not run '{run}'"
        )
    params = loaded.state.get("params")
    if not isinstance(params, dict):
        raise WeightsError(f"{loaded.path}: corrupt checkpoint (no parameters)")
    fingerprint = loaded.meta.get("fingerprint", {})
    objective = fingerprint.get("objective", {}).get("name", "?")
    step = loaded.step
    best = _restored_best(loaded.meta, loaded.state)
    if best is not None:
        params, step = best
    return SavedWeights(
        params={k: np.array(v, dtype=np.float64) for k, v in params.items()},
        run=loaded.run,
        objective=str(objective),
        definition=loaded.scenario_definition,
        path=loaded.path,
        kind="checkpoint",
        step=step,
    )


def _restored_best(meta: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[dict, int] | None:
    """The best parameters of a run that stopped early with ``restore_best`` (what the run
    reported as its result), from the early-stopping observer's saved state; else None."""
    if meta.get("status") != "stopped_early":
        return None
    settings = meta.get("fingerprint", {}).get("observers", [])
    saved = state.get("observers", [])
    for setting, observer in zip(settings, saved, strict=False):
        if not isinstance(setting, dict) or setting.get("name") != "early_stopping":
            continue
        inner = observer.get("state", {}) if isinstance(observer, dict) else {}
        best = inner.get("best_params")
        if setting.get("restore_best", True) and isinstance(best, dict) and best:
            return best, int(inner.get("best_step", meta.get("step", 0)))
    return None


def _from_results(folder: Path, run: str | None) -> SavedWeights:
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{summary_path}: cannot read the summary ({exc})") from None
    runs = summary.get("runs") if isinstance(summary, dict) else None
    aggregate = summary.get("aggregate") if isinstance(summary, dict) else None
    if isinstance(aggregate, dict) and isinstance(runs, list):
        listed = [r.get("name") for r in runs if isinstance(r, dict)]
        if run is None or run not in listed:  # a big sweep: most runs are in its columns
            raise WeightsError(
                f"{summary_path}: the summary lists {len(listed)} of "
                f"{aggregate.get('runs')} runs (a big sweep's runs are aggregated); "
                + (f"run '{run}' is not one of them; " if run is not None else "")
                + "the swept runs' final parameters are in the folder's sweep_NAME.parquet "
                "or .npz (columns final.PARAM, one row per point)"
            )
    if not isinstance(runs, list) or not runs:
        raise WeightsError(f"{summary_path}: not a gdsim summary (no runs)")
    names = [str(r.get("name")) for r in runs if isinstance(r, dict)]
    if run is None:
        if len(runs) > 1:
            raise AmbiguousRunError(folder, names)
        entry = runs[0]
    else:
        matches = [r for r in runs if isinstance(r, dict) and r.get("name") == run]
        if not matches:
            hint = did_you_mean(run, names)
            raise WeightsError(
                with_hint(
                    f"{folder}: no run named '{run}' in the results (runs: {', '.join(names)})",
                    hint,
                )
            )
        entry = matches[0]
    name = str(entry.get("name"))
    final = entry.get("final") if isinstance(entry.get("final"), dict) else {}
    raw = final.get("params")
    if not isinstance(raw, dict) or not raw:
        raise WeightsError(f"{summary_path}: run '{name}' has no final parameters")
    params = {}
    for key, value in raw.items():
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise WeightsError(
                f"{summary_path}: run '{name}': parameter '{key}' is not an array of finite numbers"
            ) from None
        if not np.all(np.isfinite(array)):
            raise WeightsError(
                f"{summary_path}: run '{name}': parameter '{key}' is not an array of finite numbers"
            )
        params[key] = array
    scenario = summary.get("scenario")
    definition = scenario.get("definition") if isinstance(scenario, Mapping) else None
    step = final.get("step", entry.get("steps", 0))
    return SavedWeights(
        params=params,
        run=name,
        objective=_objective_name(definition, name),
        definition=definition if isinstance(definition, Mapping) else None,
        path=folder,
        kind="results",
        step=step if isinstance(step, int) and not isinstance(step, bool) else 0,
    )


def _objective_name(definition: Any, run: str) -> str:
    """The objective name a run of a scenario definition uses ("?" when unknown)."""
    if not isinstance(definition, Mapping):
        return "?"
    name = _name_of(definition.get("objective"))
    defaults = definition.get("defaults")
    if isinstance(defaults, Mapping):
        name = _name_of(defaults.get("objective")) or name
    for entry in definition.get("runs", []) or []:
        if isinstance(entry, Mapping) and entry.get("name") == run:
            name = _name_of(entry.get("objective")) or name
    return name or "?"


def _name_of(table: Any) -> str | None:
    if isinstance(table, str):
        return table
    if isinstance(table, Mapping) and isinstance(table.get("name"), str):
        return table["name"]
    return None


def check_fits(weights: SavedWeights, objective: Any, expected: Mapping[str, Any]) -> None:
    """Raise :class:`WeightsError` unless ``weights`` fit ``objective`` whose parameters have
    the names and shapes of ``expected``."""
    where = weights.describe()
    if weights.objective not in ("?", objective.name):
        raise WeightsError(
            f"{where}: the weights were trained on objective '{weights.objective}', "
            f"but this objective is '{objective.name}'"
        )
    missing = [k for k in expected if k not in weights.params]
    extra = [k for k in weights.params if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise WeightsError(
            f"{where}: the saved parameters do not match objective '{objective.name}' "
            f"({'; '.join(parts)}; expected {', '.join(expected)})"
        )
    for name, value in expected.items():
        want, got = np.shape(value), np.shape(weights.params[name])
        if want != got:
            raise WeightsError(
                f"{where}: parameter '{name}' has shape {_shape(got)}, but objective "
                f"'{objective.name}' expects {_shape(want)} (a different network size?)"
            )


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


@attrs.frozen
class InitFrom:
    """A run's ``init = { from = "…" }``: start from saved weights, read when the run starts.

    Reading is deferred to the run's start so that a run can load what an earlier run of the
    same scenario saved (the API runs such runs after the others).
    """

    path: str
    run: str | None = None
    where: str = ""
    """``FILE: runs[i].init.from``, prefixed to every message."""

    def params(self, objective: Any, fresh: Params) -> Params:
        """The saved parameters, checked against ``objective`` (whose fresh ones are ``fresh``)."""
        try:
            weights = load_weights(self.path, self.run)
            check_fits(weights, objective, fresh)
        except AmbiguousRunError as exc:
            exc = exc.rephrase(f'init = {{ from = "{self.path}", run = "NAME" }}')
            raise WeightsError(f"{self.where}: {exc}" if self.where else str(exc)) from None
        except WeightsError as exc:
            raise WeightsError(f"{self.where}: {exc}" if self.where else str(exc)) from None
        return {k: np.array(v, dtype=np.float64, copy=True) for k, v in weights.params.items()}


def evaluate(
    source: str | Path,
    split: str = "test",
    run: str | None = None,
    scenario: str | Path | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score saved weights on one data split: ``{"loss": …, "accuracy": …, …}`` plus where from.

    The objective (the data set and network) is rebuilt from the scenario stored with the
    weights, or taken from ``scenario`` (its run named like the weights' run, or its only run).
    """
    from gdsim.api import load
    from gdsim.scenario import load_mapping

    weights = load_weights(source, run)
    if scenario is not None:
        loaded = load(scenario)
    elif weights.definition is not None:
        loaded = load_mapping(weights.definition, source=str(weights.path))
    else:
        raise WeightsError(
            f"{weights.path}: the saved scenario definition is missing; give the scenario "
            "(--scenario FILE)"
        )
    specs = {s.name: s for s in loaded.runs}
    if weights.run in specs:
        spec = specs[weights.run]
    elif len(specs) == 1:
        (spec,) = specs.values()
    else:
        raise WeightsError(
            f"{loaded.source}: no run named '{weights.run}' (runs: {', '.join(specs)})"
        )
    objective = spec.objective
    fresh = objective.init(np.random.default_rng(0))
    check_fits(weights, objective, fresh)
    try:
        metrics = objective.metrics({k: np.asarray(v) for k, v in weights.params.items()}, split)
    except KeyError as exc:
        offered = []
        for name in ("train", "validation", "test"):
            try:
                objective.metrics(fresh, name)
                offered.append(name)
            except KeyError:
                continue
        raise WeightsError(
            f"{weights.describe()}: {exc.args[0] if exc.args else exc} "
            f"(splits with samples: {', '.join(offered) or 'none'})"
        ) from None
    samples = None
    dataset = getattr(objective, "dataset", None)
    if dataset is not None:
        samples = dataset.size(split)
    return {
        "source": str(weights.path),
        "run": weights.run,
        "kind": weights.kind,
        "step": weights.step,
        "objective": objective.name,
        "split": split,
        "samples": samples,
        "metrics": {k: float(v) for k, v in metrics.items()},
    }
