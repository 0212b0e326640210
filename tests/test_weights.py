"""Loading saved weights (``init = { from = … }``), ``gdsim evaluate`` and metric expectations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gdsim
from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.weights import WeightsError, load_weights
from tests.conftest import write_scenario

MLP_OBJECTIVE = """
[objective]
name = "mlp"
hidden = [{hidden}]
[objective.data]
name = "moons"
n = 60
seed = 1
split = [0.6, 0.2, 0.2]
"""


def mlp_scenario(folder: Path, hidden: int = 4, runs: str = "", name: str = "s.toml") -> Path:
    text = MLP_OBJECTIVE.format(hidden=hidden) + runs
    return write_scenario(folder, text, name)


TRAIN_RUN = """
[[runs]]
name = "train"
steps = 30
rule = "adam"
schedule = { name = "constant", lr = 0.05 }
observers = [{ name = "checkpoint", every = 10, dir = "ck" }]
"""


@pytest.fixture
def trained(tmp_path, monkeypatch, cli):
    """A trained 2-4-1 network: its checkpoint folder and its results folder."""
    monkeypatch.chdir(tmp_path)
    scenario = mlp_scenario(tmp_path, runs=TRAIN_RUN)
    result = cli.invoke(main, ["run", str(scenario), "--out", "res", "-q"])
    assert result.exit_code == 0, result.output
    final = gdsim.run(scenario)[0].final_params
    return tmp_path / "ck" / "s" / "train", tmp_path / "res", final


def test_checkpoint_and_results_folder_give_the_final_weights_bit_for_bit(trained):
    checkpoint, results, final = trained
    for source in (checkpoint, results):
        weights = load_weights(source)
        assert weights.run == "train" and weights.objective == "mlp" and weights.step == 30
        for name, value in final.items():
            assert np.array_equal(weights.params[name], value), (source, name)


def test_a_run_starts_from_saved_weights(trained, tmp_path, cli):
    checkpoint, results, final = trained
    for source in (checkpoint, results):
        runs = f"""
[[runs]]
name = "again"
init = {{ from = "{source}" }}
steps = 1
rule = "gd"
schedule = {{ name = "constant", lr = 1e-300 }}
"""
        scenario = mlp_scenario(tmp_path, runs=runs, name="again.toml")
        result = gdsim.run(scenario)[0]
        for name, value in final.items():  # one step of 1e-300 leaves every weight as it was
            assert np.array_equal(result.final_params[name], value), (source, name)


def test_a_run_loads_what_an_earlier_run_of_the_scenario_saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = (
        TRAIN_RUN
        + """
[[runs]]
name = "tune"
init = { from = "ck/s/train" }
steps = 1
schedule = { name = "constant", lr = 1e-300 }
"""
    )
    results = gdsim.run(mlp_scenario(tmp_path, runs=runs))
    for name, value in results["train"].final_params.items():
        assert np.array_equal(results["tune"].final_params[name], value)


def test_a_mismatched_shape_is_a_clear_error(trained, tmp_path, cli):
    checkpoint, _, _ = trained
    runs = f'[[runs]]\nname = "wide"\ninit = {{ from = "{checkpoint}" }}\n'
    scenario = mlp_scenario(tmp_path, hidden=5, runs=runs, name="wide.toml")
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 2
    assert "runs[0].init.from" in result.output
    assert "parameter 'W1' has shape (2, 4), but objective 'mlp' expects (2, 5)" in result.output
    assert "Traceback" not in result.output


def test_a_mismatched_objective_is_a_clear_error(trained, tmp_path, cli):
    checkpoint, _, _ = trained
    scenario = write_scenario(
        tmp_path,
        f'objective = "quartic"\n[[runs]]\nname = "q"\ninit = {{ from = "{checkpoint}" }}\n',
        "q.toml",
    )
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 2
    assert "trained on objective 'mlp', but this objective is 'quartic'" in result.output


def test_results_folders_with_several_runs_need_a_run_name(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "from_5"\n[[runs]]\nname = "from_1"\n'
        "init = { x = 1.0 }\n",
    )
    assert cli.invoke(main, ["run", str(scenario), "--out", "res", "-q"]).exit_code == 0
    with pytest.raises(WeightsError, match="hold 2 runs"):
        load_weights("res")
    with pytest.raises(WeightsError, match="did you mean 'from_1'"):
        load_weights("res", run="from_l")
    expected = gdsim.run(scenario)["from_1"].final_params["x"]
    assert load_weights("res", run="from_1").params["x"] == expected


def test_bad_sources_are_errors_not_tracebacks(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError, match="no such"):
        load_weights("nowhere.npz")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(WeightsError, match="expected a checkpoint"):
        load_weights("notes.txt")
    for init, key in (("{ from = 3 }", "init.from"), ('{ run = "a" }', "init.run")):
        scenario = write_scenario(tmp_path, f'objective = "quartic"\n[[runs]]\ninit = {init}\n')
        with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
            gdsim.load(scenario)


def test_evaluate_scores_saved_weights_on_a_split(trained, cli):
    checkpoint, results, final = trained
    objective = gdsim.load(gdsim.load_weights(results).definition).runs[0].objective
    expected = objective.metrics(final, "test")
    for source in (checkpoint, results):
        report = gdsim.evaluate(source, split="test")
        assert report["metrics"] == expected and report["samples"] == 12
    shown = cli.invoke(main, ["evaluate", str(checkpoint), "--split", "validation"])
    assert shown.exit_code == 0
    assert "validation split (12 samples): loss" in shown.output and "accuracy" in shown.output
    as_json = json.loads(cli.invoke(main, ["evaluate", str(results), "--json"]).output)
    assert as_json["metrics"] == expected


def test_evaluate_reports_a_missing_split_cleanly(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, 'objective = "quartic"\n[[runs]]\nname = "r"\n')
    assert cli.invoke(main, ["run", str(scenario), "--out", "res", "-q"]).exit_code == 0
    result = cli.invoke(main, ["evaluate", "res", "--split", "test"])
    assert result.exit_code == 2 and "has no 'test' split" in result.output
    assert cli.invoke(main, ["evaluate", "res", "--split", "train"]).exit_code == 0


# --- expectations on metrics ---------------------------------------------------------------


def test_metric_expectations_pass_and_fail(tmp_path):
    def run(expect: str) -> gdsim.results.RunResult:
        runs = f'[[runs]]\nname = "r"\nsteps = 50\nrule = "adam"\n{expect}\n'
        return gdsim.run(mlp_scenario(tmp_path, runs=runs))[0]

    result = run('expect.metrics_below = { "train.loss" = 10.0 }')
    assert result.passed
    loss = result.spec.objective.metrics(result.final_params, "train")["loss"]
    assert not run(f'expect.metrics_below = {{ "train.loss" = {loss} }}').passed
    assert run(f'expect.metrics_above = {{ "test.accuracy" = 0.0, "train.loss" = {loss / 2} }}')
    assert not run('expect.metrics_above = { "validation.accuracy" = 1.0 }').passed


def test_metric_expectations_name_unknown_metrics(tmp_path):
    runs = '[[runs]]\nname = "r"\nexpect.metrics_above = { "test.acuracy" = 0.5 }\n'
    with pytest.raises(ScenarioError) as info:
        gdsim.load(mlp_scenario(tmp_path, runs=runs))
    assert 'runs[0].expect.metrics_above."test.acuracy"' in str(info.value)
    assert "test: accuracy, loss" in str(info.value)
