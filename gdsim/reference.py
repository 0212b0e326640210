"""The scenario-file reference, written as Markdown from the code's own declarations.

The documentation site builds its reference page with :func:`scenario_reference`: the keys the
scenario loader accepts, then every registered component of every kind, each with its
docstring and a table of the parameters it declares with :func:`gdsim.components.param`. The
page is generated at every build from the registry, so a component added by gdsim or by an
installed plugin appears without anyone editing the docs, and a parameter's documented
default can never disagree with the code.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

from gdsim import hookspecs, scenario
from gdsim.components import describe_params
from gdsim.registry import Registry

KIND_TITLES = {
    "objective": "Objectives",
    "estimator": "Gradient estimators",
    "rule": "Update rules",
    "transform": "Gradient transforms",
    "schedule": "Learning-rate schedules",
    "observer": "Observers",
}
"""Section titles of the kinds gdsim knows; a kind added later is titled from its name."""

KIND_KEYS = {
    "objective": "`[objective]`, or a run's `objective` table",
    "estimator": "a run's `estimator`",
    "rule": "a run's `rule`",
    "transform": "a run's `transforms = [...]`",
    "schedule": "a run's `schedule`",
    "observer": "a run's `observers = [...]`",
}
"""Where a scenario names a component of each kind."""


def kinds(registry: Registry) -> list[str]:
    """Every kind of component a plugin can contribute, in the hook specification's order."""
    found = []
    for kind in hookspecs.COMPONENT_HOOKS:
        try:
            registry.names(kind)
        except KeyError:  # a hook the registry does not collect
            continue
        found.append(kind)
    return found


def toml_value(value: Any) -> str:
    """A default value as it would be written in a scenario file."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    if hasattr(value, "name") and isinstance(value.name, str):  # a nested component
        return f'{{ name = "{value.name}" }}'
    return f"`{value!r}`"


def docstring_markdown(obj: Any) -> str:
    """A docstring as Markdown: reStructuredText's ``::`` before a literal block becomes ``:``
    (the indented block is a code block in Markdown already) and cross-reference roles such as
    ``:class:`` are dropped."""
    doc = inspect.getdoc(obj) or ""
    doc = re.sub(r"::$", ":", doc, flags=re.MULTILINE)
    return re.sub(r":(?:func|class|meth|mod|attr|data|exc|obj):(`[^`]+`)", r"\1", doc)


def _cell(text: str) -> str:
    """Text that fits in one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def component_section(kind: str, name: str, registry: Registry) -> str:
    """One component: heading, origin, docstring and parameter table."""
    entry = registry.entry(kind, name)
    cls = entry.cls
    plugin = entry.plugin
    lines = [f"### `{name}` {{ #{kind}-{name} }}", ""]
    if plugin.distribution != "gdsim":
        lines += [f"*From the plugin distribution `{plugin.distribution}` {plugin.version}.*", ""]
    lines += [docstring_markdown(cls), ""]
    params = describe_params(cls)
    if not params:
        lines += ["No parameters.", ""]
        return "\n".join(lines)
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for p in params:
        default = "**required**" if p.required else f"`{toml_value(p.default)}`"
        lines.append(f"| `{p.name}` | `{_cell(p.type)}` | {default} | {_cell(p.doc) or '—'} |")
    lines.append("")
    return "\n".join(lines)


def scenario_keys() -> str:
    """The keys the scenario loader accepts, table by table, with the run defaults."""
    defaults = scenario.DEFAULT_RUN
    run_keys = ", ".join(
        f"`{k}` (default `{toml_value(defaults[k])}`)" if k in defaults else f"`{k}`"
        for k in scenario.RUN_KEYS
    )
    rows = [
        ("top level", scenario.TOP_LEVEL_KEYS),
        ("`[scenario]`", scenario.SCENARIO_KEYS),
        ("`[[runs]]` and `[defaults]`", None),
        ("a run's `init` (besides one value per parameter)", scenario.INIT_FROM_KEYS),
        ("a run's `tolerance`", scenario.TOLERANCE_KEYS),
        ("a run's `expect`", scenario.EXPECT_KEYS),
    ]
    lines = ["| table | keys |", "|---|---|"]
    for table, keys in rows:
        listed = run_keys if keys is None else ", ".join(f"`{k}`" for k in keys)
        lines.append(f"| {table} | {listed} |")
    return "\n".join(lines) + "\n"


def scenario_reference(registry: Registry) -> str:
    """The whole reference page: scenario keys, then every kind's components."""
    parts = [
        "# Scenario file reference",
        "",
        "This page is generated from the code at every build of the site: the keys below are "
        "the ones the scenario loader accepts, and each component's description, parameters "
        "and defaults are read from its class — the same declaration that validates a "
        "scenario and that `gdsim describe KIND NAME` prints. Components of installed "
        "plugins are listed with the distribution they come from. "
        "[Scenario files](../scenarios.md) explains the format with examples.",
        "",
        "## Keys",
        "",
        scenario_keys(),
        'A component is written as its name (`rule = "gd"`) or as a table with `name` and '
        'parameters (`rule = { name = "momentum", mu = 0.9 }`); a parameter that is not '
        "given takes the default shown.",
        "",
    ]
    for kind in kinds(registry):
        names = registry.names(kind)
        if not names:
            continue
        title = KIND_TITLES.get(kind, kind.replace("_", " ").capitalize() + "s")
        where = KIND_KEYS.get(kind)
        parts += [f"## {title}", ""]
        if where:
            parts += [f"Named in a scenario under {where}.", ""]
        parts += [component_section(kind, name, registry) for name in names]
    return "\n".join(parts)


def undocumented(registry: Registry) -> list[str]:
    """Parameters declared without a ``doc``, as ``"kind 'name': parameter"`` strings."""
    missing = []
    for kind in kinds(registry):
        for name in registry.names(kind):
            for p in describe_params(registry.get(kind, name)):
                if not p.doc:
                    missing.append(f"{kind} '{name}': parameter '{p.name}'")
    return missing
