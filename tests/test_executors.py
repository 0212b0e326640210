"""Every executor gives the same results, bit for bit, as the in-process vectorised one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import gdsim
from gdsim import api
from gdsim.ensemble import identical
from gdsim.executors import ExecutorError, Progress, chunks, execute
from gdsim.scenario import load_mapping

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def assert_same(results: list[Any], reference: list[Any]) -> None:
    assert len(results) == len(reference)
    for a, b in zip(results, reference, strict=True):
        assert identical(a, b), (a.to_dict(), b.to_dict())


RAW: dict[str, Any] = {
    "objective": {"name": "quartic"},
    "defaults": {"steps": 40, "allow_divergence": True},
    "runs": [
        {  # vectorisable: a sweep, some members diverge
            "name": "m",
            "rule": {"name": "momentum", "mu": {"values": [0.0, 0.9]}},
            "schedule": {"name": "constant", "lr": {"values": [0.1, 2.5]}},
            "init": {"x": {"linspace": [-5, 5, 5]}},
        },
        {  # not vectorisable: observers (its trace must come back too)
            "name": "traced",
            "init": {"x": {"values": [-5.0, 5.0]}},
            "observers": [{"name": "recorder"}],
        },
    ],
}


def reference() -> tuple[Any, list[Any]]:
    scenario = load_mapping(RAW)
    return scenario, api.run(scenario).runs


def same_outputs(a: list[Any], b: list[Any]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.outputs.keys() == y.outputs.keys()
        for key in x.outputs:
            tx, ty = x.outputs[key]["trace"], y.outputs[key]["trace"]
            assert {k: v.tobytes() for k, v in tx.items()} == {
                k: v.tobytes() for k, v in ty.items()
            }


def test_chunks_keep_order_and_cover_everything() -> None:
    items = list(range(23))
    pieces = chunks(items, 5)
    assert [i for p in pieces for i in p] == items and len(pieces) == 5
    assert chunks([1], 8) == [[1]]


def test_process_pool_gives_the_same_results() -> None:
    scenario, ref = reference()
    got = execute(scenario.runs, executor="process", workers=2)
    assert_same(got, ref)
    same_outputs(got, ref)


def test_dask_gives_the_same_results() -> None:
    distributed = pytest.importorskip("distributed")
    scenario, ref = reference()
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = execute(scenario.runs, executor="dask", client=client, workers=2)
        by_address = execute(
            scenario.runs, executor="dask", scheduler=cluster.scheduler_address, workers=3
        )
    assert_same(got, ref)
    same_outputs(got, ref)
    assert_same(by_address, ref)


def test_bad_executor_options_are_input_errors() -> None:
    scenario, _ = reference()
    with pytest.raises(ExecutorError):
        execute(scenario.runs, executor="threads")
    with pytest.raises(ExecutorError):
        execute(scenario.runs, executor="process", workers=0)


def test_progress_draws_only_on_a_terminal() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, loud = io.StringIO(), Tty()
    for stream in (quiet, loud):
        progress = Progress(3, stream=stream)
        progress(1)
        progress(2)
        progress.close()
    assert quiet.getvalue() == ""
    assert "3/3 runs done" in loud.getvalue() and loud.getvalue().endswith("\n")


def test_cli_executors_print_the_same_json(tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from gdsim.cli import main

    path = tmp_path / "s.toml"
    path.write_text(
        '[objective]\nname = "quartic"\n\n[[runs]]\nname = "m"\nsteps = 30\n'
        'rule = { name = "momentum", mu = { values = [0.0, 0.9] } }\n'
        "init.x = { linspace = [-5, 5, 4] }\n"
    )
    runner = CliRunner()
    outputs = [
        runner.invoke(main, ["run", str(path), "--json", *extra])
        for extra in ([], ["--executor", "process", "--workers", "2"])
    ]
    assert [o.exit_code for o in outputs] == [0, 0]
    default, pool = (json.loads(o.output) for o in outputs)
    assert default == pool and len(default["runs"]) == 8 and default["sweeps"]
    bad = runner.invoke(main, ["run", str(path), "--executor", "process", "--workers", "0"])
    assert bad.exit_code == 2


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_can_be_sent_to_a_worker(path: Path) -> None:
    # the process pool and Dask pickle the run specifications
    import pickle

    specs = gdsim.load(path).runs
    restored = pickle.loads(pickle.dumps(specs))
    assert [s.name for s in restored] == [s.name for s in specs]
