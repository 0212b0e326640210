"""The checkpoint observer: saves the run every N steps and at its end, keeping the last K files.

Files go to ``DIR/<scenario>/<run>/step-<step>.npz`` (see :mod:`gdsim.checkpoint` for the
format); inside a vectorised ensemble one file holds every member, in
``DIR/<scenario>/ensemble-<first run>-<N>runs/`` (:class:`MemberCheckpoint`). It is called
after every other observer of a step (``runs_last``), so the saved observer states include
that step.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from gdsim import checkpoint as ckpt
from gdsim.components import MemberObserver, Observer, param
from gdsim.errors import GdsimError
from gdsim.fileio import inside, remove_stale_temporaries, safe_name
from gdsim.hookspecs import hookimpl
from gdsim.validators import int_at_least

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.results import RunResult

log = logging.getLogger("gdsim")


def folder_name(name: str) -> str:
    """A file-system-safe, unique form of a scenario or run name."""
    return safe_name(name)


def _non_empty(_instance: Any, attribute: Any, value: Any) -> None:
    from gdsim.errors import ParamError

    if not isinstance(value, str) or not value.strip():
        raise ParamError(attribute.name, f"expected a folder name, got {value!r}")
    if "\x00" in value:
        raise ParamError(
            attribute.name, f"expected a folder name without NUL characters, got {value!r}"
        )


@attrs.define
class Checkpoint(Observer):
    """Saves everything needed to resume the run exactly, every N steps and when it ends.

    Resume with ``gdsim resume DIR/<scenario>/<run>`` (the newest file) or
    ``gdsim run SCENARIO --resume FILE``. A run that diverged is not saved at its end.
    """

    name: ClassVar[str] = "checkpoint"
    runs_last: ClassVar[bool] = True

    every: int = param(1000, validator=int_at_least(1), doc="save after every N-th step")
    dir: str = param(
        "checkpoints", validator=_non_empty, doc="folder (relative to the working directory)"
    )
    keep: int = param(3, validator=int_at_least(1), doc="how many of the newest files to keep")
    at_end: bool = param(True, doc="also save when the run ends")

    _written: list[str] = attrs.field(init=False, factory=list)
    _last: tuple[int, str | None] | None = attrs.field(init=False, default=None)
    _cleaned: bool = attrs.field(init=False, default=False)
    resume_folder: Path | None = attrs.field(init=False, default=None)
    """Set when resuming: the folder of the checkpoint resumed from, used instead of ``dir``.

    The ``dir`` stored in a checkpoint came from whoever wrote the file; a resumed run writes
    beside the file it continues unless the user names another folder.
    """

    def folder(self, run: RunContext) -> Path:
        """Where this run's checkpoint files go."""
        if self.resume_folder is not None:
            return self.resume_folder
        scenario = run.scenario.name if run.scenario is not None else "scenario"
        return inside(self.dir, folder_name(scenario), folder_name(run.name))

    def run_started(self, run: RunContext) -> None:
        self._clean(run)

    def step_completed(self, run: RunContext) -> None:
        self._save(run)

    def _clean(self, run: RunContext) -> None:
        """Remove what a killed writer left in this run's folder (``.step-….npz.XXXXXXXX.tmp``)."""
        if self._cleaned or run.scenario is None:
            return
        with contextlib.suppress(OSError):
            remove_stale_temporaries(self.folder(run), "step-*.npz")
        self._cleaned = True

    def run_completed(self, run: RunContext, result: RunResult) -> None:
        if not self.at_end or result.status == "diverged":
            return
        status = run.stop_status if run.stop_status != "completed" else None
        if self._last != (run.step, status):
            self._save(run)

    def _save(self, run: RunContext) -> None:
        if run.scenario is None:
            raise GdsimError(
                f"run '{run.name}': the checkpoint observer needs the scenario the run came from; "
                "run it through gdsim.run() or the gdsim command"
            )
        folder = self.folder(run)
        path = inside(folder, f"step-{run.step:09d}.npz")
        try:
            self._clean(run)
            ckpt.save(path, run, run.scenario, root=folder)
        except OSError as exc:
            raise GdsimError(f"run '{run.name}': cannot write checkpoint {path}: {exc}") from None
        status = run.stop_status if run.stop_status != "completed" else None
        self._last = (run.step, status)
        if str(path) not in self._written:
            self._written.append(str(path))
        log.info("run '%s': checkpoint saved to %s", run.name, path)
        files = ckpt.checkpoint_files(folder)
        # files past this step belong to another history of the run (an earlier session)
        stale = [p for step, p in files if step > run.step]
        older = [p for step, p in files if step <= run.step][: -self.keep]
        for old in stale + older:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

    def outputs(self) -> dict[str, Any]:
        kept = [p for p in self._written if Path(p).exists()]
        return {"files": kept, "last": kept[-1] if kept else None}

    def for_members(self, size: int) -> MemberObserver | None:
        return MemberCheckpoint(self, size)


def ensemble_folder_name(runs: list[str]) -> str:
    """The folder of an ensemble's checkpoints: named after its first run and its size."""
    return folder_name(f"ensemble-{runs[0]}-{len(runs)}runs")


class MemberCheckpoint(MemberObserver):
    """The checkpoint of a whole vectorised ensemble: one file holds every member.

    Every ``every`` steps (once the members that ended at that step are recorded) and at the
    end, the ensemble hands it its whole state — the live members' parameters and component
    states, the outcome of the members that ended, every member observer's state — which goes
    to ``DIR/<scenario>/ensemble-<first run>-<N>runs/step-<step>.npz`` (kind ``ensemble``, see
    :mod:`gdsim.checkpoint`). ``gdsim resume`` on that folder continues the ensemble.
    """

    saves_ensemble = True

    def __init__(self, config: Checkpoint, size: int) -> None:
        self.config = config
        self.every = config.every
        self.at_end = config.at_end
        self.size = size
        self.scenario: Any = None
        self.identity: dict[str, Any] | None = None
        self.resume_folder: Path | None = None
        self._written: list[str] = []
        self._kept: list[str] | None = None
        self._cleaned = False

    def bind(self, identity: dict[str, Any], scenario: Any) -> None:
        """Tell it which runs it saves (:func:`gdsim.checkpoint.ensemble_identity`)."""
        self.identity, self.scenario = identity, scenario

    def folder(self) -> Path:
        if self.resume_folder is not None:
            return self.resume_folder
        assert self.identity is not None
        return inside(
            self.config.dir,
            folder_name(self.scenario.name),
            ensemble_folder_name(self.identity["runs"]),
        )

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (a :func:`gdsim.ensemble.simulate` snapshot) and prune old files."""
        if self.identity is None or self.scenario is None:
            raise GdsimError("the checkpoint of an ensemble needs the scenario its runs came from")
        folder = self.folder()
        step = int(state["step"])
        path = inside(folder, f"step-{step:09d}.npz")
        first = self.identity["runs"][0]
        try:
            if not self._cleaned:
                with contextlib.suppress(OSError):
                    remove_stale_temporaries(folder, "step-*.npz")
                self._cleaned = True
            ckpt.save_ensemble(path, self.identity, state, self.scenario, root=folder)
        except OSError as exc:
            raise GdsimError(
                f"ensemble of run '{first}' and {self.size - 1} more: cannot write checkpoint "
                f"{path}: {exc}"
            ) from None
        if str(path) not in self._written:
            self._written.append(str(path))
        log.info("ensemble of %d runs: checkpoint saved to %s", self.size, path)
        files = ckpt.checkpoint_files(folder)
        stale = [p for s, p in files if s > step]  # another history of the ensemble
        older = [p for s, p in files if s <= step][: -self.config.keep]
        for old in stale + older:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        if self._kept is None:  # once for every member: the files are the ensemble's
            self._kept = [p for p in self._written if Path(p).exists()]
        kept = self._kept
        return {"files": list(kept), "last": kept[-1] if kept else None}


@hookimpl
def gdsim_observers() -> list[type]:
    return [Checkpoint]
