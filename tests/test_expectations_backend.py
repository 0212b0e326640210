"""Recorded values are checked no tighter than the backend in force promises: ``rtol = 0``
asks numpy for exact bits and the compiled backend for its documented 1e-12."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import gdsim
from gdsim import backends
from tests.conftest import quartic_run


def final_x(backend: str) -> float:
    run = gdsim.run(quartic_run(name="a", init={"x": -5.0}), backend=backend)["a"]
    return float(run.final_params["x"][()])


def expecting(x: float, backend: str) -> Any:
    scenario = quartic_run(
        name="a", init={"x": -5.0}, expect={"params": {"x": x}, "rtol": 0, "atol": 0}
    )
    return gdsim.run(scenario, backend=backend)["a"]


def test_numpy_promises_exact_bits() -> None:
    x = final_x("numpy")
    assert backends.promised_rtol("numpy") == 0.0
    assert expecting(x, "numpy").passed
    missed = expecting(float(np.nextafter(x, np.inf)), "numpy")
    assert not missed.passed
    (outcome,) = [o for o in missed.expectations if o.name == "params.x"]
    assert outcome.detail == "rtol=0, atol=0"


def test_jax_checks_exact_expectations_at_its_promise() -> None:
    pytest.importorskip("jax")
    x = final_x("numpy")
    one_ulp = expecting(float(np.nextafter(x, np.inf)), "jax")
    assert one_ulp.passed
    (outcome,) = [o for o in one_ulp.expectations if o.name == "params.x"]
    assert "the jax backend promises agreement to 1e-12" in outcome.detail
    assert "rtol=0 the scenario asks" in outcome.detail
    assert not expecting(x * (1 + 1e-11), "jax").passed  # the promise, no looser


def test_the_table_notes_values_checked_at_the_promise() -> None:
    pytest.importorskip("jax")
    from click.testing import CliRunner

    from gdsim.cli import main
    from tests.conftest import SCENARIOS

    path = str(SCENARIOS / "lr_schedules.toml")
    on_jax = CliRunner().invoke(main, ["run", path, "--backend", "jax"])
    on_numpy = CliRunner().invoke(main, ["run", path])
    assert on_jax.exit_code == on_numpy.exit_code == 0
    assert "note: 6 expected values were checked to 1e-12 relative" in on_jax.stdout
    assert "note:" not in on_numpy.stdout


def test_a_resumed_ensemble_is_checked_at_the_backends_promise(tmp_path) -> None:
    """Resuming an ensemble on JAX checks its exact expectations as the fresh run did."""
    pytest.importorskip("jax")
    from gdsim import checkpoint

    starts = [(-5.0, 0.9), (5.0, 0.5), (2.0, 0.95), (-1.0, 0.2)]
    runs = [
        {"name": f"m{i}", "init": {"x": x}, "rule": {"name": "momentum", "mu": mu}}
        for i, (x, mu) in enumerate(starts)
    ]
    base = {"objective": "quartic", "defaults": {"steps": 60}, "runs": runs}
    for run, done in zip(runs, gdsim.run(base).runs, strict=True):  # numpy's exact bits
        x = float(done.final_params["x"][()])
        run["expect"] = {"params": {"x": x}, "rtol": 0, "atol": 0}
    saving = {"name": "checkpoint", "every": 10, "dir": str(tmp_path)}
    on_jax = dict(base, backend="jax", defaults={"steps": 60, "observers": [saving]})
    fresh = gdsim.run(on_jax)
    (folder,) = [f for f in tmp_path.glob("*/ensemble-*") if f.is_dir()]
    resumed = gdsim.resume(checkpoint.checkpoint_files(folder)[2][1])
    assert [r.passed for r in resumed.runs] == [r.passed for r in fresh.runs] == [True] * 4
    details = {o.detail for r in resumed.runs for o in r.expectations if o.name == "params.x"}
    assert details == {
        "rtol=1e-12, atol=0: the jax backend promises agreement to 1e-12, not "
        "the rtol=0 the scenario asks"
    }
