"""Results sent back as columns (``ResultColumns``) are the results that were sent, bit for bit."""

from __future__ import annotations

import pickle
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdsim import api
from gdsim.ensemble import identical
from gdsim.results import ResultColumns, RunResult
from gdsim.scenario import load_mapping

FIELDS = {
    "name",
    "status",
    "steps",
    "epochs",
    "final_params",
    "final_loss",
    "final_step",
    "seed",
    "stop_reason",
    "diverged_at",
    "elapsed",
    "expectations",
    "outputs",
    "spec",
    "error",
    "traceback",
}


def test_columns_cover_every_field_of_a_result() -> None:
    # a new RunResult field must be carried by ResultColumns (then added here)
    assert {f.name for f in attrs.fields(RunResult)} == FIELDS


def same(a: RunResult, b: RunResult) -> None:
    assert identical(a, b), (a.to_dict(), b.to_dict())
    for name in FIELDS - {"final_params", "outputs", "expectations"}:
        assert getattr(a, name) == getattr(b, name), name
        assert type(getattr(a, name)) is type(getattr(b, name)), name
    assert a.expectations == b.expectations
    assert a.final_params.keys() == b.final_params.keys()
    for k in a.final_params:
        x, y = a.final_params[k], b.final_params[k]
        assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes())
    assert a.outputs.keys() == b.outputs.keys()
    for key in a.outputs:
        ta, tb = a.outputs[key]["trace"], b.outputs[key]["trace"]
        assert {k: v.tobytes() for k, v in ta.items()} == {k: v.tobytes() for k, v in tb.items()}


@st.composite
def sweeps(draw: Any) -> tuple[dict[str, Any], list[int]]:
    mus = draw(st.lists(st.sampled_from([0.0, 0.5, 0.9]), min_size=1, max_size=3, unique=True))
    lrs = draw(st.lists(st.sampled_from([0.01, 0.1, 2.5]), min_size=1, max_size=2, unique=True))
    starts = draw(
        st.lists(st.sampled_from([-5.0, -1.0, 0.5, 3.0]), min_size=1, max_size=3, unique=True)
    )
    run: dict[str, Any] = {
        "name": "m",
        "rule": {"name": "momentum", "mu": {"values": mus}},
        "schedule": {"name": "constant", "lr": {"values": lrs}},
        "init": {"x": {"values": starts}},
        "steps": draw(st.integers(1, 40)),
    }
    if draw(st.booleans()):
        run["tolerance"] = {"grad_norm": 1e-3}
    if draw(st.booleans()):
        run["observers"] = [{"name": "recorder", "every": draw(st.integers(1, 7))}]
    if draw(st.booleans()):
        run["expect"] = {"loss_below": 0.0}
    runs = [run]
    if draw(st.booleans()):  # a plain run beside the sweep, with a two-coordinate parameter
        runs.append({"name": "plain", "objective": {"name": "rosenbrock"}, "steps": 5})
    raw = {"objective": {"name": "quartic"}, "defaults": {"allow_divergence": True}, "runs": runs}
    size = len(mus) * len(lrs) * len(starts) + (len(runs) - 1)
    failed = draw(st.lists(st.integers(0, size - 1), max_size=3, unique=True))
    return raw, failed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps())
def test_columns_give_back_the_same_results(case: tuple[dict[str, Any], list[int]]) -> None:
    raw, failed = case
    scenario = load_mapping(raw)
    runs = list(api.run(scenario).runs)
    for i in failed:  # runs that raised: no final values, an error and its traceback
        try:
            raise RuntimeError(f"member {i} failed")
        except RuntimeError as exc:
            runs[i] = RunResult.failed(runs[i].spec, exc)  # type: ignore[arg-type]
    columns = pickle.loads(pickle.dumps(ResultColumns.from_runs(runs)))
    assert len(columns) == len(runs)
    back = columns.runs(load_mapping(raw).runs)  # the receiver's own specs of the same runs
    assert len(back) == len(runs)
    for a, b in zip(runs, back, strict=True):
        same(a, b)


def test_an_empty_chunk_and_mixed_parameter_shapes() -> None:
    assert ResultColumns.from_runs([]).runs([]) == []
    raw = {
        "objective": {"name": "quartic"},
        "runs": [
            {"name": "q", "steps": 3},
            {"name": "r", "objective": {"name": "rosenbrock"}, "steps": 3},
        ],
    }
    scenario = load_mapping(raw)
    runs = api.run(scenario).runs
    columns = ResultColumns.from_runs(runs)
    assert columns.param_rows.tolist() == [True, False]  # the second travels as it is
    for a, b in zip(runs, columns.runs(scenario.runs), strict=True):
        same(a, b)
