"""The command line: table, JSON, results folder, validate, describe, version, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import gdsim
from gdsim.cli import main
from tests.conftest import SCENARIOS, write_scenario

ESCAPE = str(SCENARIOS / "escape_local_min.toml")
LECTURE = {
    "gd_from_5": 3.2727653395584366,
    "gd_from_-5": -3.254993730859254,
    "momentum_0.1_from_5": 3.272765339558436,
    "momentum_0.9_from_-5": 3.267681061691328,
}


def test_run_prints_the_table_with_the_lectures_numbers(cli):
    result = cli.invoke(main, ["run", ESCAPE])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("run "))
    for column in ("status", "steps", "final params", "final loss", "expectations"):
        assert column in header
    for name, x in LECTURE.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert f"x = {x!r}" in row and "completed" in row and "ok" in row
    assert "6 of 6 runs met their expectations" in result.output


def test_run_json_carries_the_summary(cli):
    result = cli.invoke(main, ["run", ESCAPE, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    runs = {r["name"]: r for r in data["runs"]}
    for name, x in LECTURE.items():
        assert runs[name]["status"] == "completed"
        assert runs[name]["steps"] == 100
        assert abs(runs[name]["final"]["params"]["x"] - x) <= 1e-12 * abs(x)
        assert isinstance(runs[name]["final"]["loss"], float)
        assert all(e["passed"] for e in runs[name]["expectations"])


def test_run_out_writes_summary_and_traces(cli, tmp_path):
    out = tmp_path / "results"
    result = cli.invoke(main, ["run", ESCAPE, "--out", str(out)])
    assert result.exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 6
    trace_file = out / summary["runs"][0]["files"][0]
    rows = list(csv.DictReader(trace_file.open()))
    assert len(rows) == 101
    assert float(rows[-1]["params.x"]) == summary["runs"][0]["final"]["params"]["x"]
    assert not list(out.rglob("*.tmp"))


def test_failed_expectation_exits_1(cli, tmp_path):
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\ninit = { x = -5.0 }\n'
        "expect = { params = { x = 3.27 }, rtol = 1e-3 }\n",
    )
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 1
    assert "failed expectations:" in result.output and "a: params.x" in result.output


def test_unexpected_divergence_exits_1(cli, tmp_path):
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\n'
        'schedule = { name = "constant", lr = 10.0 }\n',
    )
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 1
    assert "diverged@" in result.output and "no_divergence" in result.output


def test_run_only_selected_runs_and_unknown_run_name(cli):
    result = cli.invoke(main, ["run", ESCAPE, "--run", "gd_from_5", "--json"])
    assert [r["name"] for r in json.loads(result.output)["runs"]] == ["gd_from_5"]
    bad = cli.invoke(main, ["run", ESCAPE, "--run", "gd_from5"])
    assert bad.exit_code == 2 and "did you mean 'gd_from_5'" in bad.output


def test_validate(cli):
    result = cli.invoke(main, ["validate", ESCAPE])
    assert result.exit_code == 0 and "ok (6 runs" in result.output


def test_version(cli):
    result = cli.invoke(main, ["--version"])
    assert result.exit_code == 0 and gdsim.__version__ in result.output


def test_describe_reads_the_declaration(cli):
    result = cli.invoke(main, ["describe", "rule", "momentum"])
    assert result.exit_code == 0
    assert "v ← μ v − α ∇f(x)" in result.output and "mu (float, default 0.9)" in result.output
    unknown = cli.invoke(main, ["describe", "rule", "momentun"])
    assert unknown.exit_code == 2 and "did you mean 'momentum'" in unknown.output


def test_every_shipped_scenario_validates(cli):
    for path in sorted(SCENARIOS.glob("*.toml")):
        result = cli.invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, (path, result.output)


def test_a_component_raising_is_one_line_not_a_traceback(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "gdsim.objectives.polynomial.Polynomial.value_and_grad",
        lambda self, params, batch=None: 1 / 0,
    )
    scenario = write_scenario(tmp_path, 'objective = "quartic"\n[[runs]]\nname = "a"\n')
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 1
    assert "a: no_error: expected no error, got ZeroDivisionError: division by zero" in (
        result.output
    )
    assert "set GDSIM_TRACEBACK=1 to see where" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("GDSIM_TRACEBACK", "1")
    result = cli.invoke(main, ["run", str(scenario)])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "1 / 0" in result.output


def test_an_observer_asking_for_a_missing_split_is_bad_input(cli, tmp_path):
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\n'
        'observers = [{ name = "diagnostics", splits = ["validation"] }]\n',
    )
    result = cli.invoke(main, ["validate", str(scenario)])
    assert result.exit_code == 2
    assert "runs[0].observers[0].splits: objective 'quartic' has no" in result.output
    assert "Traceback" not in result.output


def test_any_failure_while_loading_is_bad_input(cli, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 364. TiB")

    monkeypatch.setattr("gdsim.api.load", too_big)
    for command in ("run", "validate"):
        result = cli.invoke(main, [command, ESCAPE])
        assert result.exit_code == 2, command
        assert "cannot load the scenario: MemoryError" in result.output
        assert "Traceback" not in result.output


def test_resume_a_checkpoint_of_a_multi_axis_sweep(cli, tmp_path, monkeypatch):
    # axes expand in the order written; the checkpoint must keep that order to find its run
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(
        'objective = "quartic"\n[[runs]]\nname = "m"\nsteps = 30\n'
        'rule = { name = "momentum", mu = { values = [0.0, 0.9] } }\n'
        "init.x = { linspace = [-4, 4, 3] }\n"
        'observers = [{ name = "checkpoint", dir = "ck", every = 10 }]\n',
        encoding="utf-8",
    )
    full = cli.invoke(main, ["run", "s.toml", "--json"])
    assert full.exit_code == 0, full.output
    runs = json.loads(full.output)["runs"]
    # the sweep steps as one ensemble: one checkpoint folder holds all of its runs
    (folder,) = [p for p in (tmp_path / "ck").rglob("ensemble-*") if p.is_dir()]
    resumed = cli.invoke(main, ["resume", str(folder / "step-000000010.npz"), "--json"])
    assert resumed.exit_code == 0, resumed.output
    again = json.loads(resumed.output)["runs"]
    assert [r["name"] for r in again] == [r["name"] for r in runs]
    assert [r["final"] for r in again] == [r["final"] for r in runs]


def test_resume_says_what_continues_from_which_step(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(
        'objective = "quartic"\n[[runs]]\nname = "a"\nsteps = 30\nrule = "adam"\n'
        "init = { x = 5.0 }\n"
        'observers = [{ name = "checkpoint", dir = "ck", every = 10 }]\n'
        '[[runs]]\nname = "m"\nsteps = 30\ninit.x = { linspace = [-4, 4, 3] }\n'
        'observers = [{ name = "checkpoint", dir = "ck", every = 10 }]\n',
        encoding="utf-8",
    )
    assert cli.invoke(main, ["run", "s.toml"]).exit_code == 0
    (single,) = [
        p for p in (tmp_path / "ck").rglob("step-000000020.npz") if "ensemble" not in str(p)
    ]
    (many,) = [p for p in (tmp_path / "ck").rglob("step-000000010.npz") if "ensemble" in str(p)]
    resumed = cli.invoke(main, ["resume", str(single)])
    assert resumed.exit_code == 0
    assert resumed.stderr.splitlines()[0] == f"resuming run 'a' at step 20 from {single}"
    resumed = cli.invoke(main, ["run", "s.toml", "--resume", str(many)])
    assert resumed.exit_code == 0
    assert f"resuming 3 runs ('m[x=-4]', …) at step 10 from {many}" in resumed.stderr
    for quiet in (["-q"], ["--json"]):
        assert "resuming" not in cli.invoke(main, ["resume", str(single), *quiet]).stderr


def test_outcome_line_does_not_count_runs_without_expectations(cli, tmp_path):
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\n[[runs]]\nname = "b"\n'
        'expect = { status = "completed" }\n',
    )
    result = cli.invoke(main, ["run", str(scenario)])
    assert "1 of 1 runs with expectations met them; 1 run has none" in result.output
    scenario.write_text('objective = "quartic"\n[[runs]]\nname = "a"\n', encoding="utf-8")
    assert "no expectations to check (1 run)" in cli.invoke(main, ["run", str(scenario)]).output
    scenario.write_text(
        'objective = "quartic"\n[[runs]]\nname = "a"\n[[runs]]\nname = "b"\n', encoding="utf-8"
    )
    assert "no expectations to check (2 runs)" in cli.invoke(main, ["run", str(scenario)]).output


def test_run_names_that_look_alike_on_disk_get_their_own_files(cli, tmp_path):
    names = ["a/b", "a_b", "a b", "α", "β", "x" * 300]
    runs = "".join(
        f'[[runs]]\nname = "{n}"\nobservers = [{{ name = "recorder" }}]\n' for n in names
    )
    scenario = write_scenario(tmp_path, f'objective = "quartic"\n{runs}')
    out = tmp_path / "out"
    result = cli.invoke(main, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = [f for r in json.loads((out / "summary.json").read_text())["runs"] for f in r["files"]]
    assert len(set(files)) == len(files)  # nobody's trace overwrote another's
    assert len({Path(f).stem for f in files}) == len(names)
    assert all(len(Path(f).name) < 100 for f in files)


def test_a_byte_order_mark_is_accepted(cli, tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_bytes(b'\xef\xbb\xbfobjective = "quartic"\n[[runs]]\nname = "a"\n')
    assert cli.invoke(main, ["validate", str(scenario)]).exit_code == 0


def test_run_json_final_carries_the_last_recorded_split_metrics(cli):
    """`final.recorded`: the diagnostics' last validation numbers, with their step."""
    result = cli.invoke(
        main, ["run", str(SCENARIOS / "sgd_vs_minibatch.toml"), "--run", "minibatch_128", "--json"]
    )
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)["runs"]
    final = run["final"]
    assert {"step", "params", "loss"} <= set(final)
    recorded = final["recorded"]
    assert recorded["step"] == 130
    assert recorded["train.loss"] == final["loss"]
    assert 0.0 < recorded["validation.loss"] < 0.35
    assert 0.8 < recorded["validation.accuracy"] <= 1.0


def test_run_json_final_has_no_recorded_without_split_metrics(cli):
    result = cli.invoke(main, ["run", ESCAPE, "--run", "gd_from_5", "--json"])
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.output)["runs"]
    assert "recorded" not in run["final"]


def _error_line(result) -> str:
    """The whole output of a bad-input exit: one `error: …` line, no usage block."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Usage:" not in result.output and "Traceback" not in result.output
    return lines[0]


def test_click_usage_errors_are_one_line_with_a_suggestion(cli, tmp_path):
    executor = _error_line(cli.invoke(main, ["run", ESCAPE, "--executor", "proces"]))
    assert "'--executor'" in executor and "(did you mean 'process'?)" in executor
    assert executor.index("did you mean") < executor.index("expected one of")
    kind = _error_line(cli.invoke(main, ["describe", "rul", "adam"]))
    assert "'KIND'" in kind and "(did you mean 'rule'?)" in kind
    folder = _error_line(cli.invoke(main, ["run", str(SCENARIOS)]))
    assert "is a folder; expected a scenario file" in folder and "escape_local_min.toml" in folder
    a_file = tmp_path / "f.txt"
    a_file.write_text("x", encoding="utf-8")
    out = _error_line(cli.invoke(main, ["run", ESCAPE, "--out", str(a_file)]))
    assert "'--out'" in out and "is a file" in out
    command = _error_line(cli.invoke(main, ["rnu", ESCAPE]))
    assert "no such command 'rnu' (did you mean 'run'?)" in command


def test_did_you_mean_comes_before_the_known_names_everywhere(cli):
    rule = _error_line(cli.invoke(main, ["describe", "rule", "adma"]))
    assert rule.index("(did you mean 'adam'?)") < rule.index("(known: ")
    run = _error_line(cli.invoke(main, ["run", ESCAPE, "--run", "gd_from5"]))
    assert run.index("(did you mean 'gd_from_5'?)") < run.index("(runs: ")


def test_a_name_that_begins_known_names_suggests_them(cli, tmp_path):
    path = write_scenario(
        tmp_path,
        '[objective]\nname = "mlp"\nhidden = [4]\ninitializer = "he"\n'
        '[objective.data]\nname = "moons"\n[[runs]]\nname = "a"\nsteps = 2\n',
    )
    line = _error_line(cli.invoke(main, ["run", str(path)]))
    assert "objective.initializer" in line and str(path) in line
    assert "(did you mean 'he_normal'?)" in line and "he_uniform" in line
    assert line.index("did you mean") < line.index("(known: ")


def test_resume_given_a_scenario_says_it_wants_a_checkpoint(cli):
    line = _error_line(cli.invoke(main, ["resume", ESCAPE]))
    assert "expected a checkpoint (a step-*.npz file or a run's checkpoint folder)" in line
    assert f"gdsim run {ESCAPE} runs a scenario" in line


def test_plot_of_a_missing_folder_says_it_does_not_exist(cli, tmp_path):
    line = _error_line(cli.invoke(main, ["plot", str(tmp_path / "nonexist")]))
    assert "no such folder" in line and "summary.json" not in line


def test_multi_run_results_hint_only_what_applies(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\nsteps = 3\n[[runs]]\nname = "b"\nsteps = 4\n',
    )
    assert cli.invoke(main, ["run", str(source), "--out", "res"]).exit_code == 0
    start = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "c"\nsteps = 1\ninit = { from = "res" }\n',
        "start.toml",
    )
    line = _error_line(cli.invoke(main, ["run", str(start)]))
    assert 'init = { from = "res", run = "NAME" }' in line and "--run" not in line
    evaluated = cli.invoke(main, ["evaluate", "res"])
    assert evaluated.exit_code == 2 and "(--run NAME)" in evaluated.output
    assert "init =" not in evaluated.output


def test_a_run_starting_from_weights_another_run_saves_names_that_run(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = str(SCENARIOS / "early_stopping.toml")
    line = _error_line(cli.invoke(main, ["run", scenario, "--run", "reloaded"]))
    assert "runs[2].init.from" in line and "no such file or folder yet" in line
    assert "run 'early_stopping' of this scenario saves it" in line
    assert "--run early_stopping --run reloaded" in line


def test_a_run_outside_the_scenarios_sweep_reports_without_it(cli, tmp_path):
    """--run (or resuming one run) leaves a sweep with no runs: no summary of it, no crash."""
    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "a"\nrule = "adam"\n'
        '[[runs]]\nname = "m"\ninit.x = { linspace = [-4, 4, 3] }\n',
    )
    shown = cli.invoke(main, ["run", str(scenario), "--run", "a", "--out", str(tmp_path / "o")])
    assert shown.exit_code == 0, shown.output
    assert "sweep m" not in shown.stdout
    assert json.loads((tmp_path / "o" / "sweeps.json").read_text()) == []
    as_json = cli.invoke(main, ["run", str(scenario), "--run", "a", "--json"])
    assert json.loads(as_json.stdout)["sweeps"] == []
    everything = cli.invoke(main, ["run", str(scenario), "--json"])
    assert [s["name"] for s in json.loads(everything.stdout)["sweeps"]] == ["m"]


def test_plot_without_traces_says_why_nothing_was_drawn(cli, tmp_path):
    pytest.importorskip("matplotlib")
    scenario = write_scenario(tmp_path, 'objective = "quartic"\n[[runs]]\nname = "a"\n')
    result = cli.invoke(main, ["run", str(scenario), "--out", str(tmp_path / "o"), "--plot"])
    assert result.exit_code == 0, result.output
    assert 'no plots drawn: no run recorded a trace to draw (add observers = ["recorder"]' in (
        result.stdout
    )
