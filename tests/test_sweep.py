"""Sweep syntax: expansion into named runs, validation per point, errors that name key paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim.cli import main
from gdsim.errors import ScenarioError
from gdsim.scenario import load_mapping
from gdsim.sweep import expand


def scenario(*runs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"objective": {"name": "quartic"}, "runs": list(runs), **extra}


def error_of(raw: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_mapping(raw, source="s.toml")
    return info.value


def test_cross_sweep_names_every_point_readably() -> None:
    raw = scenario(
        {
            "name": "momentum",
            "rule": {"name": "momentum", "mu": {"values": [0.0, 0.5, 0.9]}},
            "init": {"x": {"linspace": [-5, 5, 3]}},
        }
    )
    loaded = load_mapping(raw)
    names = [r.name for r in loaded.runs]
    assert names[:3] == ["momentum[mu=0,x=-5]", "momentum[mu=0,x=0]", "momentum[mu=0,x=5]"]
    assert "momentum[mu=0.9,x=-5]" in names and len(names) == 9
    spec = next(r for r in loaded.runs if r.name == "momentum[mu=0.5,x=5]")
    assert spec.rule.mu == 0.5 and float(spec.init["x"]) == 5.0
    (sweep,) = loaded.sweeps
    assert [a.label for a in sweep.axes] == ["mu", "x"]
    assert sweep.runs == tuple(names)


def test_zip_pairs_values_and_unswept_runs_keep_their_names() -> None:
    raw = scenario(
        {"name": "plain", "init": {"x": 1.0}},
        {
            "sweep": "zip",
            "init": {"x": {"values": [1.0, 2.0]}},
            "schedule": {"name": "constant", "lr": {"logspace": [0.01, 0.1, 2]}},
        },
        {"init": {"x": 2.0}},
    )
    names = [r.name for r in load_mapping(raw).runs]
    assert names == ["plain", "run1[x=1,lr=0.01]", "run1[x=2,lr=0.1]", "run2"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=3),
    st.sampled_from(["cross", "zip"]),
)
def test_point_count_is_the_product_or_the_common_length(sizes: list[int], mode: str) -> None:
    if mode == "zip":
        sizes = [sizes[0]] * len(sizes)
    keys = ["steps", "seed", "max_loss"][: len(sizes)]
    run: dict[str, Any] = {"sweep": mode}
    for key, n in zip(keys, sizes, strict=False):
        run[key] = {"values": [10 + i for i in range(n)]}
    (sweep,) = expand(scenario(run)).sweeps
    expected = int(np.prod(sizes)) if mode == "cross" else sizes[0]
    assert sweep.points.shape == (expected, len(sizes))
    assert len(set(sweep.runs)) == expected
    assert len(load_mapping(scenario(run)).runs) == expected


def test_random_draws_are_reproducible_from_their_seed() -> None:
    def draw(seed: int) -> list[float]:
        raw = scenario({"init": {"x": {"uniform": [-5, 5, 4], "seed": seed}}})
        return [float(r.init["x"]) for r in load_mapping(raw).runs]

    assert draw(3) == draw(3) and draw(3) != draw(4)
    assert all(-5 <= v <= 5 for v in draw(3))


@pytest.mark.parametrize(
    ("run", "path", "words"),
    [
        (
            {"rule": {"name": "momentum", "mu": {"linspace": [0, 1]}}},
            "runs[0].rule.mu.linspace",
            "expected [start, stop, count]",
        ),
        ({"init": {"x": {"linspace": [0, 1, 0]}}}, "runs[0].init.x.linspace[2]", "count >= 1"),
        ({"init": {"x": {"values": []}}}, "runs[0].init.x.values", "non-empty"),
        ({"init": {"x": {"logspace": [-3, -1, 3]}}}, "runs[0].init.x.logspace", "positive"),
        ({"init": {"x": {"values": [1, 2], "sed": 1}}}, "runs[0].init.x.sed", "unknown key"),
        ({"init": {"x": {"uniform": [0, 1, 3], "seed": -1}}}, "runs[0].init.x.seed", "seed"),
        ({"sweep": "zipp", "init": {"x": {"values": [1]}}}, "runs[0].sweep", "cross"),
        (
            {"sweep": "zip", "init": {"x": {"values": [1, 2]}}, "seed": {"values": [1]}},
            "runs[0].sweep",
            "equal length",
        ),
        ({"init": {"x": {"values": [1.0, 1.0]}}}, "runs[0].init.x.values", "twice"),
    ],
)
def test_sweep_syntax_errors_name_the_key_path(run: dict, path: str, words: str) -> None:
    exc = error_of(scenario(run))
    assert exc.path == path, str(exc)
    assert words in exc.message
    assert str(exc).startswith(f"s.toml: {path}: ")


def test_a_bad_point_is_reported_at_its_file_key_path() -> None:
    raw = scenario(
        {"name": "ok", "init": {"x": 1.0}},
        {"name": "m", "rule": {"name": "momentum", "mu": {"values": [0.5, 1.5]}}},
    )
    exc = error_of(raw)
    assert exc.path == "runs[1].rule.mu"
    assert "expected a number in [0, 1)" in exc.message and "m[mu=1.5]" in exc.message


def test_sweeps_in_defaults_are_rejected_with_their_path() -> None:
    raw = scenario({"init": {"x": 1.0}}, defaults={"steps": {"values": [1, 2]}})
    assert error_of(raw).path == "defaults.steps"


def test_cli_reports_sweep_errors_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[objective]\nname = "quartic"\n\n[[runs]]\ninit.x = 1.0\n\n[[runs]]\n'
        'rule = { name = "momentum", mu = { linspace = [0, 1] } }\n'
    )
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert "runs[1].rule.mu.linspace: expected [start, stop, count]" in result.output
