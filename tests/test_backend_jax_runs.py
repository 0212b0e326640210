"""Runs that step alone on the JAX backend (:mod:`gdsim.backends.jax_run`): the network with
mini-batches and Adam, and analytic runs whose fates end them.

Batches are drawn on the host from the run's numpy generator on both backends, so a compiled
run sees the numpy run's batches; its arithmetic differs in the last bits (XLA's fused
multiply-adds, its exp and log), hence 1e-12 relative across backends and bit for bit within
JAX. The network's shapes are shared by every test here (one compilation per table shape).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("jax")

import gdsim
from gdsim import checkpoint as ckpt
from gdsim.backends import jax_run

NETWORK: dict[str, Any] = {
    "scenario": {"name": "net"},
    "objective": {
        "name": "mlp",
        "hidden": [8],
        "activation": "sigmoid",
        "loss": "bce",
        "data": {"name": "moons", "n": 200},
    },
    "runs": [
        {
            "name": "adam",
            "steps": 14,  # 2 epochs of 4 full batches and a short one, and 4 steps more
            "seed": 5,
            "rule": "adam",
            "schedule": {"name": "constant", "lr": 0.05},
            "estimator": {"name": "minibatch", "batch_size": 48, "sampling": "epoch"},
            "observers": [{"name": "recorder", "every": 3}],
        }
    ],
}


@pytest.fixture
def compiled_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the runs given a compiled single-run unit (so a test cannot pass on numpy)."""
    made: list[int] = []
    original = jax_run.make_unit

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(jax_run, "make_unit", counting)
    return made


def close(a: Any, b: Any, rtol: float = 1e-12) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return a.shape == b.shape and float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale


def test_the_network_on_jax_agrees_with_numpy_and_repeats_bit_for_bit(
    compiled_runs: list[int],
) -> None:
    (numpy_run,) = gdsim.run(NETWORK, backend="numpy").runs
    assert not compiled_runs
    first, again = (gdsim.run(NETWORK, backend="jax").runs[0] for _ in range(2))
    assert len(compiled_runs) == 2
    for run in (first, again):
        assert (run.status, run.steps, run.epochs) == ("completed", 14, 2)
        assert (run.status, run.steps, run.epochs) == (
            numpy_run.status,
            numpy_run.steps,
            numpy_run.epochs,
        )
    for k, w in numpy_run.final_params.items():
        assert close(first.final_params[k], w), k
        assert np.array_equal(first.final_params[k], again.final_params[k]), k
    assert first.final_loss == pytest.approx(numpy_run.final_loss, rel=1e-12)
    # the recorder saw the same steps and the same values
    traced, reference = first.trace, numpy_run.trace
    assert traced.keys() == reference.keys()
    assert list(traced["step"]) == list(reference["step"]) == [0, 3, 6, 9, 12, 14]
    for key, values in reference.items():
        assert close(traced[key], values), key


QUARTIC_RUN: dict[str, Any] = {
    "scenario": {"name": "alone"},
    "objective": {"name": "quartic"},
    "runs": [
        {
            "name": "run",
            "steps": 200,
            "init": {"x": -5.0},
            "rule": {"name": "momentum", "mu": 0.9},
            "schedule": {"name": "constant", "lr": 0.1},
            "allow_divergence": True,
            "observers": [{"name": "recorder", "every": 7}],
        }
    ],
}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"schedule": {"name": "constant", "lr": 0.9}, "max_loss": 1e8}, "diverged"),
        ({"rule": "gd", "init": {"x": 5.0}, "tolerance": {"grad_norm": 1e-6}}, "converged"),
        ({"rule": "gd", "init": {"x": 5.0}, "tolerance": {"step_size": 1e-7}}, "converged"),
        ({}, "completed"),
    ],
)
def test_a_run_alone_ends_as_on_numpy(
    changes: dict[str, Any], status: str, compiled_runs: list[int]
) -> None:
    raw = copy.deepcopy(QUARTIC_RUN)
    raw["runs"][0].update(changes)
    (reference,) = gdsim.run(raw, backend="numpy").runs
    (run,) = gdsim.run(raw, backend="jax").runs
    assert compiled_runs == [1]
    assert run.status == reference.status == status
    assert (run.steps, run.final_step) == (reference.steps, reference.final_step)
    assert np.isfinite(run.final_params["x"])  # a diverged run keeps its last finite iterate
    assert close(run.final_params["x"], reference.final_params["x"])
    assert run.final_loss == pytest.approx(reference.final_loss, rel=1e-12)
    traced, ref = run.trace, reference.trace
    assert traced.keys() == ref.keys()
    assert list(traced["step"]) == list(ref["step"])
    for key, values in ref.items():
        assert close(traced[key], values), key


def test_a_network_checkpoint_written_on_jax_resumes_bit_identically(tmp_path: Path) -> None:
    raw = copy.deepcopy(NETWORK)
    raw["runs"][0]["observers"].append(
        {"name": "checkpoint", "every": 5, "keep": 10, "dir": str(tmp_path)}
    )
    (whole,) = gdsim.run(raw, backend="jax").runs
    files = ckpt.checkpoint_files(tmp_path / "net" / "adam")
    assert [step for step, _ in files] == [5, 10, 14]
    assert ckpt.load(files[0][1]).scenario_definition["backend"] == "jax"
    for _, path in files[:2]:
        (resumed,) = gdsim.resume(path).runs
        assert (resumed.status, resumed.steps, resumed.epochs) == (
            whole.status,
            whole.steps,
            whole.epochs,
        )
        for k, w in whole.final_params.items():
            assert np.array_equal(resumed.final_params[k], w), k
        assert resumed.final_loss == whole.final_loss


@pytest.mark.parametrize("name", ["early_stopping", "sgd_vs_minibatch"])
def test_bundled_network_scenarios_agree_with_numpy(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    """Epoch observers (early stopping stops the unit at epoch ends), checkpoints, ``sgd``
    and epoch-sampled mini-batches with short last batches, on the lecture's data."""
    monkeypatch.chdir(tmp_path)  # the scenarios' checkpoint folders are relative
    scenario = gdsim.load(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.toml")
    on_numpy = list(gdsim.run(scenario, backend="numpy").runs)
    on_jax = list(gdsim.run(scenario, backend="jax").runs)
    assert len(compiled_runs) == len(on_jax)
    for a, b in zip(on_jax, on_numpy, strict=True):
        assert (a.status, a.steps, a.epochs) == (b.status, b.steps, b.epochs), a.name
        for k, w in b.final_params.items():
            assert close(a.final_params[k], w), (a.name, k)
        assert a.passed == b.passed, a.name


def _small_network(estimator: Any, **run: Any) -> dict[str, Any]:
    return {
        "scenario": {"name": "small"},
        "objective": {"name": "mlp", "hidden": [3], "data": {"name": "moons", "n": 60}},
        "runs": [
            {
                "name": "r",
                "steps": 40,
                "seed": 2,
                "rule": {"name": "momentum", "mu": 0.9},
                "schedule": {"name": "constant", "lr": 5.0},
                "estimator": estimator,
                "observers": [{"name": "recorder", "every": 6}],
                **run,
            }
        ],
    }


@pytest.mark.parametrize(
    "estimator",
    [
        {"name": "minibatch", "batch_size": 7},
        {"name": "minibatch", "batch_size": 7, "sampling": "epoch", "drop_last": True},
        {"name": "minibatch", "batch_size": 7, "sampling": "epoch", "shuffle": False},
        "sgd",
    ],
)
@pytest.mark.parametrize("max_loss", [1e100, 1.5])
def test_the_run_draws_what_numpy_draws(estimator: Any, max_loss: float) -> None:
    """After the run (also one ended by its loss inside a window), the generator, the
    estimator's state, the last batch and the epoch count are numpy's."""
    from gdsim import engine
    from gdsim.backends import using_backend

    loaded = gdsim.load(_small_network(estimator, max_loss=max_loss, allow_divergence=True))
    spec = loaded.runs[0]
    contexts = []
    for backend in ("numpy", "jax"):
        ctx = engine.start_run(spec)
        with using_backend(backend):
            result = engine.run(spec, context=ctx)
        contexts.append((ctx, result))
    (a, ra), (b, rb) = contexts
    assert (rb.status, rb.steps, rb.final_step, rb.epochs) == (
        ra.status,
        ra.steps,
        ra.final_step,
        ra.epochs,
    )
    assert a.state.rng.bit_generator.state == b.state.rng.bit_generator.state
    assert a.estimator_state.keys() == b.estimator_state.keys()
    for key, value in a.estimator_state.items():
        assert np.array_equal(value, b.estimator_state[key]), key
    assert np.array_equal(np.asarray(a.batch), np.asarray(b.batch))
    for k, w in ra.final_params.items():  # lr 5 amplifies rounding (1e-16 → 4e-12 in 40 steps)
        assert close(rb.final_params[k], w, rtol=1e-9), k
