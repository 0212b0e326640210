"""The plugin as a user meets it: installed, discovered through its entry point, in scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip(
    "gdsim_optimizers",
    reason="gdsim-optimizers is not installed: pip install ./plugins/gdsim-optimizers",
)

from gdsim import api
from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.registry import Registry

from gdsim_optimizers.lookahead import Lookahead

RULES = ["adamw", "nadam", "adamax", "radam", "adabound", "adadelta", "asgd", "lookahead"]
SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_rules_come_from_the_entry_point():
    registry = Registry.discover()
    registry.check()
    for name in RULES:
        entry = registry.entry("rule", name)
        assert entry.plugin.distribution == "gdsim-optimizers"
        assert entry.plugin.name == "optimizers"


def test_gdsim_plugins_lists_the_plugin():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert plugins["optimizers"]["distribution"] == "gdsim-optimizers"
    assert plugins["optimizers"]["components"]["rule"] == RULES
    assert plugins["optimizers"]["error"] is None


def test_describe_shows_the_equations():
    result = CliRunner().invoke(main, ["describe", "rule", "nadam"])
    assert result.exit_code == 0
    assert "momentum_decay" in result.output and "0.96^(t ψ)" in result.output


def lookahead_scenario(rule) -> dict:
    return {
        "objective": {"name": "quartic"},
        "runs": [{"init": {"x": 5.0}, "steps": 20, "rule": rule}],
    }


def test_lookahead_scenario_builds_the_inner_rule_from_a_table():
    rule = {"name": "lookahead", "k": 5, "alpha": 0.5, "inner": {"name": "adam", "beta1": 0.9}}
    spec = api.load(lookahead_scenario(rule)).runs[0].rule
    assert isinstance(spec, Lookahead) and spec.inner.name == "adam" and spec.k == 5
    result = api.run(lookahead_scenario(rule)).runs[0]
    assert result.status == "completed"


def test_lookahead_can_wrap_a_plugin_rule_and_itself():
    inner = {"name": "lookahead", "k": 2, "inner": {"name": "adamw", "weight_decay": 0.0}}
    spec = api.load(lookahead_scenario({"name": "lookahead", "inner": inner})).runs[0].rule
    assert spec.inner.inner.name == "adamw"


@pytest.mark.parametrize(
    ("inner", "path"),
    [
        ({"name": "adam", "beta1": 2.0}, "runs[0].rule.inner.beta1"),
        ({"name": "adamw", "weight_dacay": 0.1}, "runs[0].rule.inner.weight_dacay"),
        ({"name": "nadm"}, "runs[0].rule.inner.name"),
    ],
)
def test_lookahead_errors_name_the_nested_key_path(inner, path):
    with pytest.raises(ScenarioError) as err:
        api.load(lookahead_scenario({"name": "lookahead", "inner": inner}))
    assert f"{path}: " in str(err.value)


@pytest.mark.parametrize("name", ["compare_adaptive.toml", "compare_adaptive_quartic.toml"])
def test_comparison_scenarios_meet_their_expectations(name):
    results = api.run(SCENARIOS / name)
    failed = [(r.name, [o.name for o in r.expectations if not o.passed]) for r in results.runs]
    assert results.passed, [f for f in failed if f[1]]
