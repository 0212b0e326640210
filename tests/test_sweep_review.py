"""Sweep fixes from review: categorical and unsorted basin maps, per-run minima, name sweeps,
file indices in duplicate-name errors, point limits, and run-key hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from gdsim import api
from gdsim import sweep as sweep_module
from gdsim.basin import basin_grid, format_basin_map, plot_basin_map
from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.scenario import load_mapping
from gdsim.summary import classify, summarise


def error_of(raw: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_mapping(raw, source="s.toml")
    return info.value


def quartic(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"objective": {"name": "quartic"}, "runs": list(runs)}


class MeshSpy:
    """Records the arguments of ``Axes.pcolormesh`` and the tick labels set on the axes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from matplotlib.axes import Axes

        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.yticks: list[str] = []
        real_mesh, real_yticks = Axes.pcolormesh, Axes.set_yticks

        def mesh(ax: Any, x: Any, y: Any, c: Any, **kw: Any) -> Any:
            self.calls.append((np.asarray(x), np.asarray(y), np.asarray(c)))
            return real_mesh(ax, x, y, c, **kw)

        def yticks(ax: Any, ticks: Any, labels: Any = None, **kw: Any) -> Any:
            self.yticks = list(labels or [])
            return real_yticks(ax, ticks, labels, **kw)

        monkeypatch.setattr(Axes, "pcolormesh", mesh)
        monkeypatch.setattr(Axes, "set_yticks", yticks)


def assert_every_cell_drawn(x: np.ndarray, y: np.ndarray, image: np.ndarray, grid: Any) -> None:
    assert image.shape == (len(y) - 1, len(x) - 1) == grid.codes.shape
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0)  # no cell folded away
    cols = np.asarray(grid.columns.values, dtype=float)
    assert np.all((x[:-1] < cols) & (cols < x[1:]))  # each value inside its own cell


# 1 -- categorical axis ----------------------------------------------------------------------


def test_out_draws_a_categorical_axis_with_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    spy = MeshSpy(monkeypatch)
    path = tmp_path / "strax.toml"
    path.write_text(
        '[objective]\nname = "quartic"\n[[runs]]\nname = "r"\nsteps = 50\n'
        'rule = { values = ["gd", { name = "momentum", mu = 0.9 }] }\n'
        "init.x = { linspace = [-4, 4, 9] }\n"
    )
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "basin_r.png").stat().st_size > 0
    ((_, y, image),) = spy.calls
    assert list(y) == [-0.5, 0.5, 1.5] and spy.yticks == ["gd", "momentum"]
    assert image.shape == (2, 9)
    assert "rule=momentum |" in result.output


def test_values_near_the_float_range_fall_back_to_labelled_positions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    spy = MeshSpy(monkeypatch)
    results = api.run(
        quartic(
            {
                "name": "b",
                "steps": 10,
                "max_loss": {"values": [1.7e308, 1e308]},
                "init": {"x": {"values": [-4, 4]}},
            }
        )
    )
    grid = basin_grid(results, results.scenario.sweeps[0])
    assert grid is not None
    plot_basin_map(grid, tmp_path / "b.png")
    ((_, y, _),) = spy.calls
    assert list(y) == [-0.5, 0.5, 1.5] and spy.yticks == ["1e+308", "1.7e+308"]


# 2 -- unsorted values -----------------------------------------------------------------------


def test_unsorted_axes_are_sorted_in_the_grid_and_text_map() -> None:
    results = api.run(
        quartic(
            {
                "name": "u",
                "steps": 100,
                "rule": {"name": "momentum", "mu": {"values": [0.9, 0.0, 0.5]}},
                "init": {"x": {"values": [3, -4, 0, 1]}},
            }
        )
    )
    (sweep,) = results.scenario.sweeps
    grid = basin_grid(results, sweep)
    assert grid is not None
    assert grid.rows.values == (0.0, 0.5, 0.9) and grid.rows.texts == ("0", "0.5", "0.9")
    assert grid.columns.values == (-4, 0, 1, 3)
    by_name = {r.name: r for r in results.runs}
    minima = list(grid.minima)
    for r, mu in enumerate(grid.rows.texts):
        for c, x in enumerate(grid.columns.texts):
            run = by_name[f"u[mu={mu},x={x}]"]
            assert grid.codes[r, c] == classify(run, minima, sweep.tol)
    assert len(set(grid.codes.ravel().tolist())) > 1  # the cells differ: the check can fail
    lines = format_basin_map(grid).splitlines()
    assert "columns x from -4 to 3" in lines[0]
    assert lines[1].strip().startswith("mu=0.9 |") and lines[3].strip().startswith("mu=0 |")


def test_random_draws_keep_every_cell_in_the_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    spy = MeshSpy(monkeypatch)
    results = api.run(
        quartic(
            {
                "name": "rnd",
                "steps": 20,
                "rule": {"name": "momentum", "mu": {"uniform": [0.0, 0.95, 5], "seed": 3}},
                "init": {"x": {"normal": [0.0, 3.0, 12], "seed": 4}},
            }
        )
    )
    (sweep,) = results.scenario.sweeps
    grid = basin_grid(results, sweep)
    assert grid is not None
    plot_basin_map(grid, tmp_path / "b.png")
    ((x, y, image),) = spy.calls
    assert_every_cell_drawn(x, y, image, grid)
    rows = np.asarray(grid.rows.values, dtype=float)
    assert np.all((y[:-1] < rows) & (rows < y[1:]))
    assert not np.isnan(image).any()  # every run present and coloured


# 3 -- per-run minima ------------------------------------------------------------------------


def test_each_run_is_classified_with_its_own_objective() -> None:
    results = api.run(
        {
            "objective": {"name": "rosenbrock"},
            "runs": [
                {
                    "name": "r",
                    "steps": 20000,
                    "schedule": {"name": "constant", "lr": 0.001},
                    "rule": {"name": "momentum", "mu": 0.9},
                    "objective": {"a": {"values": [1.0, 2.0]}},
                    "init": {"x": [{"values": [-1.0, 0.5]}, 1.0]},
                }
            ],
        }
    )
    (summary,) = summarise(results)
    a_axis = next(a for a in summary["axes"] if a["label"] == "a")
    assert [row["success_rate"] for row in a_axis["rows"]] == [1.0, 1.0]
    assert summary["overall"]["success_rate"] == 1.0
    positions = sorted(tuple(m["params"]["x"]) for m in summary["minima"])
    assert positions == [(1.0, 1.0), (2.0, 4.0)]


# 4 -- sweeps in name ------------------------------------------------------------------------


def test_a_swept_name_is_an_error_at_its_key_path() -> None:
    exc = error_of(
        quartic({"name": {"values": ["a", "b"]}, "init": {"x": {"linspace": [1, 2, 3]}}})
    )
    assert exc.path == "runs[0].name"
    assert "cannot be swept" in exc.message and "named automatically" in exc.message
    exc = error_of(quartic({"steps": 5}, {"name": {"values": ["a", "b"]}}))  # nothing else swept
    assert exc.path == "runs[1].name" and "cannot be swept" in exc.message


# 5 -- duplicate names -----------------------------------------------------------------------


def test_duplicate_names_refer_to_the_file_runs_and_their_points() -> None:
    exc = error_of(
        quartic(
            {"steps": 10, "init": {"x": {"linspace": [1, 2, 3]}}},
            {"name": "x", "init": {"x": {"values": [5, 6]}}},
            {"name": "x", "init": {"x": {"values": [5, 6]}}},
        )
    )
    assert exc.path == "runs[2].name"
    assert "already used by sweep point 'x[x=5]' of runs[1]" in exc.message
    assert "runs[3]" not in str(exc) and "(in sweep point 'x[x=5]')" in exc.message


def test_duplicate_of_a_plain_run_names_the_file_index() -> None:
    exc = error_of(
        quartic(
            {"steps": 10, "init": {"x": {"linspace": [1, 2, 3]}}},
            {"name": "p[x=5]"},
            {"name": "p", "init": {"x": {"values": [5, 6]}}},
        )
    )
    assert exc.path == "runs[2].name"
    assert "already used by runs[1])" in exc.message


# 6 -- limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linspace", "logspace", "uniform", "normal", "loguniform"])
def test_a_huge_count_is_a_key_path_error(kind: str) -> None:
    exc = error_of(quartic({"init": {"x": {kind: [1, 2, 100_000_000_000]}}}))
    assert exc.path == f"runs[0].init.x.{kind}[2]"
    assert "100000000000" in exc.message and str(sweep_module.MAX_POINTS) in exc.message


def test_a_huge_cross_product_is_a_key_path_error() -> None:
    n = 1001
    exc = error_of(
        quartic(
            {
                "rule": {"name": "momentum", "mu": {"uniform": [0.0, 0.9, n]}},
                "init": {"x": {"linspace": [-5, 5, n]}},
            }
        )
    )
    assert exc.path == "runs[0]"
    assert str(n * n) in exc.message and str(sweep_module.MAX_POINTS) in exc.message


def test_the_limit_itself_is_allowed_for_one_axis() -> None:
    from gdsim.sweep import _generate

    assert len(_generate({"linspace": [0, 1, sweep_module.MAX_POINTS]}, "p", "s.toml")) == (
        sweep_module.MAX_POINTS
    )


# 7 -- run keys ------------------------------------------------------------------------------


def test_unknown_run_key_lists_sweep_among_the_allowed() -> None:
    exc = error_of(quartic({"stesp": 3}))
    assert "sweep" in exc.message.split("expected one of:")[1]


@pytest.mark.parametrize("key", ["lr", "learning_rate", "alpha"])
def test_a_run_level_learning_rate_gets_a_hint(key: str) -> None:
    exc = error_of(quartic({key: 0.1}))
    assert exc.path == f"runs[0].{key}"
    assert (
        'the learning rate belongs to the schedule: schedule = { name = "constant", lr = 0.1 }'
        in exc.message
    )
    exc = error_of({**quartic({"steps": 5}), "defaults": {key: 0.05}})
    assert exc.path == f"defaults.{key}" and "lr = 0.05 }" in exc.message
