"""The compiled JAX backend: the same fates as the numpy loop, bits that do not depend on how
a member was stepped, and agreement with numpy to 1e-12 where the run is not chaotic.

What is compared, and why not always bit for bit: XLA on the CPU contracts ``a*b + c`` into
fused multiply-adds, which round once where numpy rounds twice, so the two backends differ in
the last bits of most steps (``docs/backends.md``). Within JAX the bits are reproducible and do
not depend on the ensemble's shape. With ``XLA_FLAGS=--xla_cpu_max_isa=AVX`` (no FMA) the
compiled backend reproduces numpy bit for bit, fates included (a subprocess test below).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

jax = pytest.importorskip("jax")

import gdsim  # noqa: E402
from gdsim import ensemble  # noqa: E402
from gdsim.backends import LiveMembers, NotTraceable, get_backend  # noqa: E402
from gdsim.backends.jax_unit import bucket  # noqa: E402
from gdsim.hookspecs import hookimpl  # noqa: E402
from gdsim.objectives.polynomial import Quartic  # noqa: E402
from gdsim.registry import Registry  # noqa: E402
from gdsim.rules.classic import GD, Momentum  # noqa: E402
from gdsim.schedules import Constant  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUARTIC = Quartic(evaluation="horner")


@attrs.frozen
class NumpyGD(GD):
    """Plain gradient descent written with numpy only, as a third-party plugin may be."""

    name: ClassVar[str] = "numpy_gd"
    array_api: ClassVar[bool] = False

    def update(self, grads: Any, state: Any, params: Any, lr: Any) -> Any:
        step = np.asarray(grads["x"]) * lr
        return {"x": params["x"] - step}, state


class NumpyOnlyPlugin:
    @hookimpl
    def gdsim_rules(self) -> list[type]:
        return [NumpyGD]


def numpy_only_registry() -> Registry:
    found = Registry.discover(entry_points=[])
    found.pm.register(NumpyOnlyPlugin())
    return Registry(found.pm, found.plugins)


def fates(size: int, seed: int = 0) -> dict[str, Any]:
    """An ensemble whose members diverge, converge on either tolerance and complete, at many
    different steps (so the unit returns on events, replays and compacts)."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.0, 0.99, size).reshape(size)
    return {
        "params": {"x": np.linspace(-5.0, 5.0, size)},
        "steps": rng.integers(20, 120, size),
        "max_loss": 1e3,
        "grad_norm": np.where(rng.random(size) < 0.5, 1e-4, np.nan),
        "step_size": np.where(rng.random(size) < 0.3, 1e-6, np.nan),
        "hyper": [(0, "mu", mu), (1, "lr", rng.choice([0.05, 0.2, 0.35], size))],
    }


def simulate(backend: str, inputs: dict[str, Any], rows: Any = None) -> ensemble.Outcome:
    inputs = dict(inputs)
    if rows is not None:  # the same members alone
        inputs["params"] = {k: v[rows] for k, v in inputs["params"].items()}
        for key in ("steps", "grad_norm", "step_size"):
            inputs[key] = inputs[key][rows]
        inputs["hyper"] = [(s, f, a[rows]) for s, f, a in inputs["hyper"]]
    return ensemble.simulate(QUARTIC, Momentum(), Constant(lr=0.1), backend=backend, **inputs)


def assert_identical(a: ensemble.Outcome, b: ensemble.Outcome) -> None:
    assert np.array_equal(a.code, b.code)
    assert np.array_equal(a.steps, b.steps)
    assert a.final_params["x"].tobytes() == b.final_params["x"].tobytes()
    assert np.array_equal(a.final_loss, b.final_loss, equal_nan=True)
    assert a.reasons == b.reasons


@pytest.fixture(scope="module")
def on_jax() -> ensemble.Outcome:
    return simulate("jax", fates(600))


def test_the_fates_scenario_has_every_fate(on_jax: ensemble.Outcome) -> None:
    """The inputs below exercise every path of the unit (else the tests would prove little)."""
    codes = set(np.unique(on_jax.code).tolist())
    assert codes == {ensemble.CODE[s] for s in ("completed", "converged", "diverged")}
    reasons = " ".join(on_jax.reasons.values())
    assert "gradient norm" in reasons and "step size" in reasons and "loss became" in reasons
    assert len(np.unique(on_jax.steps)) > 20  # members end at many different steps


def test_same_inputs_give_the_same_bits(on_jax: ensemble.Outcome) -> None:
    assert_identical(simulate("jax", fates(600)), on_jax)


def test_a_member_equals_the_same_run_alone(on_jax: ensemble.Outcome) -> None:
    """Members stepped alone, or in a smaller ensemble (other shapes, other events), get
    exactly the bits they got in the big one."""
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(600, 37, replace=False))
    part = simulate("jax", fates(600), rows)
    assert np.array_equal(part.code, on_jax.code[rows])
    assert np.array_equal(part.steps, on_jax.steps[rows])
    assert part.final_params["x"].tobytes() == on_jax.final_params["x"][rows].tobytes()
    for i in rows[:6]:
        alone = simulate("jax", fates(600), np.array([i]))
        assert alone.code[0] == on_jax.code[i] and alone.steps[0] == on_jax.steps[i]
        assert alone.final_params["x"][0] == on_jax.final_params["x"][i]


STRUCTURES = [
    ("adam", {"beta1": 0.8}, "cosine", {"lr": 0.3, "steps": 50}, []),
    ("nesterov", {"mu": 0.7}, "step", {"lr": 0.2, "step_size": 7}, [("clip_value", {})]),
    ("gd", {}, "exponential", {"lr": 0.4, "every": 3}, [("weight_decay", {"decay": 0.01})]),
]


@pytest.mark.parametrize(("rule", "rule_kw", "schedule", "schedule_kw", "transforms"), STRUCTURES)
def test_other_components_keep_a_member_equal_to_itself_alone(
    rule: str, rule_kw: dict, schedule: str, schedule_kw: dict, transforms: list
) -> None:
    """Rules with state, schedules of the step, transforms, a swept float in each: a member's
    bits do not depend on its ensemble (two-dimensional objective, every fate)."""
    from gdsim.objectives.test_functions import Rosenbrock
    from gdsim.registry import default_registry

    registry = default_registry()
    size = 64
    rng = np.random.default_rng(4)
    kwargs = {
        "params": {"x": rng.uniform(-2.0, 2.0, (size, 2))},
        "steps": rng.integers(5, 60, size),
        "max_loss": 1e4,
        "grad_norm": np.where(rng.random(size) < 0.5, 0.5, np.nan),
        "step_size": np.where(rng.random(size) < 0.5, 1e-3, np.nan),
        "hyper": [(1, "lr", rng.choice([0.001, 0.01, 0.05], size).reshape(size, 1))],
        "transforms": [registry.get("transform", n)(**kw) for n, kw in transforms],
    }
    parts = (
        Rosenbrock(),
        registry.get("rule", rule)(**rule_kw),
        registry.get("schedule", schedule)(**schedule_kw),
    )
    whole = ensemble.simulate(*parts, backend="jax", **kwargs)
    assert len(set(whole.code.tolist())) >= 2
    for i in (0, 5, 17, 40):
        alone = dict(kwargs, params={"x": kwargs["params"]["x"][i : i + 1]})
        for key in ("steps", "grad_norm", "step_size"):
            alone[key] = kwargs[key][i : i + 1]
        alone["hyper"] = [(s, f, a[i : i + 1]) for s, f, a in kwargs["hyper"]]
        one = ensemble.simulate(*parts, backend="jax", **alone)
        assert (one.code[0], one.steps[0]) == (whole.code[i], whole.steps[i])
        assert one.final_params["x"][0].tobytes() == whole.final_params["x"][i].tobytes()


def test_fates_and_parameters_agree_with_numpy(on_jax: ensemble.Outcome) -> None:
    """Across backends: same fate at the same step, final parameters to 1e-12 relative, for
    every member whose numpy result does not move when its start moves by one ulp (a member
    that does is decided at the rounding level: a threshold crossed by a hair)."""
    inputs = fates(600)
    ref = simulate("numpy", inputs)
    nudged = dict(inputs, params={"x": np.nextafter(inputs["params"]["x"], np.inf)})
    shaken = simulate("numpy", nudged)
    stable = (shaken.code == ref.code) & (shaken.steps == ref.steps)
    stable &= np.isclose(shaken.final_params["x"], ref.final_params["x"], rtol=1e-12, atol=0)
    assert stable.mean() > 0.9
    same = (on_jax.code == ref.code) & (on_jax.steps == ref.steps)
    assert same[stable].all()
    x, y = on_jax.final_params["x"][stable], ref.final_params["x"][stable]
    assert np.all(np.abs(x - y) <= 1e-12 * np.abs(y))


def test_compaction_uses_power_of_two_shapes() -> None:
    big = 1_000_000
    sizes = [bucket(n, big) for n in (big, big - 1, 600_000, 524_288, 300_000, 70_000, 5, 1)]
    assert sizes == [big, big, big, 524_288, 524_288, 131_072, 65_536, 65_536]
    assert bucket(3, 6) == bucket(1, 1) == 64  # small ensembles: 64 rows, one shape


def test_hyperparameters_are_arguments_not_constants() -> None:
    """New values of the floats (and new stop steps) reuse the compiled functions."""
    from gdsim.backends import jax_unit

    x0 = {"x": np.linspace(-2.0, 2.0, 16)}
    ensemble.simulate(QUARTIC, Momentum(mu=0.3), Constant(lr=0.01), x0, 5, backend="jax")
    compiled = dict(jax_unit._COMPILED)
    block = next(
        c
        for c in compiled.values()
        if type(c.templates[0]) is Momentum and not (c.has_grad_tol or c.has_step_tol)
    )
    sizes = block.block._cache_size()
    for mu, lr, steps in ((0.5, 0.02, 7), (0.9, 0.001, 3)):
        ensemble.simulate(QUARTIC, Momentum(mu=mu), Constant(lr=lr), x0, steps, backend="jax")
    assert jax_unit._COMPILED.keys() == compiled.keys()
    assert block.block._cache_size() == sizes


def test_parameters_stay_float64() -> None:
    out = ensemble.simulate(QUARTIC, GD(), Constant(lr=0.1), {"x": np.ones(4)}, 3, backend="jax")
    assert out.final_params["x"].dtype == np.float64


def test_a_component_that_cannot_be_traced_is_named() -> None:
    """A plugin written with plain numpy keeps working on numpy; on jax the error names it,
    the line of its code that failed, and the way back."""

    class NumpyOnly(GD):
        name = "numpy_only"

        def update(self, grads: Any, state: Any, params: Any, lr: Any) -> Any:
            step = np.asarray(grads["x"]) * lr
            return {"x": params["x"] - step}, state

    x0 = {"x": np.linspace(1.0, 2.0, 4)}
    ensemble.simulate(QUARTIC, NumpyOnly(), Constant(lr=0.1), x0, 3)  # numpy: fine
    with pytest.raises(NotTraceable) as info:
        ensemble.simulate(QUARTIC, NumpyOnly(), Constant(lr=0.1), x0, 3, backend="jax")
    message = str(info.value)
    assert "rule 'numpy_only'" in message and 'backend = "numpy"' in message
    assert "test_backend_jax.py" in message and "np.asarray(grads" in message


def test_the_backend_key_and_flag(tmp_path: Path) -> None:
    """``backend = "jax"`` in a scenario and ``--backend`` on the command line run the same
    ensembles; the lecture's values hold to 1e-12 on this scenario with Horner evaluation."""
    from click.testing import CliRunner

    from gdsim.cli import main

    text = (ROOT / "scenarios" / "escape_local_min.toml").read_text()
    text = text.replace('name = "quartic"', 'name = "quartic"\nevaluation = "horner"', 1)
    path = tmp_path / "escape.toml"
    path.write_text('backend = "jax"\n' + text)
    on_jax = gdsim.run(path)
    on_numpy = gdsim.run(path, backend="numpy")
    assert on_jax.passed and on_numpy.passed
    for a, b in zip(on_jax.runs, on_numpy.runs, strict=True):
        assert a.status == b.status and a.steps == b.steps
        assert abs(a.final_params["x"] - b.final_params["x"]) <= 1e-12 * abs(b.final_params["x"])
    result = CliRunner().invoke(main, ["run", str(path), "--backend", "jax", "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert [r["final"]["params"]["x"] for r in runs] == [
        float(r.final_params["x"]) for r in on_jax.runs
    ]


def test_a_numpy_only_scenario_steps_on_numpy_and_says_so_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gdsim.backends import jax_backend
    from gdsim.cli import main

    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(
            """
            objective = "quartic"
            [defaults]
            rule = "numpy_gd"
            [[runs]]
            name = "a"
            init = { x = 1.0 }
            [[runs]]
            name = "b"
            init = { x = 2.0 }
            """
        )
    )
    monkeypatch.setattr("gdsim.cli._registry", numpy_only_registry)
    monkeypatch.setattr(jax_backend, "_FELL_BACK", set())
    on_jax = CliRunner().invoke(main, ["run", str(path), "--backend", "jax"])
    on_numpy = CliRunner().invoke(main, ["run", str(path)])
    assert on_jax.exit_code == on_numpy.exit_code == 0, on_jax.output
    said = (
        "gdsim: backend 'jax': an ensemble of 2 runs steps on numpy: rule 'numpy_gd' is "
        "written for numpy only (array_api = False)"
    )
    assert said in on_jax.stderr and "Traceback" not in on_jax.output
    assert on_jax.stdout == on_numpy.stdout  # the same table: it stepped on numpy


def test_a_checkpoint_written_on_jax_resumes_bit_identically_on_jax(tmp_path: Path) -> None:
    from gdsim import checkpoint as ckpt

    runs = [
        {"name": f"m{i}", "init": {"x": x}, "rule": {"name": "momentum", "mu": mu}}
        for i, (x, mu) in enumerate([(-5.0, 0.9), (5.0, 0.5), (2.0, 0.95), (-1.0, 0.2)])
    ]
    runs[3]["tolerance"] = {"grad_norm": 1e-3}
    raw = {
        "backend": "jax",
        "objective": {"name": "quartic", "evaluation": "horner"},
        "defaults": {
            "steps": 60,
            "schedule": {"name": "constant", "lr": 0.1},
            "observers": [
                {"name": "recorder", "every": 7},
                {"name": "checkpoint", "every": 10, "keep": 100, "dir": str(tmp_path)},
            ],
        },
        "runs": runs,
    }
    del raw["backend"]  # asked for on the command line instead: the checkpoints remember it
    whole = gdsim.run(raw, backend="jax").runs
    (folder,) = [f for f in tmp_path.glob("*/ensemble-*") if f.is_dir()]
    files = ckpt.checkpoint_files(folder)
    assert len(files) >= 3
    assert ckpt.load(files[0][1]).scenario_definition["backend"] == "jax"
    for _, path in files[1:-1]:
        resumed = gdsim.resume(path).runs
        for a, b in zip(resumed, whole, strict=True):
            assert ensemble.identical(a, b), (a.to_dict(), b.to_dict())
            assert a.outputs["recorder"].keys() == b.outputs["recorder"].keys()


OBSERVED = {
    "scenario": {"name": "fates"},
    "objective": {"name": "quartic", "evaluation": "horner"},
    "defaults": {
        "steps": 60,
        "allow_divergence": True,
        "rule": {"name": "momentum", "mu": 0.5},
        "schedule": {"name": "constant", "lr": 0.05},
        "observers": [
            {"name": "recorder", "every": 3},
            {"name": "diagnostics", "every": 2},
            {"name": "loss_target", "loss": 1.0},
            {"name": "early_stopping", "patience": 2, "every": 4, "min_delta": 0.5},
        ],
    },
    "runs": [
        {"name": "completes", "init": {"x": 6.0}, "steps": 40, "schedule": {"lr": 0.001}},
        {"name": "diverges", "init": {"x": 5.0}, "schedule": {"lr": 3.0}},
        {"name": "converges", "init": {"x": 3.0}, "tolerance": {"grad_norm": 0.5}},
        {"name": "stops", "init": {"x": 1.0}, "rule": {"name": "momentum", "mu": 0.9}},
        {"name": "short", "init": {"x": 2.0}, "steps": 3},
    ],
}
"""Runs that diverge, converge, stop early (an observer's request) and complete, with
observers between the compiled chunks."""


def test_jax_without_fma_reproduces_numpy_bit_for_bit() -> None:
    """With FMA contraction off (``--xla_cpu_max_isa=AVX``, read when JAX starts: a fresh
    process) every fate, step and final parameter is numpy's, bit for bit, and so is every
    observer's output (they see the same arrays between chunks)."""
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import numpy as np
        import gdsim
        from test_backend_jax import OBSERVED, fates, simulate
        from test_ensemble_observers import identical, same_outputs
        a, b = simulate("jax", fates(400, seed=3)), simulate("numpy", fates(400, seed=3))
        same = (np.array_equal(a.code, b.code) and np.array_equal(a.steps, b.steps)
                and a.final_params["x"].tobytes() == b.final_params["x"].tobytes()
                and a.reasons == b.reasons)
        print("same" if same else "differ", len(set(a.steps.tolist())))
        for evaluation in ("horner", "exact"):
            raw = dict(OBSERVED, objective={"name": "quartic", "evaluation": evaluation})
            on_jax = gdsim.run(raw, backend="jax").runs
            on_numpy = gdsim.run(raw).runs
            same = all(identical(x, y) and same_outputs(x.outputs, y.outputs)
                       for x, y in zip(on_jax, on_numpy, strict=True))
            print("same" if same else "differ", sorted({r.status for r in on_jax}))
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_max_isa=AVX", JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    verdict, distinct = lines[0].split()
    assert verdict == "same" and int(distinct) > 10
    statuses = "['completed', 'converged', 'diverged', 'stopped_early']"
    assert lines[1] == f"same {statuses}", done.stdout
    assert lines[2] == f"same {statuses}", done.stdout  # exact powers: only + - * too


def test_the_device_is_jax_default() -> None:
    assert get_backend("jax").device == jax.devices()[0]


def test_a_numpy_only_component_leaves_the_other_runs_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runs with a numpy-only rule step on numpy; the scenario's other runs still
    compile, and every result is what it is on its backend alone."""
    from gdsim.backends import jax_unit

    made: list[int] = []
    make_unit = jax_unit.make_unit
    monkeypatch.setattr(jax_unit, "make_unit", lambda *a, **k: made.append(1) or make_unit(*a))
    raw = {
        "objective": "quartic",
        "runs": [
            {"name": "g", "rule": "gd", "init": {"x": {"linspace": [-5.0, 5.0, 20]}}},
            {"name": "a", "rule": "numpy_gd", "init": {"x": {"linspace": [1.0, 2.0, 3]}}},
        ],
    }
    on_jax = gdsim.run(raw, registry=numpy_only_registry(), backend="jax")
    on_numpy = gdsim.run(raw, registry=numpy_only_registry())
    assert made  # the GD sweep compiled
    for a, b in zip(on_jax.runs, on_numpy.runs, strict=True):
        if b.spec.rule.name == "numpy_gd":  # stepped on numpy: the same bits
            assert a.final_params["x"] == b.final_params["x"]
        else:
            np.testing.assert_allclose(a.final_params["x"], b.final_params["x"], rtol=1e-12)


@pytest.mark.parametrize("objective", [QUARTIC, Quartic()], ids=["horner", "exact"])
@pytest.mark.parametrize("checks", [(1e3, 1e-3), (1e100, None)], ids=["events", "none"])
def test_the_box_the_block_and_the_early_exit_give_the_same_bits(
    objective: Any, checks: tuple[float, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit steps a block checking only the objective's loss box, a block checking the
    loss, or with an early exit after an event (speed choices): the same carry and the same
    event every way, to the bit."""
    from gdsim import loop
    from gdsim.backends import jax_unit

    size = 200
    rng = np.random.default_rng(7)
    params = {"x": np.linspace(-5.0, 5.0, size)}
    rule = ensemble.with_values(Momentum(), {"mu": rng.uniform(0.0, 0.99, (size,))})
    schedule = Constant(lr=0.3)
    max_loss, grad_tol = checks
    outcomes = []
    ways = []
    for way in ("box", "loss", "early exit"):
        with monkeypatch.context() as patch:
            patch.setattr(jax_unit, "_RADII", {})  # the boxes found so far: not this way's
            if way != "box":
                patch.setattr(type(objective), "loss_radius", lambda self, limit: None)
            members = LiveMembers(
                objective, rule, schedule, [], max_loss, grad_tol, None, size, size, params
            )
            unit = jax_unit.make_unit(members, jax.devices()[0])
            boxed = jax_unit.radii(objective, max_loss) is not None
            fns, _ = jax_unit.compiled_for(
                objective, [rule, schedule], grad_tol is not None, False, boxed
            )
            ways.append(boxed)
            patch.setattr(fns, "eventful", way == "early exit")
            carry = loop.start(params, rule.init(params), schedule.init(), None, [])
            carry, event = unit(carry, 80)
        outcomes.append(
            (
                None if event is None else (event[0], event[1].tolist()),
                carry[0],
                carry[15],
                *(carry[k]["x"].tobytes() for k in (2, 3, 10)),
                carry[9].tobytes(),
            )
        )
    assert ways == [True, False, False]  # the box was used, then not
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert (outcomes[0][0] is None) == (grad_tol is None)


def test_a_quiet_ensemble_checks_the_loss_box_not_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where no member can leave the quartic's loss box, the unit never runs the block that
    computes the loss at every step (the speed the box is for)."""
    from gdsim.backends import jax_unit

    def refuse(*args: Any) -> Any:
        raise AssertionError("the loss block ran")

    x = np.linspace(-5.0, 5.0, 300)
    inputs = {"params": {"x": x}, "steps": 60, "max_loss": 1e100}
    first = ensemble.simulate(QUARTIC, Momentum(), Constant(lr=0.05), backend="jax", **inputs)
    fns, _ = jax_unit.compiled_for(QUARTIC, [Momentum(), Constant(lr=0.05)], False, False, True)
    monkeypatch.setattr(fns, "block", refuse)
    monkeypatch.setattr(fns, "exact", refuse)
    again = ensemble.simulate(QUARTIC, Momentum(), Constant(lr=0.05), backend="jax", **inputs)
    assert_identical(again, first)
    assert set(again.code.tolist()) == {ensemble.CODE["completed"]}


def test_a_numpy_only_rule_is_warned_about_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback, for an ensemble and for a run alone: the same results as on numpy, one
    warning naming the component, and the next runs for that reason only with -v."""
    import logging

    from gdsim.backends import jax_backend

    monkeypatch.setattr(jax_backend, "_FELL_BACK", set())
    raw = {
        "objective": "quartic",
        "runs": [
            {"name": "a", "rule": "numpy_gd", "init": {"x": {"linspace": [1.0, 2.0, 3]}}},
            {"name": "b", "rule": "numpy_gd", "init": {"x": -5.0}, "allow_divergence": True},
        ],
    }
    with caplog.at_level(logging.INFO, logger="gdsim"):
        on_jax = gdsim.run(raw, registry=numpy_only_registry(), backend="jax")
    on_numpy = gdsim.run(raw, registry=numpy_only_registry())
    for a, b in zip(on_jax.runs, on_numpy.runs, strict=True):
        assert a.final_params["x"] == b.final_params["x"]
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "on numpy" in r.getMessage()]
    assert [level for level, _ in said] == [logging.WARNING, logging.INFO]
    assert all("rule 'numpy_gd' is written for numpy only" in text for _, text in said)


def test_the_unit_trusts_only_finite_boxes_and_shares_one_across_many_limits() -> None:
    from gdsim.backends import jax_unit

    @attrs.frozen
    class Boundless(Quartic):
        def loss_radius(self, max_loss: float) -> float | None:
            return float("inf")

    assert jax_unit.radii(Boundless(), 1e100) is None
    limits = np.geomspace(1e10, 1e100, 40)  # a sweep of max_loss: the smallest's box for all
    assert jax_unit.radii(QUARTIC, limits) == QUARTIC.loss_radius(1e10)
    few = np.array([1e10, 1e100, 1e10])
    expected = [QUARTIC.loss_radius(v) for v in few]
    assert jax_unit.radii(QUARTIC, few).tolist() == expected


QUIET = {"params": {"x": np.linspace(-5.0, 5.0, 300)}, "steps": 60, "max_loss": 1e100}


@pytest.mark.parametrize("inputs", [fates(600), QUIET], ids=["fates", "quiet"])
def test_an_observer_does_not_change_the_bits(inputs: dict[str, Any]) -> None:
    """Without observers the unit leaves the last step's loss and gradients out of the carry
    (nobody reads them); with one reading them every 25 steps the results are the same bits."""
    from gdsim.components import MemberObserver

    class Reader(MemberObserver):
        every = 25

        def __init__(self) -> None:
            self.losses: list[Any] = []

        def step_completed(self, view: Any) -> None:
            self.losses.append(np.array(view.loss))

    reader = Reader()
    alone = ensemble.simulate(QUARTIC, Momentum(), Constant(lr=0.1), backend="jax", **inputs)
    watched = ensemble.simulate(
        QUARTIC, Momentum(), Constant(lr=0.1), backend="jax", observers=[reader], **inputs
    )
    assert_identical(watched, alone)
    assert len(reader.losses) >= 3 and np.all(np.isfinite(reader.losses[0]))
