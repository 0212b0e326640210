"""Data sources, activations and initializers are components like any other: a plugin adds them
through hooks, scenarios name them, the CLI lists and describes them."""

from __future__ import annotations

import json
from typing import ClassVar

import attrs
import numpy as np
import pytest

from gdsim import api
from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.cli import main
from gdsim.components import Activation, DataSource, Initializer, param
from gdsim.errors import ScenarioError
from gdsim.hookspecs import hookimpl
from gdsim.registry import Registry
from gdsim.validators import positive


@attrs.frozen
class Grid(DataSource):
    """Test data: the points of a k×k grid in [0, 1]², labelled by x > y."""

    name: ClassVar[str] = "grid"
    cacheable: ClassVar[bool] = True
    k: int = param(5)

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = np.linspace(0.0, 1.0, self.k)
        X = np.array([(a, b) for a in t for b in t])
        return X, (X[:, 0] > X[:, 1]).astype(np.float64)


@attrs.frozen
class Cube(Activation):
    """Test activation: z³ (derivative 3z²)."""

    name: ClassVar[str] = "cube"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z * z * z

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= 3.0 * z * z
        return d


@attrs.frozen
class Ones(Initializer):
    """Test initializer: every weight equal to ``value`` × scale."""

    name: ClassVar[str] = "ones"
    value: float = param(1.0, validator=positive())

    def weights(self, rng, fan_in, fan_out, scale):  # type: ignore[no-untyped-def]
        return np.full((fan_in, fan_out), self.value * scale)


@hookimpl
def gdsim_data_sources() -> list[type]:
    return [Grid]


@hookimpl
def gdsim_activations() -> list[type]:
    return [Cube]


@hookimpl
def gdsim_initializers() -> list[type]:
    return [Ones]


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry.discover(builtin_modules=(*BUILTIN_PLUGINS, __name__), entry_points=[])
    registry.check()
    return registry


def network(**objective: object) -> dict:
    base = {"name": "mlp", "data": {"name": "grid", "k": 4}, "hidden": [2]}
    return {"objective": {**base, **objective}, "runs": [{"name": "a", "steps": 3}]}


def test_a_plugin_adds_a_data_source_activation_and_initializer(registry: Registry) -> None:
    spec = api.load(network(activation="cube", initializer="ones"), registry=registry).runs[0]
    mlp = spec.objective
    assert mlp.dataset.size() == 16 and mlp.activation == Cube()
    params = mlp.init(np.random.default_rng(0))
    assert np.array_equal(params["W1"], np.ones((2, 2)))
    # the plugin's activation is what the network computes: hidden = (X W1 + b1)³
    X = mlp.dataset.X["train"]
    hidden = (X @ params["W1"] + params["b1"]) ** 3
    logits = hidden @ params["W2"] + params["b2"]
    y = mlp.dataset.y["train"][:, None]
    expected = np.mean(np.logaddexp(0.0, logits) - y * logits)
    assert np.isclose(mlp.value(params), expected, rtol=1e-12)


def test_nested_tables_carry_the_components_parameters(registry: Registry) -> None:
    raw = network(initializer={"name": "ones", "value": 0.5}, init_scale=2.0)
    mlp = api.load(raw, registry=registry).runs[0].objective
    assert np.array_equal(mlp.init(np.random.default_rng(0))["W2"], np.ones((2, 1)))
    with pytest.raises(ScenarioError) as info:
        api.load(network(initializer={"name": "ones", "valeu": 0.5}), registry=registry)
    assert info.value.path == "objective.initializer.valeu"
    assert info.value.suggestion == "value"


def test_names_of_the_new_kinds_are_checked_with_suggestions(registry: Registry) -> None:
    for key, value, path, suggestion in [
        ("data", {"name": "gird"}, "objective.data.name", "grid"),
        ("activation", "cuube", "objective.activation:", "cube"),
        ("initializer", {"name": "one"}, "objective.initializer.name", "ones"),
    ]:
        with pytest.raises(ScenarioError) as info:
            api.load(network(**{key: value}), registry=registry)
        text = str(info.value)
        assert path in text and f"did you mean '{suggestion}'" in text, text


def test_without_the_plugin_its_names_are_unknown() -> None:
    with pytest.raises(ScenarioError, match="unknown data source 'grid'"):
        api.load(network(), registry=Registry.discover(entry_points=[]))


def test_plugins_and_describe_list_the_new_kinds(cli) -> None:
    listing = json.loads(cli.invoke(main, ["plugins", "--json"]).output)
    by_name = {p["name"]: p["components"] for p in listing["plugins"]}
    assert "moons" in by_name["gdsim.data.sources"]["data"]
    assert "sigmoid" in by_name["gdsim.objectives.activations"]["activation"]
    assert "he_normal" in by_name["gdsim.objectives.initializers"]["initializer"]
    shown = cli.invoke(main, ["describe", "activation", "leaky_relu"])
    assert shown.exit_code == 0 and "negative_slope (float, default 0.01)" in shown.output
    shown = cli.invoke(main, ["describe", "data", "spirals"])
    assert shown.exit_code == 0 and "turns" in shown.output
    unknown = cli.invoke(main, ["describe", "initializer", "xavier"])
    assert unknown.exit_code == 2 and "did you mean" in unknown.output


def test_a_source_breaking_the_contract_is_a_clean_error(registry: Registry) -> None:
    @attrs.frozen
    class Ragged(DataSource):
        name: ClassVar[str] = "ragged"

        def load(self, rng):  # type: ignore[no-untyped-def]
            return np.zeros((3, 2)), np.zeros(4)

    from gdsim.data.dataset import DataSpec
    from gdsim.data.files import DataError

    with pytest.raises(DataError, match="data source 'ragged' returned X of shape"):
        DataSpec(source=Ragged()).build()
