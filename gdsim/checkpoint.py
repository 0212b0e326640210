"""Checkpoint files: save a run's complete state and rebuild a run context that resumes it exactly.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays, read with ``allow_pickle=False``)
holding every array of the run's state plus ``meta.json``: the scenario definition and run name
it came from, a fingerprint of the run's components, the counters, and the state trees with
arrays replaced by references. No pickle is ever written or read. Numpy generators (the run's
RNG and any inside component states) are saved through ``bit_generator.state``.

The file is written atomically (:func:`gdsim.fileio.atomic_open`), so a process killed while
writing leaves the previous checkpoint intact. Loading checks the zip's CRCs, the format and
version, that every referenced array is present, and that the checkpoint matches the scenario it
is resumed with; any problem is a :class:`gdsim.errors.CheckpointError`.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim import __version__
from gdsim.components import describe_params
from gdsim.errors import CheckpointError
from gdsim.fileio import atomic_open
from gdsim.results import to_jsonable

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.scenario import RunSpec, Scenario

FORMAT = "gdsim-checkpoint"
VERSION = 1
META = "meta.json"
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
"""The numpy bit generators a checkpoint may name (looked up by this fixed list only)."""

_ARRAY, _SCALAR, _FLOAT, _TUPLE, _GENERATOR = (
    "__gdsim_array__",
    "__gdsim_scalar__",
    "__gdsim_float__",
    "__gdsim_tuple__",
    "__gdsim_generator__",
)
_MARKERS = (_ARRAY, _SCALAR, _FLOAT, _TUPLE, _GENERATOR)


# --------------------------------------------------------------------------------------------
# state trees <-> JSON + arrays


class _Encoder:
    """Turns a state tree into JSON, collecting its arrays under generated names."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, array: np.ndarray, where: str) -> str:
        if array.dtype.hasobject:
            raise CheckpointError(f"cannot save {where}: arrays of Python objects are not allowed")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = array
        return name

    def encode(self, value: Any, where: str) -> Any:
        # numpy types first: np.float64 is also a Python float
        if isinstance(value, np.ndarray):
            return {_ARRAY: self.add(value, where)}
        if isinstance(value, np.generic):
            return {_SCALAR: self.add(np.asarray(value), where)}
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {_FLOAT: repr(value)}
        if isinstance(value, np.random.Generator):
            return {_GENERATOR: self.encode(value.bit_generator.state, where)}
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise CheckpointError(f"cannot save {where}: key {key!r} is not a string")
                if key in _MARKERS:
                    raise CheckpointError(f"cannot save {where}: key {key!r} is reserved")
                out[key] = self.encode(item, f"{where}.{key}")
            return out
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {_TUPLE: [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        raise CheckpointError(
            f"cannot save {where}: values of type {type(value).__name__} are not supported "
            "(component states hold dicts, lists, numbers, strings, arrays and generators)"
        )


def _decode(node: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), *_ = node.items()
        if key == _ARRAY:
            return _array(arrays, value)
        if key == _SCALAR:
            return _array(arrays, value)[()]
        if key == _FLOAT:
            return float(value)
        if key == _TUPLE:
            return tuple(_decode(v, arrays) for v in value)
        if key == _GENERATOR:
            return _generator(_decode(value, arrays))
    return {k: _decode(v, arrays) for k, v in node.items()}


def _array(arrays: Mapping[str, np.ndarray], name: Any) -> np.ndarray:
    if not isinstance(name, str) or name not in arrays:
        raise CheckpointError(f"corrupt checkpoint: array {name!r} is missing")
    return arrays[name].copy()


def _generator(state: Any) -> np.random.Generator:
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise CheckpointError(f"corrupt checkpoint: unknown bit generator {name!r}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"corrupt checkpoint: bad {name} state ({exc})") from None
    return np.random.Generator(bit_generator)


# --------------------------------------------------------------------------------------------
# fingerprints: what a checkpoint must agree on with the scenario it is resumed with


def describe_component(component: Any) -> dict[str, Any]:
    """A component as ``{"name": ..., param: value, ...}`` with JSON values."""
    out: dict[str, Any] = {"name": component.name}
    for info in describe_params(type(component)):
        out[info.name] = _plain(getattr(component, info.name))
    return out


def _plain(value: Any) -> Any:
    value = to_jsonable(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def fingerprint(spec: RunSpec) -> dict[str, Any]:
    """Everything about a run that a resumed run must share with the interrupted one."""
    from gdsim.observers.checkpoint import Checkpoint

    return {
        "objective": describe_component(spec.objective),
        "estimator": describe_component(spec.estimator),
        "rule": describe_component(spec.rule),
        "schedule": describe_component(spec.schedule),
        "transforms": [describe_component(t) for t in spec.transforms],
        # a checkpoint observer's own settings (every, keep, dir) may change between sessions
        "observers": [
            {"name": o.name} if isinstance(o, Checkpoint) else describe_component(o)
            for o in spec.observers
        ],
        "init": {k: _plain(v) for k, v in spec.init.items()},
        "steps": spec.steps,
        "seed": spec.seed,
        "tolerance": _plain(attrs.asdict(spec.tolerance)),
        "max_loss": spec.max_loss,
    }


# --------------------------------------------------------------------------------------------
# saving


def run_state(ctx: RunContext) -> dict[str, Any]:
    """The state tree of a run: everything besides the components' fixed settings."""
    n = len(ctx.spec.observers)  # observers added outside the scenario (progress) are not saved
    return {
        "params": dict(ctx.state.params),
        "rng": ctx.state.rng,
        "rule": ctx.rule_state,
        "schedule": ctx.schedule_state,
        "estimator": ctx.estimator_state,
        "transforms": list(ctx.transform_states),
        "observers": [{"name": o.name, "state": o.state_dict()} for o in ctx.observers[:n]],
        "prev_params": None if ctx.prev_params is None else dict(ctx.prev_params),
        "prev_loss": ctx.prev_loss,
    }


def encode(ctx: RunContext, scenario: Scenario) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checkpoint of ``ctx`` as (meta JSON, arrays)."""
    encoder = _Encoder()
    status = ctx.stop_status if ctx.stop_status not in (None, "completed") else None
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "gdsim_version": __version__,
        "run": ctx.spec.name,
        "scenario": {
            "name": scenario.name,
            "source": scenario.source,
            "definition": encoder.encode(scenario.raw, "the scenario definition"),
        },
        "fingerprint": fingerprint(ctx.spec),
        "step": int(ctx.state.step),
        "epoch": int(ctx.state.epoch),
        "status": status,
        "stop_reason": ctx.stop_reason if status else None,
        "state": encoder.encode(run_state(ctx), "the run state"),
    }
    meta["arrays"] = sorted(encoder.arrays)
    return meta, encoder.arrays


def save(
    path: str | Path, ctx: RunContext, scenario: Scenario, root: str | Path | None = None
) -> Path:
    """Write the checkpoint of ``ctx`` to ``path`` atomically (under ``root``); return the path."""
    meta, arrays = encode(ctx, scenario)
    # no sort_keys: the scenario definition keeps its key order, in which its sweeps expand
    text = json.dumps(meta, allow_nan=False).encode("utf-8")
    path = Path(path)
    with atomic_open(path, "wb", root=root) as handle:
        write_archive(handle, text, arrays)
    return path


def write_archive(handle: Any, meta: bytes, arrays: Mapping[str, np.ndarray]) -> None:
    """Write the zip: one ``NAME.npy`` per array (no pickle) and ``meta.json``."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
        archive.writestr(META, meta)


# --------------------------------------------------------------------------------------------
# loading


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: its meta data and decoded state tree."""

    path: Path
    meta: Mapping[str, Any]
    state: Mapping[str, Any]

    @property
    def run(self) -> str:
        return str(self.meta["run"])

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    @property
    def scenario_definition(self) -> Mapping[str, Any]:
        return self.meta["scenario"]["definition"]

    @property
    def scenario_source(self) -> str:
        return str(self.meta["scenario"].get("source", "<checkpoint>"))


_STEP_FILE = re.compile(r"^step-(\d+)\.npz$")


def checkpoint_files(folder: Path) -> list[tuple[int, Path]]:
    """The checkpoint files of one run's folder as ``(step, path)``, oldest first."""
    found = []
    if folder.is_dir():
        for entry in folder.iterdir():
            match = _STEP_FILE.match(entry.name)
            if match and entry.is_file():
                found.append((int(match.group(1)), entry))
    return sorted(found)


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or the newest one in a run's checkpoint folder."""
    path = Path(path)
    if path.is_dir():
        files = checkpoint_files(path)
        if not files:
            raise CheckpointError(f"{path}: no checkpoint files (step-*.npz) in this folder")
        return files[-1][1]
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return path


def load(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint file (or the newest in a folder)."""
    path = resolve(path)
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if META not in names:
                raise CheckpointError(f"{where}: not a gdsim checkpoint (no {META})")
            meta = json.loads(archive.read(META).decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{where}: not a gdsim checkpoint (wrong format marker)")
            if meta.get("version") != VERSION:
                raise CheckpointError(
                    f"{where}: checkpoint format version {meta.get('version')!r} is not "
                    f"supported (this gdsim reads version {VERSION})"
                )
            arrays = {}
            for name in meta.get("arrays", []):
                if f"{name}.npy" not in names:
                    raise CheckpointError(f"{where}: corrupt checkpoint: array {name} is missing")
                data = archive.read(f"{name}.npy")  # checks the CRC
                arrays[name] = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise CheckpointError(
            f"{where}: corrupt or truncated checkpoint (not a complete archive: {exc})"
        ) from None
    except (ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{where}: corrupt checkpoint ({exc})") from None
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot read the checkpoint ({exc})") from None
    try:
        required = ("run", "scenario", "fingerprint", "step", "epoch", "state")
        missing = [k for k in required if k not in meta]
        if missing:
            raise CheckpointError(f"{where}: corrupt checkpoint (missing {', '.join(missing)})")
        state = _decode(meta["state"], arrays)
        definition = _decode(meta["scenario"]["definition"], arrays)
    except CheckpointError as exc:
        raise CheckpointError(
            str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
        ) from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{where}: corrupt checkpoint ({exc})") from None
    meta = {**meta, "scenario": {**meta["scenario"], "definition": definition}}
    return Checkpoint(path=path, meta=meta, state=state)


# --------------------------------------------------------------------------------------------
# resuming


def _differences(saved: Any, current: Any, path: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in saved or key not in current:
                out.append(
                    f"{where} (in {'the scenario' if key in current else 'checkpoint'} only)"
                )
            else:
                out.extend(_differences(saved[key], current[key], where))
        return out
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        out = []
        for i, (a, b) in enumerate(zip(saved, current, strict=True)):
            out.extend(_differences(a, b, f"{path}[{i}]"))
        return out
    if saved != current:
        return [f"{path}: checkpoint has {json.dumps(saved)}, scenario has {json.dumps(current)}"]
    return []


def _same_structure(saved: Any, fresh: Any, what: str, where: str) -> None:
    if isinstance(fresh, dict) and (not isinstance(saved, dict) or set(saved) != set(fresh)):
        raise CheckpointError(
            f"{where}: checkpoint does not match the run: {what} has keys "
            f"{sorted(saved) if isinstance(saved, dict) else type(saved).__name__}, "
            f"the run expects {sorted(fresh)}"
        )


def restore(checkpoint: Checkpoint, spec: RunSpec, scenario: Scenario | None = None) -> RunContext:
    """A run context for ``spec`` in exactly the state the checkpoint saved."""
    from gdsim.engine import start_run

    where = str(checkpoint.path)
    if checkpoint.run != spec.name:
        raise CheckpointError(
            f"{where}: checkpoint is of run '{checkpoint.run}', not of run '{spec.name}'"
        )
    diffs = _differences(checkpoint.meta["fingerprint"], _plain(fingerprint(spec)))
    if diffs:
        shown = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
        raise CheckpointError(
            f"{where}: checkpoint does not match run '{spec.name}' of the scenario: {shown}"
        )
    state = checkpoint.state
    try:
        ctx = start_run(spec)
        ctx.scenario = scenario
        params = state["params"]
        fresh = ctx.state.params
        if not isinstance(params, dict) or set(params) != set(fresh):
            raise CheckpointError(
                f"{where}: checkpoint does not match the run: parameters "
                f"{sorted(params) if isinstance(params, dict) else params!r}, "
                f"the run has {sorted(fresh)}"
            )
        for name, value in params.items():
            if not isinstance(value, np.ndarray | np.generic) or np.shape(value) != np.shape(
                fresh[name]
            ):
                raise CheckpointError(
                    f"{where}: checkpoint does not match the run: parameter '{name}' has shape "
                    f"{np.shape(value)}, the run expects {np.shape(fresh[name])}"
                )
        step, epoch = int(checkpoint.meta["step"]), int(checkpoint.meta["epoch"])
        if not 0 <= step <= spec.steps:
            raise CheckpointError(
                f"{where}: checkpoint is at step {step}, outside the run's 0..{spec.steps}"
            )
        _same_structure(state["rule"], ctx.rule_state, "the rule state", where)
        _same_structure(state["schedule"], ctx.schedule_state, "the schedule state", where)
        _same_structure(state["estimator"], ctx.estimator_state, "the estimator state", where)
        if len(state["transforms"]) != len(ctx.transform_states):
            raise CheckpointError(f"{where}: checkpoint does not match the run's transforms")
        for i, (saved, fresh_t) in enumerate(
            zip(state["transforms"], ctx.transform_states, strict=True)
        ):
            _same_structure(saved, fresh_t, f"the state of transforms[{i}]", where)
        observers = state["observers"]
        names = [o["name"] for o in observers]
        if names != [o.name for o in ctx.observers]:
            raise CheckpointError(
                f"{where}: checkpoint has observers {names}, the run has "
                f"{[o.name for o in ctx.observers]}"
            )
        if not isinstance(state["rng"], np.random.Generator):
            raise CheckpointError(f"{where}: corrupt checkpoint (no random generator state)")
        ctx.state.params = params
        ctx.state.step, ctx.state.epoch = step, epoch
        ctx.state.rng = state["rng"]
        ctx.rule_state = state["rule"]
        ctx.schedule_state = state["schedule"]
        ctx.estimator_state = state["estimator"]
        ctx.transform_states = list(state["transforms"])
        for observer, saved in zip(ctx.observers, observers, strict=True):
            observer.load_state_dict(saved["state"])
        ctx.prev_params = state["prev_params"]
        ctx.prev_loss = state["prev_loss"]
        if checkpoint.meta.get("status"):
            ctx.stop_status = str(checkpoint.meta["status"])
            ctx.stop_reason = checkpoint.meta.get("stop_reason")
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CheckpointError(
            f"{where}: corrupt checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    return ctx
