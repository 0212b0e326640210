"""The loader builds a parameter annotated with a component base class as a nested component."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.components import UpdateRule, param
from gdsim.errors import ScenarioError
from gdsim.hookspecs import hookimpl
from gdsim.registry import Registry
from gdsim.rules.adaptive import Adam
from gdsim.rules.classic import GD
from gdsim.scenario import load_mapping


@attrs.frozen
class Halved(UpdateRule):
    """Test rule: the inner rule's step, halved."""

    name: ClassVar[str] = "halved"
    inner: UpdateRule = param(doc="the wrapped rule")  # noqa: RUF009
    scale: float = param(0.5)

    def init(self, params):
        return self.inner.init(params)

    def update(self, grads, state, params, lr: Any):
        new, state = self.inner.update(grads, state, params, lr)
        return {k: x + self.scale * (new[k] - x) for k, x in params.items()}, state


@hookimpl
def gdsim_rules() -> list[type]:
    return [Halved]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(builtin_modules=(*BUILTIN_PLUGINS, __name__), entry_points=[])


def scenario(rule: Any, defaults: dict | None = None) -> dict:
    raw = {"objective": {"name": "quartic"}, "runs": [{"rule": rule}]}
    if defaults:
        raw["defaults"] = defaults
    return raw


def test_nested_rule_from_a_table(registry):
    spec = load_mapping(
        scenario({"name": "halved", "inner": {"name": "adam", "beta1": 0.5}}), registry=registry
    )
    rule = spec.runs[0].rule
    assert isinstance(rule, Halved) and rule.inner == Adam(beta1=0.5)


def test_nested_rule_from_a_name(registry):
    spec = load_mapping(scenario({"name": "halved", "inner": "gd"}), registry=registry)
    assert spec.runs[0].rule.inner == GD()


def test_nested_rule_runs(registry):
    from gdsim import api

    raw = scenario({"name": "halved", "inner": "gd"})
    raw["runs"][0].update(steps=1, init={"x": 5.0})
    result = api.run(load_mapping(raw, registry=registry), registry=registry).runs[0]
    _, g = (
        load_mapping(raw, registry=registry).runs[0].objective.value_and_grad({"x": np.array(5.0)})
    )
    assert result.final_params["x"] == pytest.approx(5.0 - 0.5 * 0.1 * g["x"], rel=1e-15)


@pytest.mark.parametrize(
    ("inner", "path", "message"),
    [
        ({"name": "adam", "beta1": 1.5}, "runs[0].rule.inner.beta1", "expected a number in [0, 1)"),
        ({"name": "adam", "bta1": 0.5}, "runs[0].rule.inner.bta1", "did you mean 'beta1'"),
        ({"name": "adan"}, "runs[0].rule.inner.name", "unknown rule 'adan'"),
        ({"beta1": 0.5}, "runs[0].rule.inner.name", "missing required key"),
        ("nope", "runs[0].rule.inner", "unknown rule 'nope'"),
        (3, "runs[0].rule.inner", "expected a rule name or a table"),
        ({"name": "adam", "amsgrad": 1}, "runs[0].rule.inner.amsgrad", "expected true or false"),
    ],
)
def test_nested_errors_name_the_full_key_path(registry, inner, path, message):
    with pytest.raises(ScenarioError) as err:
        load_mapping(scenario({"name": "halved", "inner": inner}), registry=registry)
    assert f"{path}: " in str(err.value) and message in str(err.value)


def test_missing_nested_component_is_reported(registry):
    with pytest.raises(ScenarioError, match=r"runs\[0\]\.rule\.inner: missing required parameter"):
        load_mapping(scenario({"name": "halved"}), registry=registry)


def test_nested_component_given_in_defaults_names_the_defaults_path(registry):
    defaults = {"rule": {"name": "halved", "inner": {"name": "adam", "beta2": 2.0}}}
    with pytest.raises(ScenarioError, match=r"defaults\.rule\.inner\.beta2"):
        load_mapping(scenario({"scale": 0.25}, defaults), registry=registry)


def test_nested_tables_merge_with_the_defaults_like_the_top_level():
    from gdsim.scenario import load_mapping

    def inner_of(run):
        raw = {
            "objective": {"name": "quartic"},
            "defaults": {
                "rule": {"name": "lookahead", "k": 5, "inner": {"name": "adam", "beta1": 0.8}}
            },
            "runs": [{"name": "r", **run}],
        }
        return load_mapping(raw).runs[0].rule.inner

    assert inner_of({"rule": {"inner": {"beta2": 0.5}}}).beta1 == 0.8  # merged
    assert inner_of({"rule": {"inner": {"name": "adam", "beta2": 0.5}}}).beta2 == 0.5
    assert inner_of({"rule": {"inner": {"name": "adam", "beta2": 0.5}}}).beta1 == 0.8
    assert inner_of({"rule": {"inner": {"name": "rmsprop"}}}).name == "rmsprop"  # replaced
    assert inner_of({"rule": {"inner": "gd"}}).name == "gd"
