"""The plugin as a user meets it: installed, its data sets named in scenarios, the lecture's
network trained on real data, and every source passing gdsim's conformance kit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "gdsim_sklearn_data",
    reason="gdsim-sklearn-data is not installed: pip install ./plugins/gdsim-sklearn-data",
)

from click.testing import CliRunner
from gdsim import api
from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.testing import conformance_cases

from gdsim_sklearn_data.sources import BreastCancer, Digits, Iris, Wine

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "breast_cancer.toml"

# the sizes scikit-learn documents for its bundled sets: (samples, features, classes)
SIZES = {Iris: (150, 4, 3), Wine: (178, 13, 3), BreastCancer: (569, 30, 2), Digits: (1797, 64, 10)}


@pytest.mark.parametrize("case", conformance_cases("gdsim-sklearn-data"), ids=str)
def test_every_source_passes_the_conformance_kit(case):
    assert case.run() >= 1


@pytest.mark.parametrize("cls", list(SIZES), ids=lambda c: c.name)
def test_sizes_and_labels_are_the_documented_ones(cls):
    n, d, k = SIZES[cls]
    X, y = cls().load(np.random.default_rng(0))
    assert X.shape == (n, d) and y.shape == (n,)
    assert np.array_equal(np.unique(y), np.arange(k, dtype=np.float64))


def test_digits_can_keep_fewer_classes():
    X, y = Digits(classes=2).load(np.random.default_rng(0))
    assert set(np.unique(y)) == {0.0, 1.0} and X.shape[1] == 64
    with pytest.raises(ScenarioError, match=r"objective.data.classes: expected an integer from 2"):
        api.load(
            {
                "objective": {"name": "mlp", "data": {"name": "digits", "classes": 11}},
                "runs": [{"name": "a"}],
            }
        )


def test_the_plugin_is_listed_with_its_sources():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    plugins = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert plugins["sklearn_data"]["distribution"] == "gdsim-sklearn-data"
    assert plugins["sklearn_data"]["components"] == {
        "data": ["iris", "wine", "breast_cancer", "digits"]
    }


def test_a_network_learns_the_three_iris_species():
    results = api.run(
        {
            "objective": {
                "name": "mlp",
                "hidden": [8],
                "loss": "cross_entropy",
                "data": {"name": "iris", "standardize": True, "split": [0.8, 0.2, 0.0]},
            },
            "runs": [{"name": "adam", "steps": 300, "rule": "adam", "seed": 0}],
        }
    )
    run = results.runs[0]
    accuracy = run.spec.objective.metrics(run.final_params, "validation")["accuracy"]
    assert accuracy >= 0.8  # chance is 1/3


def test_the_breast_cancer_scenario_meets_its_bounds():
    results = api.run(SCENARIO)
    assert results.passed, [(r.name, r.final_loss, r.expectations) for r in results.runs]
    for run in results.runs:
        metrics = run.spec.objective.metrics(run.final_params, "validation")
        assert metrics["accuracy"] >= 0.9, (run.name, metrics)  # a constant guess gets 0.63
