"""The sweep summary works on columns: its classes and statistics equal per-run recomputation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gdsim import api
from gdsim.summary import DIVERGED, classify, collect, summarise_sweep


def himmelblau(lrs: list[float]) -> dict[str, Any]:
    return {
        "objective": {"name": "himmelblau"},
        "runs": [
            {
                "name": "h",
                "steps": 60,
                "schedule": {"name": "constant", "lr": {"values": lrs}},
                "init": {"x": [{"linspace": [-5, 5, 6]}, {"values": [-4.0, 0.0, 4.0]}]},
                "tolerance": {"grad_norm": 1e-3},
                "allow_divergence": True,
            },
            {"name": "plain", "init": {"x": [1.0, 1.0]}, "allow_divergence": True},
        ],
    }


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("only", [None, ["h[lr=0.01,x[0]=-5,x[1]=0]", "plain"]])
def test_columns_classify_and_count_as_each_run_alone(only: list[str] | None) -> None:
    results = api.run(himmelblau([0.001, 0.01, 0.05, 0.3]), only=only)
    (sweep,) = results.scenario.sweeps
    matched = collect(results, sweep)
    by_name = {r.name: r for r in results.runs}
    runs = [by_name.get(name) for name in sweep.runs]
    assert [r is not None for r in runs] == matched.present.tolist()
    minima = list(matched.minima)
    expected = [classify(r, minima, sweep.tol) for r in runs if r is not None]
    assert matched.classes[matched.present].tolist() == expected
    present = [r for r in runs if r is not None]
    overall = summarise_sweep(results, sweep)["overall"]
    assert overall["runs"] == len(present)
    assert overall["diverged_rate"] == sum(c == DIVERGED for c in expected) / len(present)
    losses = [r.final_loss for r in present if r.status != "diverged" and r.final_loss is not None]
    if losses:
        assert overall["final_loss"]["mean"] == float(np.mean(np.array(losses)))
    converged = [r.steps for r in present if r.status == "converged"]
    assert overall["converged"] == len(converged)
