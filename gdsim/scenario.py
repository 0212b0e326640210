"""TOML scenarios: parsing, validation and the frozen run specifications the engine executes.

A scenario has one ``[objective]``, optional ``[defaults]`` and one or more ``[[runs]]``; every
run key may be given in ``[defaults]`` and overridden per run. Components are given as a name
(``rule = "gd"``) or a table (``rule = { name = "momentum", mu = 0.9 }``); a run's table with the
same name as the default (or none) is merged key by key, a different name replaces it. A run
may also give ``objective``: merged the same way over the scenario's ``[objective]`` (to vary
e.g. a network's width or initializer from run to run).
A component parameter annotated with a component base class (``inner: UpdateRule``) is itself
given as a name or a table and built the same way, with key paths such as
``runs[0].rule.inner.beta1``; nested tables merge with the defaults' like the top level does.

Every problem is a :class:`gdsim.errors.ScenarioError` naming the file, the key path
(``runs[2].rule.mu``), what was expected and, for misspelt names, the closest known one.
"""

from __future__ import annotations

import functools
import math
import numbers
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.components import (
    Component,
    Estimator,
    GradientTransform,
    Objective,
    Observer,
    Schedule,
    UpdateRule,
)
from gdsim.errors import ParamError, PluginError, ScenarioError, did_you_mean
from gdsim.fileio import read_regular
from gdsim.plotting.settings import PlotSettings, parse_plot_table
from gdsim.registry import Registry, UnknownComponentError, default_registry, using_registry
from gdsim.runs import Built, Number, Part, Runs, StartingPoint, SweepRuns, Tolerances
from gdsim.state import Params
from gdsim.weights import InitFrom

if typing.TYPE_CHECKING:
    from gdsim.sweep import Expansion, Sweep

TOP_LEVEL_KEYS = ("scenario", "objective", "defaults", "runs", "plot", "backend")
SCENARIO_KEYS = ("name", "description", "backend")
RUN_KEYS = (
    "name",
    "objective",
    "init",
    "estimator",
    "rule",
    "transforms",
    "schedule",
    "observers",
    "steps",
    "seed",
    "tolerance",
    "max_loss",
    "allow_divergence",
    "expect",
    "sweep",  # taken out by gdsim.sweep.expand before the loader sees the run
)
LEARNING_RATE_KEYS = ("lr", "learning_rate", "alpha")
"""Keys users put on a run when they mean the schedule's learning rate."""
COMPONENT_KEYS = {
    "estimator": "estimator",
    "rule": "rule",
    "schedule": "schedule",
    "objective": "objective",
}
LIST_COMPONENT_KEYS = {"transforms": "transform", "observers": "observer"}
TABLE_KEYS = ("init", "tolerance", "expect")
"""Run keys whose tables are merged key by key over the defaults."""
TOLERANCE_KEYS = ("grad_norm", "step_size")
INIT_FROM_KEYS = ("from", "run")
"""Keys of ``init`` that load saved weights instead of naming a parameter."""
EXPECT_KEYS = (
    "status",
    "params",
    "loss",
    "loss_below",
    "max_steps",
    "rtol",
    "atol",
    "metrics_below",
    "metrics_above",
)
DEFAULT_RUN: dict[str, Any] = {
    "estimator": "full_batch",
    "rule": "gd",
    "schedule": "constant",
    "steps": 100,
    "seed": 0,
    "max_loss": 1e100,
    "allow_divergence": False,
}


@attrs.frozen
class Tolerance:
    """Convergence tests that end a run early with status ``converged``."""

    grad_norm: float | None = None
    step_size: float | None = None


@attrs.frozen
class Expectations:
    """What a run must end with for the scenario to pass (exit code 0)."""

    status: tuple[str, ...] = ()
    params: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    loss: float | None = None
    loss_below: float | None = None
    max_steps: int | None = None
    rtol: float = 1e-9
    atol: float = 1e-12
    metrics_below: Mapping[str, float] = attrs.field(factory=dict)
    """Upper bounds on the final parameters' metrics, e.g. ``{"validation.loss": 0.3}``."""
    metrics_above: Mapping[str, float] = attrs.field(factory=dict)
    """Lower bounds on the final parameters' metrics, e.g. ``{"test.accuracy": 0.9}``."""

    def is_empty(self) -> bool:
        return not (
            self.status
            or self.params
            or self.loss is not None
            or self.loss_below is not None
            or self.max_steps is not None
            or self.metrics_below
            or self.metrics_above
        )


@attrs.frozen
class RunSpec:
    """One fully validated run: components built, numbers checked."""

    name: str
    objective: Objective
    estimator: Estimator
    rule: UpdateRule
    schedule: Schedule
    transforms: tuple[GradientTransform, ...] = ()
    observers: tuple[Observer, ...] = ()
    init: Mapping[str, np.ndarray] = attrs.field(factory=dict)
    steps: int = 100
    seed: int = 0
    tolerance: Tolerance = Tolerance()
    max_loss: float = 1e100
    allow_divergence: bool = False
    expect: Expectations = Expectations()
    init_from: InitFrom | None = None
    """Saved weights to start from (``init = { from = "…" }``), read when the run starts."""

    def initial_params(self, rng: np.random.Generator) -> Params:
        """The objective's defaults (drawn from ``rng``), overridden by saved weights
        (``init.from``) and then by the run's own ``init`` values."""
        params = self.objective.init(rng)
        if self.init_from is not None:
            params.update(self.init_from.params(self.objective, params))
        for name, value in self.init.items():
            params[name] = np.array(value, dtype=np.float64)
        return params


@attrs.frozen(repr=False)
class Scenario:
    """A parsed scenario: its runs plus where it came from (for messages and checkpoints)."""

    name: str
    description: str
    runs: tuple[RunSpec, ...]
    source: str
    raw: Mapping[str, Any] = attrs.field(repr=False, factory=dict)
    sweeps: tuple[Any, ...] = attrs.field(repr=False, default=())
    """The swept ``[[runs]]`` entries (:class:`gdsim.sweep.Sweep`), for summaries."""
    plot: PlotSettings = attrs.field(repr=False, factory=PlotSettings)
    """How its figures are drawn (the ``[plot]`` table)."""
    backend: str = "numpy"
    """Where its ensembles step (``backend = "jax"``; :mod:`gdsim.backends`)."""

    def __repr__(self) -> str:  # one line: the runs' full components would fill a notebook
        return f"Scenario(name={self.name!r}, runs={len(self.runs)}, source={self.source!r})"


# --------------------------------------------------------------------------------------------
# entry points


MAX_SCENARIO_BYTES = 4 * 1024 * 1024
"""The largest scenario file read (a sweep's explicit values lists fit many times over)."""
MAX_NESTING = 64
"""The deepest nesting of tables, arrays and dotted keys a scenario file may have."""


def toml_nesting(text: str) -> tuple[int, int]:
    """The deepest nesting in TOML ``text`` and the line it is on, found without parsing.

    Counts the parts of table headers and dotted keys plus open arrays and inline tables,
    outside strings and comments. Parsers spend memory quadratic in a key's depth (a 200 kB
    file of ``a.a.a…`` took 8 GB), so the depth is bounded before ``tomllib`` sees the text.
    """
    deepest, at, line = 0, 1, 1
    stack: list[tuple[str, int]] = []  # open "[" or "{" and the depth inside it
    header = 0  # parts of the current [table] header
    key = 0  # parts of the key being read (0: none yet)
    value_base = 0  # the depth a value starts at: its key's, or its array's
    expect_key = True
    i, n = 0, len(text)

    def reach(depth: int) -> None:
        nonlocal deepest, at
        if depth > deepest:
            deepest, at = depth, line

    while i < n:
        c = text[i]
        if c in "\"'":  # skip a string; a key may be quoted
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    if len(quote) == 1:
                        break
                    line += 1
                j += 1
            i = j + len(quote)
            if expect_key and key == 0:
                key = 1
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        inner = stack[-1][1] if stack else header
        if c == "\n":
            line += 1
            if not stack:
                expect_key, key = True, 0
        elif expect_key:
            if c == "." and key:
                key += 1
            elif c == "=":
                value_base = inner + key
                reach(value_base)
                expect_key, key = False, 0
            elif c == "[" and not stack and key == 0:  # a [table] or [[array]] header
                end = text.find("\n", i)
                end = n if end < 0 else end
                header = 1 + text.count(".", i, end)  # dots in quoted parts only overcount
                reach(header)
                i = end
                continue
            elif c == "}" and stack:
                stack.pop()
                value_base = stack[-1][1] if stack else header
                expect_key = False
            elif not c.isspace() and c != "," and key == 0:
                key = 1
        elif c in "[{":
            value_base += 1
            stack.append((c, value_base))
            reach(value_base)
            if c == "{":
                expect_key, key = True, 0
        elif c in "]}" and stack:
            stack.pop()
            value_base = stack[-1][1] if stack else header
        elif c == "," and stack and stack[-1][0] == "{":
            expect_key, key = True, 0
        i += 1
    return deepest, at


def load_file(path: str | Path, registry: Registry | None = None) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError`.

    The file must be a regular file of at most :data:`MAX_SCENARIO_BYTES` whose nesting is at
    most :data:`MAX_NESTING` deep; both are checked before the TOML parser runs.
    """
    path = Path(path)
    source = str(path)
    try:
        data = read_regular(path, MAX_SCENARIO_BYTES, "scenario file")
        text = data.decode("utf-8-sig")  # a byte-order mark is not an error
    except FileNotFoundError:
        raise ScenarioError("no such file", file=source) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScenarioError(f"cannot read the file: {exc}", file=source) from None
    depth, line = toml_nesting(text)
    if depth > MAX_NESTING:
        raise ScenarioError(
            f"line {line}: tables, arrays and dotted keys nest {depth} deep, more than the "
            f"limit of {MAX_NESTING}",
            file=source,
        )
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=source) from None
    return load_mapping(raw, source=source, registry=registry, default_name=path.stem)


def load_mapping(
    raw: Mapping[str, Any],
    source: str = "<mapping>",
    registry: Registry | None = None,
    default_name: str = "scenario",
) -> Scenario:
    """Validate a scenario given as a mapping (the parsed TOML)."""
    registry = registry or default_registry()
    from gdsim.sweep import expand

    expansion = expand(raw, source)  # sweeps are read, their points validated by axis
    with using_registry(registry):  # names inside components resolve against it too
        scenario = _Loader(registry, source).scenario(raw, default_name, expansion)
    return attrs.evolve(scenario, sweeps=expansion.sweeps) if expansion.sweeps else scenario


# --------------------------------------------------------------------------------------------
# the loader


@attrs.frozen
class _Value:
    """A value together with the key path it came from."""

    value: Any
    path: str
    paths: Mapping[str, str] = attrs.field(factory=dict)
    """For merged component tables: where each inherited key came from."""


class _Loader:
    def __init__(self, registry: Registry, source: str) -> None:
        self.registry = registry
        self.source = source
        self._shapes: dict[int, tuple[Objective, dict[str, tuple[int, ...]]]] = {}
        self._memory_checked: dict[int, Objective] = {}

    def error(self, path: str, message: str, suggestion: str | None = None) -> ScenarioError:
        return ScenarioError(message, path=path, file=self.source, suggestion=suggestion)

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                message = f"unknown key '{key}' (expected one of: {', '.join(allowed)})"
                if key in LEARNING_RATE_KEYS and "schedule" in allowed:
                    lr = table[key] if finite_float(table[key]) is not None else 0.1
                    message += (
                        "; the learning rate belongs to the schedule: "
                        f'schedule = {{ name = "constant", lr = {lr} }}'
                    )
                raise self.error(where, message, did_you_mean(key, allowed))

    def table(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a table, got {_describe(value)}")
        return value

    # -- scenario -----------------------------------------------------------------------------

    def scenario(
        self, raw: Mapping[str, Any], default_name: str, expansion: Expansion | None = None
    ) -> Scenario:
        self.check_keys(raw, TOP_LEVEL_KEYS, "")
        meta = self.table(raw.get("scenario", {}), "scenario")
        self.check_keys(meta, SCENARIO_KEYS, "scenario")
        name = self.string(meta.get("name", default_name), "scenario.name")
        description = self.string(meta.get("description", ""), "scenario.description")
        backend = self.backend(raw, meta)
        try:
            plot = parse_plot_table(raw.get("plot", {}))
        except ScenarioError as exc:
            raise self.error(exc.path, exc.message, exc.suggestion) from None
        if "objective" not in raw:
            raise self.error("objective", "missing required key (expected an objective)")
        objective = self.component("objective", _Value(raw["objective"], "objective"), None)
        assert isinstance(objective, Objective)
        entries = expansion.entries if expansion is not None else ()
        defaults = self.table(raw.get("defaults", {}), "defaults")
        if entries and expansion is not None and expansion.defaults is not None:
            defaults = expansion.defaults  # without its ``sweep`` key
        self.check_keys(defaults, tuple(k for k in RUN_KEYS if k != "name"), "defaults")
        if "runs" not in raw:
            raise self.error("runs", "missing required key (expected at least one [[runs]])")
        runs_raw = raw["runs"]
        if not isinstance(runs_raw, list) or not all(isinstance(r, Mapping) for r in runs_raw):
            raise self.error(
                "runs", f"expected an array of tables ([[runs]]), got {_describe(runs_raw)}"
            )
        if not runs_raw:
            raise self.error("runs", "expected at least one run, got none")
        self.objective_given = _Value(raw["objective"], "objective")
        runs: list[RunSpec | SweepRuns] = []
        names = _Names()
        for i, (run_raw, sweep) in enumerate(entries or [(r, None) for r in runs_raw]):
            if sweep is None:
                spec = self.run(objective, defaults, run_raw, f"runs[{i}]", i)
                names.add_run(spec.name, i, self)
                runs.append(spec)
            else:
                swept = self.sweep_runs(objective, defaults, run_raw, sweep, i)
                names.add_sweep(swept, i, self)
                if isinstance(swept, list):
                    runs.extend(swept)
                else:
                    runs.append(swept)
        return Scenario(
            name=name,
            description=description,
            runs=Runs(runs) if entries else tuple(runs),  # type: ignore[arg-type]
            source=self.source,
            raw=raw,
            plot=plot,
            backend=backend,
        )

    def backend(self, raw: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
        """The ``backend`` key, at the top level or in ``[scenario]`` (not both)."""
        from gdsim.backends import NAMES, check_name

        if "backend" in raw and "backend" in meta:
            raise self.error("backend", "given twice (top level and [scenario]): keep one")
        path = "backend" if "backend" in raw else "scenario.backend"
        value = raw.get("backend", meta.get("backend", "numpy"))
        if check_name(value) is not None:
            hint = did_you_mean(value, NAMES) if isinstance(value, str) else None
            known = ", ".join(f'"{n}"' for n in NAMES)
            raise self.error(path, f"unknown backend {value!r} (expected one of {known})", hint)
        return str(value)

    # -- runs ---------------------------------------------------------------------------------

    def run(
        self,
        objective: Objective,
        defaults: Mapping[str, Any],
        raw: Mapping[str, Any],
        path: str,
        index: int,
    ) -> RunSpec:
        self.check_keys(raw, RUN_KEYS, path)
        merged: dict[str, _Value] = {k: _Value(v, "<default>") for k, v in DEFAULT_RUN.items()}
        for source, table in (("defaults", defaults), (path, raw)):
            for key, value in table.items():
                where = f"{source}.{key}"
                if key in COMPONENT_KEYS and key in merged:
                    merged[key] = self.merge_component(merged[key], _Value(value, where))
                elif key in TABLE_KEYS and key in merged:
                    merged[key] = self.merge_table(merged[key], _Value(value, where))
                else:
                    merged[key] = _Value(value, where)

        name = (
            self.string(merged["name"].value, merged["name"].path)
            if "name" in merged
            else (f"run{index}")
        )
        objective_path = "objective"
        if "objective" in merged:  # a run's objective table is merged over the scenario's
            given = self.merge_component(self.objective_given, merged["objective"])
            objective = self.component("objective", given, None)
            objective_path = merged["objective"].path
        self.check_memory(objective, objective_path)
        if not name:
            raise self.error(f"{path}.name", "expected a non-empty name")
        steps = self.integer(merged["steps"], minimum=1)
        seed = self.integer(merged["seed"], minimum=0)
        max_loss = self.number(merged["max_loss"], low=0.0, low_open=True)
        allow = self.boolean(merged["allow_divergence"])
        estimator = self.component("estimator", merged["estimator"], objective)
        rule = self.component("rule", merged["rule"], objective)
        schedule = self.component("schedule", merged["schedule"], objective)
        transforms = self.component_list("transforms", merged.get("transforms"), objective)
        observers = self.component_list("observers", merged.get("observers"), objective)
        if estimator.data_backed and not objective.data_backed:
            raise self.error(
                merged["estimator"].path,
                f"estimator '{estimator.name}' samples data, but objective '{objective.name}' "
                "has none (use 'full_batch')",
            )
        self.check_against(
            objective,
            [(merged[k].path, c) for k, c in (("estimator", estimator), ("rule", rule))]
            + [(merged["schedule"].path, schedule)]
            + [(f"{merged['transforms'].path}[{j}]", t) for j, t in enumerate(transforms)]
            + [(f"{merged['observers'].path}[{j}]", o) for j, o in enumerate(observers)],
        )
        init_from = self.init_from(merged.get("init"))
        init = self.init(objective, merged.get("init"))
        tolerance = self.tolerance(merged.get("tolerance"))
        expect = self.expectations(merged.get("expect"), init, objective)
        return RunSpec(
            name=name,
            objective=objective,
            estimator=estimator,  # type: ignore[arg-type]
            rule=rule,  # type: ignore[arg-type]
            schedule=schedule,  # type: ignore[arg-type]
            transforms=tuple(transforms),  # type: ignore[arg-type]
            observers=tuple(observers),  # type: ignore[arg-type]
            init=init,
            steps=steps,
            seed=seed,
            tolerance=tolerance,
            max_loss=max_loss,
            allow_divergence=allow,
            expect=expect,
            init_from=init_from,
        )

    def sweep_runs(
        self,
        objective: Objective,
        defaults: Mapping[str, Any],
        table: Mapping[str, Any],
        sweep: Sweep,
        index: int,
    ) -> SweepRuns | list[RunSpec]:
        """Validate a swept entry by axis, not by point: its runs, made when read.

        The first point is validated as a whole run (the template). Then each axis is checked
        on its own values, the other axes at their first value: starting points and the run's
        numbers (steps, seed, max_loss, tolerances) as arrays, at once; a component's parameter
        by building the component once per value, with the run around it (a cross-field
        check sees the whole component: axes into the same component are validated on their
        combinations). An error names the file's key path and the point, as for a run.
        """
        path = f"runs[{index}]"
        first = np.zeros(len(sweep.axes), dtype=np.int64)

        def load(point: np.ndarray) -> RunSpec:
            raw = sweep.raw_point(table, point)
            try:
                return self.run(objective, defaults, raw, path, index)
            except ScenarioError as exc:
                raise ScenarioError(
                    f"{exc.message} (in sweep point '{raw['name']}')",
                    path=exc.path,
                    file=exc.file,
                    suggestion=exc.suggestion,
                ) from None

        template = load(first)
        groups: dict[str, list[int]] = {}
        for a, axis in enumerate(sweep.axes):
            groups.setdefault(_root(axis.path), []).append(a)
        if any(root != "init" and root not in _SPEC_FIELDS for root in groups):
            return _eager(sweep, template, load)  # the objective: everything depends on it
        bad = [np.zeros(len(axis.values), dtype=bool) for axis in sweep.axes]
        parts: list[Part] = []
        for root, axes in groups.items():
            if root == "init" or root in _NUMBER_CHECKS:
                for a in axes:
                    bad[a] = _refused(sweep.axes[a].values, root)
                    if root == "init":  # anything but a number: checked as a run
                        for j in np.flatnonzero(bad[a]):
                            point = first.copy()
                            point[a] = j
                            bad[a][j] = _fails(load, point)
                if root == "init":
                    parts.append(_init_part(sweep, table, axes))
                elif not any(bad[a].any() for a in axes):
                    parts.append(_number_part(sweep, root, axes))
                continue
            field = _SPEC_FIELDS[root]  # a component: built once per value (or combination)
            built = {}
            for combo in _combinations(sweep, axes):
                point = first.copy()
                point[axes] = combo
                try:
                    built[combo] = getattr(load(point), field)
                except ScenarioError:
                    for a, j in zip(axes, combo, strict=True):
                        bad[a][j] = True
            parts.append(Built(field, built, tuple(axes)))
        if any(b.any() for b in bad):
            # report what validating point by point reports: the first point holding a
            # refused value, at the first key its run's validation refuses
            holds = np.zeros(len(sweep.points), dtype=bool)
            for a, b in enumerate(bad):
                holds |= b[sweep.points[:, a]]
            for k in np.flatnonzero(holds):
                load(sweep.points[k])
            return _eager(sweep, template, load)  # (a refusal no point of the sweep has)
        return SweepRuns(sweep, template, parts)

    def merge_component(self, base: _Value, override: _Value) -> _Value:
        """Merge a run's component table over the default one when the names agree."""
        b, o = base.value, override.value
        if isinstance(b, str):
            b = {"name": b}
        if isinstance(o, str):
            o = {"name": o}
        if not isinstance(b, Mapping) or not isinstance(o, Mapping):
            return override
        if "name" in o and o.get("name") != b.get("name"):
            return override
        paths = dict(base.paths)
        for key in b:  # remember where inherited keys came from, for messages
            if key not in o and key not in paths:
                paths[key] = f"{base.path}.{key}"
        return _Value(_merge_tables(b, o), override.path, paths)

    def check_memory(self, objective: Objective, path: str) -> None:
        """Refuse an objective whose runs would need more memory than this process may use."""
        if id(objective) in self._memory_checked:
            return
        from gdsim.memory import format_bytes, memory_limit

        estimate = objective.memory_estimate()
        limit, why = memory_limit()
        if estimate is not None and estimate.total > limit:
            raise self.error(
                path,
                f"one run of objective '{objective.name}' would need {estimate.describe()}, "
                f"more than the {format_bytes(limit)} this process may use ({why}); "
                "use smaller layers or fewer samples",
            )
        self._memory_checked[id(objective)] = objective  # kept alive: ids stay unique

    def check_against(self, objective: Objective, components: list[tuple[str, Any]]) -> None:
        """Ask each built component whether it can work with the run's objective."""
        for path, component in components:
            try:
                component.check(objective)
            except ParamError as exc:
                raise self.error(f"{path}.{exc.field}", exc.message) from None

    def merge_table(self, base: _Value, override: _Value) -> _Value:
        """Merge a run's plain table (init, tolerance, expect) over the default one."""
        if not isinstance(base.value, Mapping) or not isinstance(override.value, Mapping):
            return override
        paths = {k: f"{base.path}.{k}" for k in base.value if k not in override.value}
        return _Value({**base.value, **override.value}, override.path, paths)

    @staticmethod
    def key_path(given: _Value, key: str) -> str:
        """Where ``key`` of a (possibly merged) table was written."""
        return given.paths.get(key, f"{given.path}.{key}")

    def component(self, kind: str, given: _Value, objective: Objective | None) -> Any:
        value, path = given.value, given.path
        inherited = given.paths
        if isinstance(value, str):
            name, params = value, {}
            name_path = path
        elif isinstance(value, Mapping):
            if "name" not in value:
                raise self.error(f"{path}.name", f"missing required key (expected a {kind} name)")
            name = value["name"]
            name_path = inherited.get("name", f"{path}.name")
            if not isinstance(name, str):
                raise self.error(name_path, f"expected a {kind} name, got {_describe(name)}")
            params = {k: v for k, v in value.items() if k != "name"}
        else:
            raise self.error(
                path, f"expected a {kind} name or a table with 'name', got {_describe(value)}"
            )
        try:
            cls = self.registry.get(kind, name)
        except UnknownComponentError as exc:
            known = ", ".join(exc.known)
            raise self.error(
                name_path, f"unknown {kind} '{name}' (known: {known})", exc.suggestion
            ) from None
        except PluginError as exc:  # two plugins registered this name
            raise self.error(name_path, str(exc)) from None
        return self.build(cls, params, path, inherited)

    def build(
        self, cls: type, params: Mapping[str, Any], path: str, inherited: Mapping[str, str]
    ) -> Any:
        fields = {f.name: f for f in attrs.fields(cls) if f.init and not f.name.startswith("_")}
        hints = _type_hints(cls)
        kwargs = {}
        for key, value in params.items():
            where = inherited.get(key, f"{path}.{key}")
            if key not in fields:
                allowed = ", ".join(fields) or "no parameters"
                raise self.error(
                    where,
                    f"unknown parameter '{key}' of {cls.kind} '{cls.name}' (expected: {allowed})",
                    did_you_mean(key, fields),
                )
            kwargs[key] = self.coerce(
                value, hints.get(key), where, has_converter=bool(fields[key].converter)
            )
        for field in fields.values():
            if field.default is attrs.NOTHING and field.name not in kwargs:
                raise self.error(
                    f"{path}.{field.name}",
                    f"missing required parameter of {cls.kind} '{cls.name}'",
                )
        try:
            return cls(**kwargs)
        except ParamError as exc:
            where = inherited.get(exc.field, f"{path}.{exc.field}")
            raise self.error(where, exc.message) from None
        except (ValueError, TypeError) as exc:
            raise self.error(path, str(exc)) from None

    def coerce(self, value: Any, hint: Any, path: str, has_converter: bool) -> Any:
        nested_kind = _component_kind(hint)
        if nested_kind is not None:  # a nested component, e.g. lookahead's ``inner`` rule
            return self.component(nested_kind, _Value(value, path), None)
        if has_converter or hint is None:
            return value
        item_kind = _component_list_kind(hint)
        if item_kind is not None:  # a list of components, e.g. a sequence's ``pieces``
            if not isinstance(value, list):
                raise self.error(path, f"expected an array of {item_kind}s, got {_describe(value)}")
            return tuple(
                self.component(item_kind, _Value(item, f"{path}[{i}]"), None)
                for i, item in enumerate(value)
            )
        base = typing.get_origin(hint) or hint
        if base in (typing.Union, types.UnionType):  # Optional[X]: check against X
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if value is None or not args:
                return value
            base = typing.get_origin(args[0]) or args[0]
        if base is float:
            number = finite_float(value)
            if number is None:
                what = "a finite number" if isinstance(value, int | float) else "a number"
                raise self.error(path, f"expected {what}, got {_describe(value)}")
            return number
        if base is int:
            if not _is_integer(value):
                raise self.error(path, f"expected an integer, got {_describe(value)}")
            return int(value)
        if base is bool:
            if not isinstance(value, bool):
                raise self.error(path, f"expected true or false, got {_describe(value)}")
            return value
        if base is str:
            if not isinstance(value, str):
                raise self.error(path, f"expected a string, got {_describe(value)}")
            return value
        return value

    def component_list(self, key: str, given: _Value | None, objective: Objective) -> list[Any]:
        if given is None:
            return []
        kind = LIST_COMPONENT_KEYS[key]
        if not isinstance(given.value, list):
            raise self.error(
                given.path, f"expected an array of {kind}s, got {_describe(given.value)}"
            )
        return [
            self.component(kind, _Value(item, f"{given.path}[{i}]"), objective)
            for i, item in enumerate(given.value)
        ]

    # -- scalars ------------------------------------------------------------------------------

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, got {_describe(value)}")
        return value

    def integer(self, given: _Value, minimum: int) -> int:
        value = given.value
        if not _is_integer(value) or value < minimum:
            raise self.error(
                given.path, f"expected an integer >= {minimum}, got {_describe(value)}"
            )
        return int(value)

    def number(self, given: _Value, low: float = -math.inf, low_open: bool = False) -> float:
        value = given.value
        number = finite_float(value)
        if number is None or not (number > low if low_open else number >= low):
            bound = "" if low == -math.inf else (f" > {low:g}" if low_open else f" >= {low:g}")
            raise self.error(given.path, f"expected a finite number{bound}, got {_describe(value)}")
        return number

    def boolean(self, given: _Value) -> bool:
        if not isinstance(given.value, bool):
            raise self.error(given.path, f"expected true or false, got {_describe(given.value)}")
        return given.value

    def array(self, value: Any, path: str) -> np.ndarray:
        """A finite float64 array from a number or a (nested, rectangular) list of numbers."""

        def check(v: Any, p: str) -> None:
            if isinstance(v, list | tuple):
                for j, item in enumerate(v):
                    check(item, f"{p}[{j}]")
            elif finite_float(v) is None:
                raise self.error(p, f"expected a finite number, got {_describe(v)}")

        check(value, path)
        try:
            return np.array(value, dtype=np.float64)
        except ValueError:
            raise self.error(path, "expected a rectangular nested list of numbers") from None

    # -- init, tolerance, expectations --------------------------------------------------------

    def init(self, objective: Objective, given: _Value | None) -> dict[str, np.ndarray]:
        if given is None:
            return {}
        table = self.table(given.value, given.path)
        table = {k: v for k, v in table.items() if k not in INIT_FROM_KEYS}
        return self.param_arrays(objective, table, lambda name: self.key_path(given, name))

    def init_from(self, given: _Value | None) -> InitFrom | None:
        """``init = { from = "PATH", run = "NAME" }``: saved weights to start from."""
        if given is None or not isinstance(given.value, Mapping):
            return None
        table = given.value
        if "from" not in table:
            if "run" in table:
                raise self.error(
                    self.key_path(given, "run"), "'run' picks saved weights: give 'from' too"
                )
            return None
        where = {k: self.key_path(given, k) for k in INIT_FROM_KEYS}
        path = table["from"]
        if not isinstance(path, str) or not path.strip():
            raise self.error(
                where["from"],
                "expected the path of a checkpoint (file or run folder) or of a results "
                f"folder, got {_describe(path)}",
            )
        run = table.get("run")
        if run is not None and (not isinstance(run, str) or not run):
            raise self.error(where["run"], f"expected a run name, got {_describe(run)}")
        return InitFrom(path=path, run=run, where=f"{self.source}: {where['from']}")

    def param_shapes(self, objective: Objective) -> dict[str, tuple[int, ...]]:
        """The objective's parameter names and shapes (cached: a sweep shares one objective)."""
        cached = self._shapes.get(id(objective))
        if cached is None:
            shapes = {k: np.shape(v) for k, v in objective.init(np.random.default_rng(0)).items()}
            cached = self._shapes[id(objective)] = (objective, shapes)
        return cached[1]

    def param_arrays(
        self,
        objective: Objective,
        table: Mapping[str, Any],
        where: Any,
    ) -> dict[str, np.ndarray]:
        """Named arrays checked against the objective's parameters: names and shapes."""
        defaults = self.param_shapes(objective)
        arrays = {}
        for name, value in table.items():
            path = where(name)
            if name not in defaults:
                raise self.error(
                    path,
                    f"objective '{objective.name}' has no parameter '{name}' "
                    f"(expected: {', '.join(defaults)})",
                    did_you_mean(name, defaults),
                )
            array = self.array(value, path)
            expected = defaults[name]
            if array.shape != expected:
                raise self.error(
                    path, f"expected shape {_shape(expected)}, got shape {_shape(array.shape)}"
                )
            arrays[name] = array
        return arrays

    def tolerance(self, given: _Value | None) -> Tolerance:
        if given is None:
            return Tolerance()
        table = self.table(given.value, given.path)
        self.check_keys(table, TOLERANCE_KEYS, given.path)
        values = {
            key: self.number(_Value(table[key], self.key_path(given, key)), low=0.0)
            for key in TOLERANCE_KEYS
            if key in table
        }
        return Tolerance(**values)

    def expectations(
        self, given: _Value | None, init: Mapping[str, Any], objective: Objective
    ) -> Expectations:
        if given is None:
            return Expectations()
        table = self.table(given.value, given.path)
        self.check_keys(table, EXPECT_KEYS, given.path)

        def at(key: str) -> str:
            return self.key_path(given, key)

        from gdsim.engine import STATUSES

        kwargs: dict[str, Any] = {}
        if "status" in table:
            status = table["status"]
            statuses = [status] if isinstance(status, str) else status
            if not isinstance(statuses, list) or not statuses:
                raise self.error(at("status"), f"expected a status, got {_describe(status)}")
            for j, s in enumerate(statuses):
                if s not in STATUSES:
                    raise self.error(
                        at("status") + (f"[{j}]" if isinstance(status, list) else ""),
                        f"expected one of {', '.join(STATUSES)}, got {_describe(s)}",
                        did_you_mean(str(s), STATUSES),
                    )
            kwargs["status"] = tuple(statuses)
        if "params" in table:
            ptable = self.table(table["params"], at("params"))
            params = self.param_arrays(objective, ptable, lambda name: f"{at('params')}.{name}")
            kwargs["params"] = params
        for key in ("loss", "loss_below"):
            if key in table:
                kwargs[key] = self.number(_Value(table[key], at(key)))
        for key in ("rtol", "atol"):
            if key in table:
                kwargs[key] = self.number(_Value(table[key], at(key)), low=0.0)
        if "max_steps" in table:
            kwargs["max_steps"] = self.integer(_Value(table["max_steps"], at("max_steps")), 0)
        for key in ("metrics_below", "metrics_above"):
            if key in table:
                kwargs[key] = self.metric_bounds(table[key], at(key), objective)
        return Expectations(**kwargs)

    def metric_bounds(self, value: Any, path: str, objective: Objective) -> dict[str, float]:
        """``{ "validation.loss" = 0.3, … }``: bounds on metrics the objective offers."""
        from gdsim.observers.recorder import check_metric

        table = self.table(value, path)
        bounds = {}
        for name, bound in table.items():
            where = f'{path}."{name}"'
            try:
                check_metric(objective, name, "metric")
            except ParamError as exc:
                raise self.error(where, exc.message) from None
            bounds[name] = self.number(_Value(bound, where))
        return bounds


# --------------------------------------------------------------------------------------------
# swept entries, checked by axis


class _Names:
    """Run names seen so far, with sweeps' names made only where one might clash."""

    def __init__(self) -> None:
        self.plain: dict[str, int] = {}
        self.sweeps: list[tuple[int, SweepRuns]] = []
        self._made: dict[int, dict[str, int]] = {}

    def _names_of(self, entry: int, swept: SweepRuns) -> dict[str, int]:
        if entry not in self._made:
            self._made[entry] = {n: k for k, n in enumerate(swept.sweep.runs)}
        return self._made[entry]

    def _owner(self, name: str) -> str | None:
        if name in self.plain:
            return f"runs[{self.plain[name]}]"
        for entry, swept in self.sweeps:
            if name.startswith(swept.sweep.base + "[") and name in self._names_of(entry, swept):
                return f"sweep point '{name}' of runs[{entry}]"
        return None

    def add_run(self, name: str, entry: int, loader: _Loader) -> None:
        owner = self._owner(name)
        if owner is not None:
            raise loader.error(
                f"runs[{entry}].name", f"duplicate run name '{name}' (already used by {owner})"
            )
        self.plain[name] = entry

    def add_sweep(self, swept: SweepRuns | list[RunSpec], entry: int, loader: _Loader) -> None:
        if isinstance(swept, list):  # validated point by point
            for spec in swept:
                owner = self._owner(spec.name)
                if owner is not None:
                    raise loader.error(
                        f"runs[{entry}].name",
                        f"duplicate run name '{spec.name}' (already used by {owner}) "
                        f"(in sweep point '{spec.name}')",
                    )
                self.plain[spec.name] = entry
            return
        base = swept.sweep.base + "["
        clash = any(n.startswith(base) for n in self.plain) or any(
            s.sweep.base + "[" == base for _, s in self.sweeps
        )
        if clash:
            for name in swept.sweep.runs:
                owner = self._owner(name)
                if owner is not None:
                    raise loader.error(
                        f"runs[{entry}].name",
                        f"duplicate run name '{name}' (already used by {owner}) "
                        f"(in sweep point '{name}')",
                    )
        self.sweeps.append((entry, swept))


_SPEC_FIELDS = {
    "rule": "rule",
    "schedule": "schedule",
    "estimator": "estimator",
    "transforms": "transforms",
    "observers": "observers",
    "allow_divergence": "allow_divergence",
    "steps": "steps",
    "seed": "seed",
    "max_loss": "max_loss",
    "tolerance": "tolerance",
}
"""Run keys a swept value may sit under (besides ``init``), and the RunSpec field each sets."""


def _root(path: str) -> str:
    """The run key a sweep axis sits under: ``rule`` for ``rule.inner.beta1``."""
    return path.split(".", 1)[0].split("[", 1)[0]


def _combinations(sweep: Sweep, axes: list[int]) -> list[tuple[int, ...]]:
    """The distinct index combinations the sweep's points take on ``axes``, in point order."""
    if len(axes) == 1:
        return [(j,) for j in range(len(sweep.axes[axes[0]].values))]
    if sweep.mode == "zip":
        return [(j,) * len(axes) for j in range(len(sweep.points))]
    return [tuple(int(v) for v in row) for row in np.unique(sweep.points[:, axes], axis=0)]


def _numbers(values: Sequence[Any]) -> np.ndarray | None:
    """The values as a float64 array when all are finite real numbers (not booleans)."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:
        return None
    return array if bool(np.all(np.isfinite(array))) else None


_NUMBER_CHECKS: dict[str, Callable[[Any], bool]] = {
    "steps": lambda v: _is_integer(v) and v >= 1,
    "seed": lambda v: _is_integer(v) and v >= 0,
    "max_loss": lambda v: (f := finite_float(v)) is not None and f > 0,
    "tolerance": lambda v: (f := finite_float(v)) is not None and f >= 0,
    "init": lambda v: finite_float(v) is not None,
}
"""The loader's checks of a run's own numbers and of a starting value that is a number."""


def _refused(values: Sequence[Any], root: str) -> np.ndarray:
    """For each value of an axis under ``root``: True where the loader's check refuses it."""
    if root in ("init", "max_loss", "tolerance"):
        array = _numbers(values)  # a generator's floats: checked as one array
        if array is not None:
            if root == "max_loss":
                return ~(array > 0)
            return ~(array >= 0) if root == "tolerance" else np.zeros(len(values), dtype=bool)
    check = _NUMBER_CHECKS[root]
    return np.array([not check(v) for v in values], dtype=bool)


def _fails(load: Callable[[np.ndarray], Any], point: np.ndarray) -> bool:
    try:
        load(point)
    except ScenarioError:
        return True
    return False


def _number_part(sweep: Sweep, root: str, axes: list[int]) -> Part:
    """The part of the run's own numbers (steps, seed, max_loss, tolerances), all checked."""
    if root == "tolerance":
        return Tolerances(
            tuple(
                (
                    sweep.axes[a].path.split(".")[1],
                    tuple(float(v) for v in sweep.axes[a].values),
                    a,
                )
                for a in axes
            )
        )
    (a,) = axes  # one axis per key
    convert = int if root in ("steps", "seed") else float
    return Number(root, tuple(convert(v) for v in sweep.axes[a].values), a)


def _init_part(sweep: Sweep, table: Mapping[str, Any], axes: list[int]) -> Part:
    """The part of the starting point: the swept values put into the run's ``init`` table
    (converted as the loader converts them)."""
    init = table["init"]  # the axes are in the entry's own init table
    by_param: dict[str, list[int]] = {}
    for a in axes:
        name = sweep.axes[a].path[len("init.") :].split("[", 1)[0].split(".", 1)[0]
        by_param.setdefault(name, []).append(a)
    return StartingPoint(
        tuple(
            (
                name,
                init[name],
                tuple((sweep.axes[a].path, sweep.axes[a].values, a) for a in swept),
            )
            for name, swept in by_param.items()
        )
    )


def _eager(sweep: Sweep, template: RunSpec, load: Callable[[np.ndarray], RunSpec]) -> Any:
    """Every point validated as a run of its own (an axis into the objective changes what
    everything else is checked against)."""
    return [template] + [load(point) for point in sweep.points[1:]]


def _component_kind(hint: Any) -> str | None:
    """The kind ("rule", …) when a parameter is annotated with a component base class."""
    if isinstance(hint, type) and issubclass(hint, Component) and hint.kind:
        return hint.kind
    return None


def _component_list_kind(hint: Any) -> str | None:
    """The kind when a parameter is annotated ``tuple[<component base>, ...]`` (or a list)."""
    if typing.get_origin(hint) not in (tuple, list):
        return None
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return _component_kind(args[0]) if len(args) == 1 else None


def _is_integer(value: Any) -> bool:
    """An int (or a numpy integer from the Python API), not a boolean."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, or None for non-numbers, booleans, NaN, ±inf and integers
    too large for a float64."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _merge_tables(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, key by key; a nested table (a component such as Lookahead's
    ``inner``, or a data table) is merged the same way unless it names something else."""
    merged = dict(base)
    for key, value in override.items():
        below = base.get(key)
        if isinstance(below, str) and isinstance(value, Mapping):
            below = {"name": below}
        if (
            isinstance(value, Mapping)
            and isinstance(below, Mapping)
            and value.get("name", below.get("name")) == below.get("name")
        ):
            merged[key] = _merge_tables(below, value)
        else:
            merged[key] = value
    return merged


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A component class's resolved annotations (cached: resolving them is slow)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {}


def _shape(shape: tuple[int, ...]) -> str:
    return (
        "()"
        if not shape
        else "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int) and abs(value) > 10**15:
        return f"an integer of {value.bit_length()} bits (too large)"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
