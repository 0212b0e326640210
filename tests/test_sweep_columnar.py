"""Columnar sweeps: validated by axis and made when read, they give the runs (and the errors)
that validating every point as a run of its own gives."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdsim.errors import ScenarioError
from gdsim.runs import SweepRuns
from gdsim.scenario import RunSpec, load_mapping
from gdsim.sweep import _texts

AXES: dict[str, list[Any]] = {
    # key path: candidate values, some of them invalid
    "rule.mu": [0.0, 0.5, 0.9, 1.5, -0.1],
    "schedule.lr": [0.01, 0.1, 0.0, -1.0, "fast"],
    "init.x": [-5.0, 0.5, 3, 5.0, "far", [1.0, 2.0]],
    "steps": [1, 5, 20, 0, 2.5],
    "seed": [0, 3, -1],
    "max_loss": [1e3, 1e100, 0.0],
    "tolerance.grad_norm": [1e-3, 0.0, -1.0],
    "tolerance.step_size": [1e-6, 1e-2],
}


def put(table: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        table = table.setdefault(key, {})
    table[keys[-1]] = value


def base_run() -> dict[str, Any]:
    return {"name": "s", "rule": {"name": "momentum", "mu": 0.9}, "steps": 10}


@st.composite
def sweeps(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, list[Any]]], str]:
    paths = draw(st.lists(st.sampled_from(sorted(AXES)), min_size=1, max_size=3, unique=True))
    mode = draw(st.sampled_from(["cross", "zip"]))
    length = draw(st.integers(1, 2))  # every pool has at least two values
    axes = []
    for path in paths:
        pool = AXES[path]
        count = length if mode == "zip" else draw(st.integers(1, min(3, len(pool))))
        picks = draw(
            st.lists(st.sampled_from(range(len(pool))), min_size=count, max_size=count, unique=True)
        )
        axes.append((path, [pool[i] for i in picks]))
    run = base_run()
    for path, values in axes:
        put(run, path, {"values": values})
    run["sweep"] = mode
    raw = {"objective": {"name": "quartic"}, "runs": [{"name": "plain"}, run]}
    order = [path for path in _document_order(run) if path in dict(axes)]
    return raw, sorted(axes, key=lambda axis: order.index(axis[0])), mode


def _document_order(table: dict[str, Any], prefix: str = "") -> list[str]:
    """Key paths in the order they are written (the order a sweep's axes take)."""
    paths = []
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_document_order(value, path))
    return paths


def point_by_point(axes: list[tuple[str, list[Any]]], mode: str) -> list[dict[str, Any]]:
    """The runs the sweep stands for, each written out by hand."""
    labels = [path.split(".")[-1] for path, _ in axes]
    if len(set(labels)) < len(labels):
        labels = [path for path, _ in axes]
    texts = [_texts(values) for _, values in axes]
    if mode == "zip":
        points = [tuple(j for _ in axes) for j in range(len(axes[0][1]))]
    else:
        points = list(itertools.product(*(range(len(v)) for _, v in axes)))
    runs = []
    for point in points:
        run = base_run()
        for (path, values), j in zip(axes, point, strict=True):
            put(run, path, values[j])
        label = ",".join(f"{lab}={t[j]}" for lab, t, j in zip(labels, texts, point, strict=True))
        run["name"] = f"s[{label}]"
        runs.append(run)
    return runs


def error(raw: dict[str, Any]) -> tuple[str | None, str] | None:
    try:
        load_mapping(raw, source="s.toml")
    except ScenarioError as exc:
        return exc.path, exc.message.split(" (in sweep point")[0]
    return None


def same_spec(a: RunSpec, b: RunSpec) -> bool:
    fields = ("name", "objective", "estimator", "rule", "schedule", "transforms", "observers")
    fields += ("steps", "seed", "tolerance", "max_loss", "allow_divergence", "expect")
    if any(getattr(a, f) != getattr(b, f) for f in fields):
        return False
    return a.init.keys() == b.init.keys() and all(
        a.init[k].shape == b.init[k].shape and a.init[k].tobytes() == b.init[k].tobytes()
        for k in a.init
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps())
def test_columnar_sweeps_equal_their_points_validated_one_by_one(case: Any) -> None:
    raw, axes, mode = case
    runs = point_by_point(axes, mode)
    errors = [error({"objective": {"name": "quartic"}, "runs": [run]}) for run in runs]
    errors = [(path.replace("runs[0]", "runs[1]"), msg) for path, msg in filter(None, errors)]
    got = error(raw)
    if errors:
        assert got is not None and got in errors, (got, errors)
        return
    assert got is None
    loaded = load_mapping(raw, source="s.toml").runs
    expected = load_mapping({"objective": {"name": "quartic"}, "runs": [{"name": "plain"}, *runs]})
    assert len(loaded) == len(expected.runs)
    for a, b in zip(loaded, expected.runs, strict=True):
        assert same_spec(a, b), (a, b)


def test_a_million_points_cost_columns_not_runs() -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "m",
                "rule": {"name": "momentum", "mu": {"linspace": [0.0, 0.99, 100]}},
                "init": {"x": {"linspace": [-5, 5, 10_000]}},
            }
        ],
    }
    loaded = load_mapping(raw)
    (swept,) = loaded.runs.items  # type: ignore[attr-defined]
    assert isinstance(swept, SweepRuns) and len(loaded.runs) == 1_000_000
    assert swept.parts[0].built.keys() == {(j,) for j in range(100)}  # type: ignore[attr-defined]
    last = loaded.runs[-1]
    assert last.name == "m[mu=0.99,x=5]" and last.rule.mu == 0.99
    assert float(last.init["x"]) == 5.0
    assert loaded.sweeps[0].points.dtype == np.int64


@pytest.mark.parametrize("count", [1, 2, 3, 7, 50])
def test_pieces_for_workers_cover_the_runs_in_order(count: int) -> None:
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "a", "init": {"x": 1.0}},
            {"name": "s", "init": {"x": {"linspace": [-2, 2, 5]}}, "steps": {"values": [3, 4]}},
            {"name": "b", "init": {"x": 2.0}},
            {"name": "t", "rule": {"name": "momentum", "mu": {"values": [0.1, 0.5, 0.9]}}},
        ],
    }
    runs = load_mapping(raw).runs
    pieces = runs.pieces(count)  # type: ignore[attr-defined]
    assert len(pieces) == min(count, len(runs))
    assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
    made = [spec for piece in pieces for spec in pickle.loads(pickle.dumps(piece))]
    assert [s.name for s in made] == [s.name for s in runs]
    assert all(same_spec(a, b) for a, b in zip(made, runs, strict=True))
