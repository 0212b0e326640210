"""Sweeps: one ``[[runs]]`` entry that stands for many runs.

Any value of a run (a hyperparameter, an initial value, the seed, the step budget) may be a
*sweep table* instead of a plain value::

    init.x = { linspace = [-5, 5, 101] }       # start, stop, count (endpoints included)
    rule.mu = { values = [0.0, 0.5, 0.9] }     # an explicit list
    schedule.lr = { logspace = [1e-3, 1e-1, 5] }  # geometric: the endpoints themselves
    seed = { values = [0, 1, 2] }
    init.x = { uniform = [-5, 5, 1000], seed = 1 }  # random draws (also normal, loguniform)

``sweep = "cross"`` (the default) takes every combination, first-written axis slowest;
``sweep = "zip"`` pairs the axes' values position by position (all must have the same length).
``sweep = { mode = "cross", tol = 1e-3 }`` also sets the distance to a minimum that counts as
reaching it in the sweep summary. Each point becomes an ordinary run named
``base[label=value,…]`` (``momentum[mu=0.9,x=-5]``), where ``base`` is the run's name.

Expansion reads the sweep tables on the parsed TOML into columns (:class:`Sweep`: the axes' values
and one row of value indices per point); the loader then validates the entry by axis
(:meth:`gdsim.scenario._Loader.sweep_runs`) and makes each point's run only when it is read
(:mod:`gdsim.runs`), so a million points cost two index arrays. Errors name the original key
path and the point. The :class:`Sweep` records travel with the scenario so that summaries and
basin maps can regroup the results by axis value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from gdsim.errors import ScenarioError, did_you_mean

GENERATORS = ("values", "linspace", "logspace", "uniform", "normal", "loguniform")
"""The keys that make a table a sweep table."""
RANDOM_GENERATORS = ("uniform", "normal", "loguniform")
MODES = ("cross", "zip")
SWEEP_KEYS = ("mode", "tol")
SKIPPED_RUN_KEYS = ("name", "sweep", "expect")
DEFAULT_TOL = 1e-2
MAX_POINTS = 1_000_000
"""The most values one axis may generate, and the most points one crossed sweep may have."""
MAX_RUNS = 1_000_000
"""The most runs a whole scenario may expand to, all its sweeps and plain runs together."""


@attrs.frozen
class Axis:
    """One swept key of a run: where it is, how it is labelled, and its values."""

    path: str
    """Key path inside the run, e.g. ``rule.mu`` or ``init.x``."""
    label: str
    """Short name used in run names and tables, e.g. ``mu``."""
    values: tuple[Any, ...]
    texts: tuple[str, ...]
    """How each value is written in run names."""

    @property
    def is_init(self) -> bool:
        """True for initial values (a starting point), false for hyperparameters."""
        return self.path.startswith("init.")


@attrs.frozen
class Sweep:
    """One swept ``[[runs]]`` entry: its axes and its points, as columns.

    A point is a row of :attr:`points` (the index of its value on every axis); its run and its
    name (:meth:`name`) are made only when asked for, so a sweep of a million points costs two
    integer arrays, not a million Python objects.
    """

    index: int
    base: str
    mode: str
    axes: tuple[Axis, ...]
    points: np.ndarray = attrs.field(eq=False)
    """Shape (points, axes): for each run, the index of its value on every axis."""
    tol: float = DEFAULT_TOL

    def __len__(self) -> int:
        return len(self.points)

    def value(self, run: int, axis: int) -> Any:
        """The value of ``axis`` at the ``run``-th point."""
        return self.axes[axis].values[self.points[run][axis]]

    def name(self, run: int) -> str:
        """The ``run``-th point's run name, ``base[label=value,…]``."""
        return self._name(self.points[run])

    def _name(self, point: Sequence[int]) -> str:
        label = ",".join([f"{a.label}={a.texts[j]}" for a, j in zip(self.axes, point, strict=True)])
        return f"{self.base}[{label}]"

    @property
    def runs(self) -> PointNames:
        """The run names of the points, in order (made one by one when read)."""
        return PointNames(self)

    def raw_point(self, run: Mapping[str, Any], point: Sequence[int]) -> dict[str, Any]:
        """The ``[[runs]]`` table ``run`` with each sweep table replaced by its value at
        ``point`` (value indices, one per axis), named by the point."""
        values = {a.path: a.values[int(j)] for a, j in zip(self.axes, point, strict=True)}
        plain = {k: v for k, v in run.items() if k != "sweep"}
        return {**_substitute(plain, "", values), "name": self._name(point)}


class PointNames(Sequence[str]):
    """The run names of a sweep's points, made when read."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep

    def __len__(self) -> int:
        return len(self.sweep.points)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.sweep.name(i) for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.sweep.name(k)

    def __eq__(self, other: object) -> bool:  # compares like the tuple of names it was
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen
class Expansion:
    """A scenario's ``[[runs]]`` entries with their sweeps read (not yet validated)."""

    raw: Mapping[str, Any]
    sweeps: tuple[Sweep, ...] = ()
    entries: tuple[tuple[Mapping[str, Any], Sweep | None], ...] = ()
    """For each ``[[runs]]`` entry of the file: its table (named, without ``sweep``) and its
    sweep (None for a plain run). Empty when the scenario has no sweep."""
    defaults: Mapping[str, Any] | None = None
    """``[defaults]`` without its ``sweep`` key."""


def expand(raw: Mapping[str, Any], source: str = "<mapping>") -> Expansion:
    """Replace every swept ``[[runs]]`` entry by its points; raise :class:`ScenarioError`."""
    runs = raw.get("runs") if isinstance(raw, Mapping) else None
    defaults = raw.get("defaults") if isinstance(raw, Mapping) else None
    default_mode: Any = None
    if isinstance(defaults, Mapping):
        for path, _ in _find_specs(defaults, "defaults", skip=SKIPPED_RUN_KEYS):
            raise ScenarioError(
                "sweeps belong in a [[runs]] entry, not in [defaults]", path=path, file=source
            )
        if "sweep" in defaults:
            default_mode = defaults["sweep"]
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
        return Expansion(raw)
    for i, run in enumerate(runs):
        if _find_specs(run.get("name"), ""):
            raise ScenarioError(
                "a run name cannot be swept; the points are named automatically "
                "(name[label=value,…])",
                path=f"runs[{i}].name",
                file=source,
            )
    swept = [bool(_find_specs(r, "", skip=SKIPPED_RUN_KEYS)) for r in runs]
    if not any(swept) and default_mode is None and not any("sweep" in r for r in runs):
        return Expansion(raw)

    _check_total(runs, swept, default_mode, source)
    entries: list[tuple[Mapping[str, Any], Sweep | None]] = []
    sweeps: list[Sweep] = []
    for i, run in enumerate(runs):
        path = f"runs[{i}]"
        mode, tol = _mode(run.get("sweep", default_mode), f"{path}.sweep", source)
        base = run.get("name", f"run{i}")
        plain = {k: v for k, v in run.items() if k != "sweep"}
        if not swept[i]:
            entries.append(({**plain, "name": base}, None))
            continue
        if not isinstance(base, str):
            base = f"run{i}"  # the loader reports the bad name on the first point
        specs = _find_specs(run, path, skip=SKIPPED_RUN_KEYS)
        axes_values = [_generate(spec, where, source) for where, spec in specs]
        keys = [_relative(where, path) for where, _ in specs]
        labels = _labels(keys)
        axes = tuple(
            Axis(path=key, label=label, values=tuple(values), texts=_texts(values))
            for key, label, values in zip(keys, labels, axes_values, strict=True)
        )
        if mode == "zip":
            lengths = {len(a.values) for a in axes}
            if len(lengths) > 1:
                counts = ", ".join(f"{a.path}: {len(a.values)}" for a in axes)
                raise ScenarioError(
                    f"zip needs axes of equal length, got {counts}",
                    path=f"{path}.sweep",
                    file=source,
                )
            points = np.repeat(np.arange(len(axes[0].values))[:, None], len(axes), axis=1)
        else:
            total = math.prod(len(a.values) for a in axes)
            if total > MAX_POINTS:
                counts = " × ".join(str(len(a.values)) for a in axes)
                raise ScenarioError(
                    f"the sweep has {total} points ({counts}), more than the limit of "
                    f"{MAX_POINTS} points per sweep",
                    path=path,
                    file=source,
                )
            # first-written axis slowest, as itertools.product
            grids = np.meshgrid(*(np.arange(len(a.values)) for a in axes), indexing="ij")
            points = np.stack([g.ravel() for g in grids], axis=1)
        sweep = Sweep(index=i, base=base, mode=mode, axes=axes, points=points, tol=tol)
        sweeps.append(sweep)
        entries.append(({**plain, "name": base}, sweep))
    kept = defaults
    if isinstance(defaults, Mapping) and "sweep" in defaults:
        kept = {k: v for k, v in defaults.items() if k != "sweep"}
    return Expansion(raw, tuple(sweeps), tuple(entries), kept)


def _check_total(runs: list[Any], swept: list[bool], default_mode: Any, source: str) -> None:
    """Refuse a scenario whose runs would add up past :data:`MAX_RUNS`, before generating any.

    Each entry's count comes from its sweep tables' declared counts (a crossed sweep
    multiplies them, a zipped one takes the longest), so nothing is allocated to find it.
    """
    total = 0
    for i, run in enumerate(runs):
        count = 1
        if swept[i]:
            counts = [_declared_count(spec) for _, spec in _find_specs(run, "", SKIPPED_RUN_KEYS)]
            mode = run.get("sweep", default_mode)
            if isinstance(mode, Mapping):
                mode = mode.get("mode", "cross")
            count = max(counts) if mode == "zip" else math.prod(counts)
            if count > MAX_POINTS:  # one entry over its own limit: expand() says so, in detail
                count = 1
        total += count
        if total > MAX_RUNS:
            raise ScenarioError(
                f"the scenario expands to more than {MAX_RUNS} runs (at least {total} by this "
                f"entry, which has {count}); split it into several scenarios",
                path=f"runs[{i}]",
                file=source,
            )


def _declared_count(spec: Mapping[str, Any]) -> int:
    """How many values a sweep table asks for, read from the table (1 when it is malformed)."""
    for kind in GENERATORS:
        given = spec.get(kind)
        if kind == "values" and isinstance(given, list):
            return len(given)
        if isinstance(given, list) and len(given) == 3 and type(given[2]) is int:
            return given[2] if 1 <= given[2] <= MAX_POINTS else 1
    return 1  # _generate reports what is wrong with it


# --------------------------------------------------------------------------------------------


def is_spec(value: Any) -> bool:
    """True when ``value`` is a sweep table (a table with a generator key and no ``name``)."""
    return (
        isinstance(value, Mapping)
        and "name" not in value
        and any(key in value for key in GENERATORS)
    )


def _find_specs(value: Any, path: str, skip: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """Every sweep table inside ``value``, with its key path, in document order."""
    if is_spec(value):
        return [(path, value)]
    found: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in skip:
                continue
            found += _find_specs(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for j, item in enumerate(value):
            found += _find_specs(item, f"{path}[{j}]")
    return found


def _relative(where: str, run_path: str) -> str:
    return where[len(run_path) + 1 :]


def _substitute(value: Any, path: str, values: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with the sweep table at each path of ``values`` replaced."""
    if path in values:
        return values[path]
    if isinstance(value, Mapping):
        return {
            k: _substitute(v, f"{path}.{k}" if path else str(k), values) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, f"{path}[{j}]", values) for j, v in enumerate(value)]
    return value


def _mode(given: Any, path: str, source: str) -> tuple[str, float]:
    if given is None:
        return "cross", DEFAULT_TOL
    if isinstance(given, str):
        if given not in MODES:
            raise ScenarioError(
                f'expected "cross" or "zip", got {given!r}',
                path=path,
                file=source,
                suggestion=did_you_mean(given, MODES),
            )
        return given, DEFAULT_TOL
    if isinstance(given, Mapping):
        for key in given:
            if key not in SWEEP_KEYS:
                raise ScenarioError(
                    f"unknown key '{key}' (expected one of: {', '.join(SWEEP_KEYS)})",
                    path=f"{path}.{key}",
                    file=source,
                    suggestion=did_you_mean(str(key), SWEEP_KEYS),
                )
        mode, _ = _mode(given.get("mode", "cross"), f"{path}.mode", source)
        tol = given.get("tol", DEFAULT_TOL)
        if not _is_number(tol) or not tol > 0 or not math.isfinite(tol):
            raise ScenarioError(
                f"expected a finite number > 0, got {tol!r}", path=f"{path}.tol", file=source
            )
        return mode, float(tol)
    raise ScenarioError(
        f'expected "cross", "zip" or a table {{ mode, tol }}, got {type(given).__name__}',
        path=path,
        file=source,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _generate(spec: Mapping[str, Any], path: str, source: str) -> list[Any]:
    """The values of one sweep table, checked; errors name ``path.<generator>``."""
    generators = [key for key in spec if key in GENERATORS]
    if len(generators) > 1:
        raise ScenarioError(
            f"expected one of {', '.join(GENERATORS)}, got {' and '.join(generators)}",
            path=path,
            file=source,
        )
    (kind,) = generators
    allowed = (kind, "seed") if kind in RANDOM_GENERATORS else (kind,)
    for key in spec:
        if key not in allowed:
            raise ScenarioError(
                f"unknown key '{key}' in a {kind} sweep (expected: {', '.join(allowed)})",
                path=f"{path}.{key}",
                file=source,
                suggestion=did_you_mean(str(key), allowed),
            )
    where = f"{path}.{kind}"
    given = spec[kind]

    def fail(message: str, at: str = where) -> ScenarioError:
        return ScenarioError(message, path=at, file=source)

    if kind == "values":
        if not isinstance(given, list) or not given:
            raise fail("expected a non-empty array of values")
        if len(given) > MAX_POINTS:
            raise fail(f"expected at most {MAX_POINTS} values, got {len(given)}")
        values = list(given)
    else:
        shape = {
            "linspace": "[start, stop, count]",
            "logspace": "[start, stop, count]",
            "uniform": "[low, high, count]",
            "normal": "[mean, std, count]",
            "loguniform": "[low, high, count]",
        }[kind]
        if (
            not isinstance(given, list)
            or len(given) != 3
            or not all(_is_number(v) and math.isfinite(v) for v in given[:2])
            or isinstance(given[2], bool)
            or not isinstance(given[2], int)
        ):
            raise fail(f"expected {shape} (two finite numbers and an integer count)")
        a, b, count = given
        if count < 1:
            raise fail(f"expected a count >= 1, got {count}", f"{where}[2]")
        if count > MAX_POINTS:
            raise fail(
                f"expected a count <= {MAX_POINTS} (the most values a sweep axis may have), "
                f"got {count}",
                f"{where}[2]",
            )
        if kind in ("logspace", "loguniform") and not (a > 0 and b > 0):
            raise fail(
                f"expected {shape} with positive endpoints (the values themselves, "
                f"not exponents), got [{a!r}, {b!r}]"
            )
        if kind in ("uniform", "loguniform") and not a <= b:
            raise fail(f"expected low <= high, got [{a!r}, {b!r}]")
        if kind == "normal" and b < 0:
            raise fail(f"expected std >= 0, got {b!r}", f"{where}[1]")
        seed = spec.get("seed", 0)
        if kind in RANDOM_GENERATORS and (
            isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
        ):
            raise fail(f"expected an integer seed >= 0, got {seed!r}", f"{path}.seed")
        rng = np.random.default_rng(seed)
        with np.errstate(over="ignore", invalid="ignore"):
            if kind == "linspace":
                array = np.linspace(a, b, count)
            elif kind == "logspace":
                array = np.geomspace(a, b, count)
            elif kind == "uniform":
                array = rng.uniform(a, b, count)
            elif kind == "normal":
                array = rng.normal(a, b, count)
            else:
                array = np.exp(rng.uniform(math.log(a), math.log(b), count))
        if not np.all(np.isfinite(array)):
            raise fail(f"these {kind} values overflow float64: {[a, b]!r}")
        values = array.tolist()
        if (
            kind in ("linspace", "logspace")
            and isinstance(a, int)
            and isinstance(b, int)
            and all(float(v).is_integer() for v in values)
        ):
            values = [int(v) for v in values]
    texts = _texts(values)
    seen: dict[str, int] = {}
    for j, text in enumerate(texts):
        if isinstance(values[j], Mapping | list):
            continue  # written with their position when they look alike
        if text in seen:
            raise fail(f"value {text} appears twice (positions {seen[text]} and {j})")
        seen[text] = j
    return values


def _labels(keys: list[str]) -> list[str]:
    """Short axis labels: the last key of each path, the full path where two would clash."""
    short = [re.split(r"\.", key)[-1] for key in keys]
    return [s if short.count(s) == 1 else key for s, key in zip(short, keys, strict=True)]


def _texts(values: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """How values are written in run names: shortest decimals that keep them apart."""
    floats = [v for v in values if _is_number(v)]
    texts = tuple(_text(v, 17) for v in values)
    for digits in range(4, 18):
        candidate = tuple(_text(v, digits) for v in values)
        distinct = len({t for t, v in zip(candidate, values, strict=True) if _is_number(v)})
        if distinct == len({float(v) for v in floats}):
            texts = candidate
            break
    return tuple(
        f"{t}#{j}" if isinstance(v, Mapping | list) and texts.count(t) > 1 else t
        for j, (t, v) in enumerate(zip(texts, values, strict=True))
    )


def _text(value: Any, digits: int) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.{digits}g}"
        return "0" if text == "-0" else text
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ",".join(_text(v, digits) for v in value) + "]"
    if isinstance(value, Mapping):
        return str(value.get("name", "{…}"))
    return str(value)
