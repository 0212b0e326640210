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
