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

import hashlib
import io
import json
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
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
VERSION = 2
"""Version 2 added the checksum member; version 1 files are refused (no way to check them)."""
ENSEMBLE_VERSION = 3
"""Checkpoints of a whole vectorised ensemble (``kind = "ensemble"``) are version 3, so that a
gdsim that only knows runs says it cannot read them instead of misreading them; run
checkpoints stay version 2."""
RUN, ENSEMBLE = "run", "ensemble"
META = "meta.json"
CHECKSUM = "checksum.sha256"
"""The member holding ``sha256:HEX`` over every other member's name and bytes."""
MAX_META_BYTES = 64 * 1024 * 1024
MAX_CHECKPOINT_BYTES = 64 * 1024**3
"""The largest checkpoint file opened (its members are bounded by memory as well)."""
MAX_JSON_DEPTH = 200
"""Deeper JSON is refused before parsing (the scenario inside nests at most 64 deep)."""
ARRAY_KINDS = "fiub"
"""Array dtypes a checkpoint may hold: real floats, integers and booleans (no strings,
objects, records or complex numbers)."""
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
    """Write the zip: one ``NAME.npy`` per array (no pickle), ``meta.json`` and the checksum."""
    members: dict[str, bytes] = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()
    members[META] = meta
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(CHECKSUM, checksum(members))


def checksum(members: Mapping[str, bytes]) -> str:
    """``sha256:HEX`` over the members' names and bytes, in name order.

    It detects a file that was corrupted or edited after gdsim wrote it. It is not a
    signature (anyone can recompute it), so loading also checks every field against the
    schema: a crafted file is refused for what it holds, not only for how it was changed.
    """
    digest = hashlib.sha256()
    for name in sorted(members):
        if name == CHECKSUM:
            continue
        data = members[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return f"sha256:{digest.hexdigest()}"


# --------------------------------------------------------------------------------------------
# loading


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: its meta data and decoded state tree."""

    path: Path
    meta: Mapping[str, Any]
    state: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """``"run"`` (one run) or ``"ensemble"`` (the runs of a vectorised ensemble)."""
        return str(self.meta.get("kind", RUN))

    @property
    def run(self) -> str:
        """The run's name; for an ensemble, its first run's."""
        if self.kind == ENSEMBLE:
            return str(self.meta["runs"][0])
        return str(self.meta["run"])

    @property
    def runs(self) -> list[str]:
        """The names of the runs the checkpoint holds (one for a run checkpoint)."""
        return [str(r) for r in self.meta["runs"]] if self.kind == ENSEMBLE else [self.run]

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
    """Read and check a checkpoint file (or the newest in a folder).

    In order: the archive and its CRCs, sizes bounded before reading, the format and version,
    the checksum over every member, then every field of ``meta.json`` against the schema
    (types, ranges) and every array's dtype. Any problem is a :class:`CheckpointError` naming
    the file and the field.
    """
    path = resolve(path)
    where = str(path)
    try:
        members = _read_members(path, where)
        meta = _parse_meta(members[META], where)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"{where}: not a gdsim checkpoint (wrong format marker)")
        kind = meta.get("kind", RUN)
        if kind == ENSEMBLE and meta.get("version") == ENSEMBLE_VERSION:
            pass
        elif meta.get("version") != VERSION or kind != RUN:
            old = (
                " (written before checkpoints carried a checksum)"
                if meta.get("version") == 1
                else ""
            )
            raise CheckpointError(
                f"{where}: checkpoint format version {meta.get('version')!r} is not "
                f"supported{old} (this gdsim reads version {VERSION}, and version "
                f"{ENSEMBLE_VERSION} for ensembles)"
            )
        if CHECKSUM not in members:
            raise CheckpointError(f"{where}: corrupt checkpoint (no {CHECKSUM})")
        stored = members[CHECKSUM].decode("ascii", "replace").strip()
        if stored != checksum(members):
            raise CheckpointError(
                f"{where}: checksum mismatch: the checkpoint was corrupted or changed after "
                "gdsim wrote it"
            )
        if kind == ENSEMBLE:
            _check_ensemble_meta(meta, where)
        else:
            _check_meta(meta, where)
        arrays = {}
        for name in meta["arrays"]:
            if f"{name}.npy" not in members:
                raise CheckpointError(f"{where}: corrupt checkpoint: array {name} is missing")
            array = np.lib.format.read_array(io.BytesIO(members[f"{name}.npy"]), allow_pickle=False)
            if array.dtype.kind not in ARRAY_KINDS or array.dtype.byteorder == ">":
                raise CheckpointError(
                    f"{where}: array {name} has dtype {array.dtype}; checkpoints hold real "
                    "numbers, integers and booleans only"
                )
            arrays[name] = array
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        if path.suffix.lower() != ".npz":
            raise CheckpointError(
                f"{where}: not a checkpoint (expected a step-*.npz checkpoint file or a run's "
                "checkpoint folder)"
            ) from None
        raise CheckpointError(
            f"{where}: corrupt or truncated checkpoint (not a complete archive: {exc})"
        ) from None
    except (ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{where}: corrupt checkpoint ({exc})") from None
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot read the checkpoint ({exc})") from None
    try:
        state = _decode(meta["state"], arrays)
        definition = _decode(meta["scenario"]["definition"], arrays)
    except CheckpointError as exc:
        raise CheckpointError(
            str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
        ) from None
    except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where}: corrupt checkpoint ({exc})") from None
    if kind == ENSEMBLE:
        _check_ensemble_state(state, len(meta["runs"]), where)
    else:
        _check_state(state, where)
    meta = {**meta, "scenario": {**meta["scenario"], "definition": definition}}
    return Checkpoint(path=path, meta=meta, state=state)


def _read_members(path: Path, where: str) -> dict[str, bytes]:
    """Every member's bytes, after checking the declared sizes (a zip bomb is never inflated)."""
    from gdsim.fileio import open_regular
    from gdsim.memory import format_bytes, memory_limit

    try:
        handle = open_regular(path, MAX_CHECKPOINT_BYTES, "checkpoint file")
    except ValueError as exc:  # a device, a FIFO, or too large
        raise CheckpointError(f"{where}: cannot read the checkpoint: {exc}") from None
    with handle, zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        if META not in names:
            raise CheckpointError(f"{where}: not a gdsim checkpoint (no {META})")
        if len(set(names)) != len(names):
            raise CheckpointError(f"{where}: corrupt checkpoint (a member appears twice)")
        for info in infos:
            if info.filename == META and info.file_size > MAX_META_BYTES:
                raise CheckpointError(
                    f"{where}: {META} declares {format_bytes(info.file_size)}, more than the "
                    f"limit of {format_bytes(MAX_META_BYTES)}"
                )
        total = sum(i.file_size for i in infos)
        limit = memory_limit()[0] // 2
        if total > limit:
            raise CheckpointError(
                f"{where}: the checkpoint unpacks to {format_bytes(total)}, more than half "
                f"the memory this process may use ({format_bytes(limit * 2)})"
            )
        return {info.filename: archive.read(info) for info in infos}  # checks the CRCs


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text``, found without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _parse_meta(data: bytes, where: str) -> Any:
    text = data.decode("utf-8")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise CheckpointError(
            f"{where}: {META} nests {depth} deep, more than the limit of {MAX_JSON_DEPTH}"
        )
    return json.loads(text)


_ARRAY_NAME = re.compile(r"a[0-9]{1,9}")


def _check_meta(meta: dict[str, Any], where: str) -> None:
    """Every field of ``meta.json`` against the schema; the error names the field."""
    from gdsim.engine import STATUSES

    def fail(field: str, expected: str, value: Any) -> CheckpointError:
        shown = json.dumps(value)[:80] if _jsonable(value) else repr(value)[:80]
        return CheckpointError(f"{where}: {META} field '{field}': expected {expected}, got {shown}")

    required = ("run", "scenario", "fingerprint", "step", "epoch", "state", "arrays")
    missing = [k for k in required if k not in meta]
    if missing:
        raise CheckpointError(f"{where}: corrupt checkpoint (missing {', '.join(missing)})")
    if not isinstance(meta["run"], str) or not meta["run"]:
        raise fail("run", "a run name", meta["run"])
    scenario = meta["scenario"]
    if not isinstance(scenario, dict) or not isinstance(scenario.get("definition"), dict):
        raise fail("scenario", "a table with the scenario's definition", scenario)
    for key in ("name", "source"):
        if key in scenario and not isinstance(scenario[key], str):
            raise fail(f"scenario.{key}", "a string", scenario[key])
    if not isinstance(meta["fingerprint"], dict):
        raise fail("fingerprint", "a table", meta["fingerprint"])
    for key in ("step", "epoch"):
        value = meta[key]
        if type(value) is not int or value < 0:
            raise fail(key, "an integer >= 0", value)
    status = meta.get("status")
    if status is not None and status not in STATUSES:
        raise fail("status", f"null or one of {', '.join(STATUSES)}", status)
    reason = meta.get("stop_reason")
    if reason is not None and not isinstance(reason, str):
        raise fail("stop_reason", "null or a string", reason)
    arrays = meta["arrays"]
    if not isinstance(arrays, list) or not all(
        isinstance(a, str) and _ARRAY_NAME.fullmatch(a) for a in arrays
    ):
        raise fail("arrays", "a list of array names a0, a1, …", arrays)
    if len(set(arrays)) != len(arrays):
        raise fail("arrays", "each array named once", arrays)
    state = meta["state"]
    keys = ("params", "rng", "rule", "schedule", "estimator", "transforms", "observers")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise fail("state", f"a table with {', '.join(keys)}", state)
    observers = state["observers"]
    if not isinstance(observers, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) and "state" in o for o in observers
    ):
        raise fail("state.observers", "a list of {name, state} tables", observers)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def _check_state(state: Mapping[str, Any], where: str) -> None:
    """The decoded parameters are float64 arrays; the previous loss a number or null."""
    params = state["params"]
    if not isinstance(params, dict) or not params:
        raise CheckpointError(f"{where}: {META} field 'state.params': expected named arrays")
    for label, tree in (("params", params), ("prev_params", state.get("prev_params"))):
        if tree is None and label == "prev_params":
            continue
        if not isinstance(tree, dict):
            raise CheckpointError(f"{where}: {META} field 'state.{label}': expected named arrays")
        for name, value in tree.items():
            dtype = getattr(value, "dtype", None)
            if dtype != np.float64:
                raise CheckpointError(
                    f"{where}: {META} field 'state.{label}.{name}': expected a float64 array, "
                    f"got {dtype if dtype is not None else type(value).__name__}"
                )
    loss = state.get("prev_loss")
    if loss is not None and getattr(loss, "dtype", None) != np.float64 and type(loss) is not float:
        raise CheckpointError(
            f"{where}: {META} field 'state.prev_loss': expected a float64 number or null, "
            f"got {type(loss).__name__}"
        )


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
    """``saved`` has the shape of ``fresh``: the same keys, lengths, array dtypes and shapes.

    A fresh value of None (a state filled in later) accepts anything; plain numbers are not
    compared, arrays and numpy scalars must agree in dtype and shape.
    """
    if fresh is None:
        return
    if isinstance(fresh, dict):
        if not isinstance(saved, dict) or set(saved) != set(fresh):
            raise CheckpointError(
                f"{where}: checkpoint does not match the run: {what} has keys "
                f"{sorted(saved) if isinstance(saved, dict) else type(saved).__name__}, "
                f"the run expects {sorted(fresh)}"
            )
        for key in fresh:
            _same_structure(saved[key], fresh[key], f"{what}.{key}", where)
    elif isinstance(fresh, list | tuple):
        if not isinstance(saved, list | tuple) or len(saved) != len(fresh):
            raise CheckpointError(
                f"{where}: checkpoint does not match the run: {what} has "
                f"{len(saved) if isinstance(saved, list | tuple) else type(saved).__name__} "
                f"entries, the run expects {len(fresh)}"
            )
        for i, (a, b) in enumerate(zip(saved, fresh, strict=True)):
            _same_structure(a, b, f"{what}[{i}]", where)
    elif isinstance(fresh, np.ndarray | np.generic):
        dtype, shape = getattr(saved, "dtype", None), np.shape(saved)
        if dtype != fresh.dtype or shape != np.shape(fresh):
            raise CheckpointError(
                f"{where}: checkpoint does not match the run: {what} is "
                f"{dtype if dtype is not None else type(saved).__name__} of shape {shape}, "
                f"the run expects {fresh.dtype} of shape {np.shape(fresh)}"
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


# --------------------------------------------------------------------------------------------
# ensembles: one checkpoint of every member of a vectorised ensemble


def ensemble_identity(
    specs: Sequence[RunSpec], fixed: Mapping[str, Any], per_member: Sequence[Any]
) -> dict[str, Any]:
    """What an ensemble checkpoint must share with the ensemble it resumes.

    ``fixed`` is the first run's :func:`fingerprint` (readable differences); ``per_member``
    are the arrays that differ between members (swept hyperparameters, starting points,
    budgets, tolerances), compared through one SHA-256 digest rather than a fingerprint per
    run, which a million-run sweep could not afford.
    """
    digest = hashlib.sha256()
    for item in per_member:
        if isinstance(item, np.ndarray):
            array = np.ascontiguousarray(item)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(repr(item).encode())
        digest.update(b"\0")
    return {
        "runs": [s.name for s in specs],
        "fingerprint": _plain(dict(fixed)),
        "members_digest": f"sha256:{digest.hexdigest()}",
    }


def save_ensemble(
    path: str | Path,
    identity: Mapping[str, Any],
    state: Mapping[str, Any],
    scenario: Scenario,
    root: str | Path | None = None,
) -> Path:
    """Write the checkpoint of a whole ensemble (a :func:`gdsim.ensemble.simulate` state)."""
    encoder = _Encoder()
    meta = {
        "format": FORMAT,
        "version": ENSEMBLE_VERSION,
        "kind": ENSEMBLE,
        "gdsim_version": __version__,
        "runs": list(identity["runs"]),
        "scenario": {
            "name": scenario.name,
            "source": scenario.source,
            "definition": encoder.encode(scenario.raw, "the scenario definition"),
        },
        "fingerprint": identity["fingerprint"],
        "members_digest": identity["members_digest"],
        "step": int(state["step"]),
        "epoch": int(state["epoch"]),
        "live": len(state["members"]),
        "state": encoder.encode(dict(state), "the ensemble state"),
    }
    meta["arrays"] = sorted(encoder.arrays)
    text = json.dumps(meta, allow_nan=False).encode("utf-8")
    path = Path(path)
    with atomic_open(path, "wb", root=root) as handle:
        write_archive(handle, text, arrays=encoder.arrays)
    return path


ENSEMBLE_STATE_KEYS = (
    "step",
    "epoch",
    "members",
    "params",
    "prev_params",
    "rule",
    "schedule",
    "estimator",
    "transforms",
    "outcome",
    "observers",
)


def _check_ensemble_meta(meta: dict[str, Any], where: str) -> None:
    """The fields of an ensemble checkpoint's ``meta.json`` against the schema."""

    def fail(field: str, expected: str, value: Any) -> CheckpointError:
        shown = json.dumps(value)[:80] if _jsonable(value) else repr(value)[:80]
        return CheckpointError(f"{where}: {META} field '{field}': expected {expected}, got {shown}")

    required = ("runs", "scenario", "fingerprint", "members_digest", "step", "epoch", "state")
    missing = [k for k in (*required, "arrays") if k not in meta]
    if missing:
        raise CheckpointError(f"{where}: corrupt checkpoint (missing {', '.join(missing)})")
    runs = meta["runs"]
    if not isinstance(runs, list) or not runs or not all(isinstance(r, str) and r for r in runs):
        raise fail("runs", "a list of run names", runs)
    if len(set(runs)) != len(runs):
        raise fail("runs", "each run named once", runs)
    scenario = meta["scenario"]
    if not isinstance(scenario, dict) or not isinstance(scenario.get("definition"), dict):
        raise fail("scenario", "a table with the scenario's definition", scenario)
    if not isinstance(meta["fingerprint"], dict):
        raise fail("fingerprint", "a table", meta["fingerprint"])
    digest = meta["members_digest"]
    if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise fail("members_digest", "sha256:HEX", digest)
    for key in ("step", "epoch"):
        if type(meta[key]) is not int or meta[key] < 0:
            raise fail(key, "an integer >= 0", meta[key])
    arrays = meta["arrays"]
    if not isinstance(arrays, list) or not all(
        isinstance(a, str) and _ARRAY_NAME.fullmatch(a) for a in arrays
    ):
        raise fail("arrays", "a list of array names a0, a1, …", arrays)
    state = meta["state"]
    if not isinstance(state, dict) or any(k not in state for k in ENSEMBLE_STATE_KEYS):
        raise fail("state", f"a table with {', '.join(ENSEMBLE_STATE_KEYS)}", state)


def _check_ensemble_state(state: Mapping[str, Any], size: int, where: str) -> None:
    """The live members are distinct indices below ``size`` with one row of parameters each;
    the outcome's columns have one entry per member."""

    def fail(field: str, expected: str) -> CheckpointError:
        return CheckpointError(f"{where}: {META} field 'state.{field}': expected {expected}")

    members = state["members"]
    if (
        not isinstance(members, np.ndarray)
        or members.dtype.kind not in "iu"
        or members.ndim != 1
        or len(members) > size
        or (len(members) and (members.min() < 0 or members.max() >= size))
        or np.any(np.diff(members) <= 0)
    ):
        raise fail("members", f"increasing member indices below {size}")
    live = len(members)
    for label in ("params", "prev_params"):
        tree = state[label]
        if tree is None and label == "prev_params":
            continue
        if not isinstance(tree, dict) or not tree:
            raise fail(label, "named arrays")
        for name, value in tree.items():
            if getattr(value, "dtype", None) != np.float64 or np.shape(value)[:1] != (live,):
                raise fail(f"{label}.{name}", f"a float64 array with {live} rows (live members)")
    outcome = state["outcome"]
    if not isinstance(outcome, dict):
        raise fail("outcome", "a table")
    if outcome.get("code") is not None:
        for key in ("code", "steps", "final_loss", "reason_members"):
            value = outcome.get(key)
            if not isinstance(value, np.ndarray) or value.ndim != 1:
                raise fail(f"outcome.{key}", "a 1-D array")
            if key != "reason_members" and len(value) != size:
                raise fail(f"outcome.{key}", f"{size} entries (one per member)")
        code = outcome["code"]
        if code.dtype.kind not in "iu" or (size and (code.min() < 0 or code.max() > 3)):
            raise fail("outcome.code", "status codes 0..3")
        reasons = outcome.get("reasons")
        if not isinstance(reasons, list) or len(reasons) != len(outcome["reason_members"]):
            raise fail("outcome.reasons", "one reason per entry of reason_members")
        finals = outcome.get("final_params")
        if not isinstance(finals, dict) or any(
            getattr(v, "dtype", None) != np.float64 or np.shape(v)[:1] != (size,)
            for v in finals.values()
        ):
            raise fail("outcome.final_params", f"float64 arrays with {size} rows")
    if not isinstance(state["observers"], list) or not isinstance(state["transforms"], list):
        raise fail("observers", "lists of observer and transform states")


def check_ensemble(checkpoint: Checkpoint, identity: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state of an ensemble checkpoint, once it is known to belong to this ensemble."""
    where = str(checkpoint.path)
    if checkpoint.kind != ENSEMBLE:
        raise CheckpointError(f"{where}: checkpoint is of run '{checkpoint.run}', not an ensemble")
    saved, runs = checkpoint.runs, list(identity["runs"])
    if saved != runs:
        missing = [r for r in saved if r not in set(runs)]
        detail = (
            f"run '{missing[0]}' is not among them"
            if missing
            else f"the scenario's ensemble has {len(runs)} runs, the checkpoint {len(saved)}"
        )
        raise CheckpointError(
            f"{where}: checkpoint does not match the scenario: it holds an ensemble of "
            f"{len(saved)} runs ({saved[0]} …), but {detail}"
        )
    diffs = _differences(checkpoint.meta["fingerprint"], identity["fingerprint"])
    if diffs:
        shown = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
        raise CheckpointError(
            f"{where}: checkpoint does not match run '{runs[0]}' of the scenario: {shown}"
        )
    if checkpoint.meta["members_digest"] != identity["members_digest"]:
        raise CheckpointError(
            f"{where}: checkpoint does not match the scenario: the runs' swept values, starting "
            "points, budgets or tolerances differ from those the ensemble was saved with"
        )
    return checkpoint.state
