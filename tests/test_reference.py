"""The generated scenario-file reference follows the registry and the declarations."""

from __future__ import annotations

import math
import re
from typing import ClassVar

import attrs
import pluggy
import pytest

from gdsim import hookspecs, reference
from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.components import Schedule, describe_params, param
from gdsim.registry import PluginInfo, Registry, default_registry
from gdsim.validators import positive


@attrs.frozen
class Sawtooth(Schedule):
    """A sawtooth learning rate, restarting every ``period`` steps::

        α = lr · (1 − (t mod period) / period)

    Made up for this test; :class:`Schedule` is its base.
    """

    name: ClassVar[str] = "sawtooth_test"
    lr: float = param(0.5, validator=positive(), doc="the rate at each restart")
    period: int = param(10, doc="steps between restarts")
    label: str = param("saw")
    limits: tuple[float, ...] = param((0.0, math.inf), doc="bounds | with a pipe")

    def learning_rate(self, state, step, grads, loss):
        return self.lr * (1 - (step % self.period) / self.period), state


class SawtoothPlugin:
    @hookspecs.hookimpl
    def gdsim_schedules(self):
        return [Sawtooth]


def registry_with_plugin() -> Registry:
    """The built-ins plus a plugin contributing Sawtooth, as an installed one would."""
    base = Registry.discover(entry_points=[])
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    plugins = []
    for info in base.plugins:
        pm.register(base.pm.get_plugin(info.name), name=info.name)
        plugins.append(PluginInfo(info.name, info.distribution, info.version))
    pm.register(SawtoothPlugin(), name="saw")
    plugins.append(PluginInfo("saw", "gdsim-saw", "1.2.3"))
    return Registry(pm, plugins)


def section(page: str, kind: str, name: str) -> str:
    start = page.index(f"{{ #{kind}-{name} }}")
    end = page.find("\n### ", start)
    return page[start : end if end != -1 else len(page)]


def test_every_registered_component_is_documented_with_its_declaration() -> None:
    registry = default_registry()
    page = reference.scenario_reference(registry)
    for kind in reference.kinds(registry):
        for name in registry.names(kind):
            text = section(page, kind, name)
            params = describe_params(registry.get(kind, name))
            rows = re.findall(r"^\| `([^`]+)` \| `[^`]*` \| (.*?) \|", text, flags=re.MULTILINE)
            assert [r[0] for r in rows] == [p.name for p in params], (kind, name)
            for (_, default), p in zip(rows, params, strict=True):
                expected = "**required**" if p.required else f"`{reference.toml_value(p.default)}`"
                assert default == expected, (kind, name, p.name)
            if not params:
                assert "No parameters." in text


def test_a_plugin_component_appears_with_its_origin_and_docs() -> None:
    registry = registry_with_plugin()
    page = reference.scenario_reference(registry)
    text = section(page, "schedule", "sawtooth_test")
    assert "`gdsim-saw` 1.2.3" in text
    assert "restarting every ``period`` steps:\n" in text  # rst '::' became ':'
    assert "    α = lr · (1 − (t mod period) / period)" in text  # still a code block
    assert ":class:" not in text and "`Schedule` is its base" in text
    assert "| `lr` | `float` | `0.5` | the rate at each restart |" in text
    assert "| `limits` | `tuple[float, ...]` | `[0.0, inf]` | bounds \\| with a pipe |" in text
    assert '| `label` | `str` | `"saw"` | — |' in text
    assert reference.undocumented(registry) == ["schedule 'sawtooth_test': parameter 'label'"]


def test_built_in_parameters_all_have_docs() -> None:
    registry = Registry.discover(builtin_modules=BUILTIN_PLUGINS, entry_points=[])
    assert reference.undocumented(registry) == []


def test_scenario_keys_come_from_the_loader() -> None:
    from gdsim import scenario

    table = reference.scenario_keys()
    for key in (*scenario.RUN_KEYS, *scenario.EXPECT_KEYS, *scenario.TOLERANCE_KEYS):
        assert f"`{key}`" in table
    assert '`rule` (default `"gd"`)' in table


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (None, "none"),
        ("epoch", '"epoch"'),
        (1e100, "1e+100"),
        (-math.inf, "-inf"),
        ((1, (2.5, "a")), '[1, [2.5, "a"]]'),
        (3, "3"),
    ],
)
def test_defaults_are_written_as_in_a_scenario_file(value, text) -> None:
    assert reference.toml_value(value) == text
