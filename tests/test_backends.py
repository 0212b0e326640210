"""The backend registry and the ``backend`` key, with or without JAX installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gdsim.backends import BackendError, available, current, get_backend, using_backend
from gdsim.errors import ScenarioError
from gdsim.scenario import load_mapping

SCENARIO = {"objective": "quartic", "runs": [{"name": "a"}]}


def test_numpy_is_the_default_and_always_there() -> None:
    assert current() == "numpy" and get_backend().name == "numpy"
    assert "numpy" in available()


def test_an_unknown_backend_is_refused_with_a_hint() -> None:
    with pytest.raises(BackendError, match="did you mean 'jax'"):
        get_backend("jaxx")


def test_jax_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gdsim.backends.jax_backend", None)
    with pytest.raises(BackendError, match=r'pip install "gdsim\[jax\]"'):
        get_backend("jax")
    with pytest.raises(BackendError), using_backend("jax"):
        pass


@pytest.mark.parametrize("where", ["top", "scenario"])
def test_the_backend_key(where: str) -> None:
    raw = dict(SCENARIO)
    if where == "top":
        raw["backend"] = "numpy"
    else:
        raw["scenario"] = {"backend": "numpy"}
    assert load_mapping(raw).backend == "numpy"
    assert load_mapping(SCENARIO).backend == "numpy"


def test_a_misspelt_backend_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError) as info:
        load_mapping({**SCENARIO, "scenario": {"backend": "jaxx"}})
    message = str(info.value)
    assert "scenario.backend" in message and "did you mean 'jax'" in message
    with pytest.raises(ScenarioError, match="given twice"):
        load_mapping({**SCENARIO, "backend": "jax", "scenario": {"backend": "jax"}})
    with pytest.raises(ScenarioError, match="did you mean 'backend'"):
        load_mapping({**SCENARIO, "backnd": "jax"})


def test_a_scenario_asking_for_missing_jax_stops_before_any_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gdsim

    monkeypatch.setitem(sys.modules, "gdsim.backends.jax_backend", None)
    path = tmp_path / "s.toml"
    path.write_text('backend = "jax"\nobjective = "quartic"\n[[runs]]\nname = "a"\n')
    with pytest.raises(BackendError) as info:
        gdsim.run(path)
    assert str(path) in str(info.value) and 'pip install "gdsim[jax]"' in str(info.value)
