"""The bundled scenarios on both backends: every one meets its expectations on JAX, and every
run agrees with numpy unless numpy itself cannot reproduce it under a one-ulp change.

What is compared: each run's status, step count and final parameters (1e-12 relative, 1e-300
absolute for exact zeros). Why not bit for bit: XLA fuses ``a*b + c`` into one rounding on the
CPU (``docs/backends.md``). A run may still disagree beyond 1e-12, or end at another step,
when it is decided at the rounding level — a trajectory passing near a maximum, a loss
crossing ``max_loss`` or a gradient a tolerance by a hair, a long training whose every step
amplifies the last one's rounding. Such a run is recognised honestly: numpy itself disagrees
with numpy beyond 1e-12 when the run starts one ulp away, evaluates the objective with another
rounding, or steps with learning rates one ulp off (every step rounded differently). Every
disagreement must be of that kind; among the analytic ensembles they must also be few.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

jax = pytest.importorskip("jax")

import gdsim  # noqa: E402
from gdsim import engine, ensemble  # noqa: E402
from gdsim.backends import jax_unit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(path.stem for path in (ROOT / "scenarios").glob("*.toml"))
SCENARIOS = [
    "escape_local_min",
    "basin_map",
    "lr_schedules",
    "combined_optimizer",
    "compare_adaptive_quartic",
]
"""The bundled scenarios whose runs step as compiled ensembles (the others' runs, networks,
step alone, each compiled by :mod:`gdsim.backends.jax_run`)."""


def agree(a: Any, b: Any) -> bool:
    if (a.status, a.steps) != (b.status, b.steps):
        return False
    return all(
        np.allclose(a.final_params[k], b.final_params[k], rtol=1e-12, atol=1e-300)
        for k in b.final_params
    )


def distance(a: Any, b: Any) -> float:
    """The largest relative difference of ``a``'s final parameters from ``b``'s (inf when
    they end differently or at other steps)."""
    if (a.status, a.steps) != (b.status, b.steps):
        return np.inf
    return max(
        float(np.max(np.abs(a.final_params[k] - b.final_params[k]) / (np.abs(v) + 1e-288)))
        for k, v in b.final_params.items()
    )


def nudged(spec: Any) -> Any:
    """The same run started one ulp away (upwards) in every parameter (None for a run that
    starts from saved weights)."""
    if spec.init_from is not None:
        return None
    start = spec.objective.init(np.random.default_rng(spec.seed))
    start.update(spec.init)
    init = {k: np.nextafter(np.asarray(v, dtype=np.float64), np.inf) for k, v in start.items()}
    return attrs.evolve(spec, init=init)


def other_rounding(spec: Any) -> Any:
    """The same run with the objective evaluated the other exact way (Horner's scheme or
    correctly rounded powers: the same polynomial, rounded differently), or None. A run that
    ends near a minimum where the gradient is rounding noise (RMSprop divides it by its own
    running size) is decided by how each operation rounds, not by where it starts."""
    objective = spec.objective
    evaluation = getattr(objective, "evaluation", None)
    if evaluation not in ("exact", "horner"):
        return None
    other = "horner" if evaluation == "exact" else "exact"
    return attrs.evolve(spec, objective=attrs.evolve(objective, evaluation=other))


def other_rates(spec: Any) -> Any:
    """The same run with every float of its schedule one ulp larger: each step's update is
    rounded differently, as on another backend, while the start stays the same."""
    paths = ensemble._float_paths(spec.schedule)
    if not paths:
        return None
    values = {p: np.nextafter(ensemble._at(spec.schedule, p), np.inf) for p in paths}
    return attrs.evolve(spec, schedule=ensemble.with_values(spec.schedule, values))


def _with_value_and_grad(spec: Any, name: str, wrap: Any) -> Any:
    """The run with its objective's ``value_and_grad`` wrapped (same fields, same data)."""
    objective = spec.objective
    inner = type(objective).value_and_grad
    kind = type(f"{name}{type(objective).__name__}", (type(objective),), {"__slots__": ()})
    kind.value_and_grad = wrap(inner)  # type: ignore[method-assign]
    changed = copy.copy(objective)
    object.__setattr__(changed, "__class__", kind)  # a frozen instance, same fields
    return attrs.evolve(spec, objective=changed)


def shaken_gradients(spec: Any) -> Any:
    """The same run with every gradient (and loss) evaluated at parameters one ulp away: the
    start and the arithmetic are the same, but each step carries an input error of the size
    of one rounding, as when another backend rounds a step's products differently."""

    def wrap(inner: Any) -> Any:
        def value_and_grad(self: Any, params: Any, batch: Any = None) -> Any:
            return inner(self, {k: np.nextafter(v, np.inf) for k, v in params.items()}, batch)

        return value_and_grad

    return _with_value_and_grad(spec, "Shaken", wrap)


def reordered_samples(spec: Any) -> Any:
    """The same run with each batch's samples taken in reverse order: the same sums in another
    order, as another backend's matrix products add them (None for objectives without data)."""
    try:
        samples = spec.objective.num_samples()
    except NotImplementedError:
        return None

    def wrap(inner: Any) -> Any:
        def value_and_grad(self: Any, params: Any, batch: Any = None) -> Any:
            order = np.arange(samples)[::-1] if batch is None else np.asarray(batch)[::-1]
            return inner(self, params, order)

        return value_and_grad

    return _with_value_and_grad(spec, "Reordered", wrap)


def other_activation_rounding(spec: Any) -> Any:
    """The same network with its activation's values one ulp nearer zero: XLA's ``tanh`` and
    ``exp`` are other approximations than numpy's (up to 6 ulps apart, and 7 ulps below 1
    where numpy's tanh has saturated), which a saturated unit's derivative 1 - a² turns into
    a difference of its own size (None for objectives without an activation)."""
    activation = getattr(spec.objective, "activation", None)
    if activation is None or not hasattr(activation, "forward"):
        return None
    inner = type(activation).forward

    def forward(self: Any, z: Any) -> Any:
        return np.nextafter(inner(self, z), 0.0)

    kind = type(f"Rounded{type(activation).__name__}", (type(activation),), {"__slots__": ()})
    kind.forward = forward  # type: ignore[method-assign]
    rounded = copy.copy(activation)
    object.__setattr__(rounded, "__class__", kind)
    objective = copy.copy(spec.objective)
    object.__setattr__(objective, "activation", rounded)  # a frozen instance, same data
    return attrs.evolve(spec, objective=objective)


CHANGES = (
    nudged,
    other_rounding,
    other_rates,
    shaken_gradients,
    reordered_samples,
    other_activation_rounding,
)
"""One-ulp changes that leave a run's mathematics alone and change its rounding."""


AMPLIFIED = 10.0
"""How much further than numpy's own one-ulp changes the JAX backend may end: it changes the
rounding of every fused multiply-add, sum and ``tanh`` at once (measured: at most 2.1 ×, in
``good_practices``' ``clip_norm``)."""


def within_numpy_spread(jax_run: Any, numpy_run: Any, scenario: Any) -> bool:
    """Is the JAX run within 1e-12 of numpy's, or within :data:`AMPLIFIED` times as far as
    numpy's own run goes under one of :data:`CHANGES`? The second is how a run decided at the
    rounding level (chaotic, or amplifying each step's rounding) is told apart from a
    backend that computes something else."""
    gap = distance(jax_run, numpy_run)
    if gap <= 1e-12:
        return True
    for change in CHANGES:
        changed = change(numpy_run.spec)
        if changed is None:
            continue
        spread = distance(engine.run(changed, scenario=scenario), numpy_run)
        if gap <= AMPLIFIED * spread:
            return True
    return False


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_meets_its_expectations_on_jax(name: str) -> None:
    """Every bundled scenario passes on the compiled backend (what ``gdsim run --backend jax``
    exits 0 on), and each run agrees with numpy to 1e-12, or is decided at the rounding level
    and ends no farther from numpy than numpy's own run moves under a one-ulp change."""
    scenario = gdsim.load(ROOT / "scenarios" / f"{name}.toml")
    on_jax = gdsim.run(scenario, backend="jax")
    failed = {
        r.name: [f"{o.name}: expected {o.expected}, got {o.actual}" for o in r.expectations]
        for r in on_jax.runs
        if not r.passed
    }
    assert not failed
    if name in SCENARIOS:  # compared more closely below
        return
    on_numpy = gdsim.run(scenario, backend="numpy")
    apart = [
        (b.name, distance(a, b))
        for a, b in zip(on_jax.runs, on_numpy.runs, strict=True)
        if not within_numpy_spread(a, b, scenario)
    ]
    assert not apart, "farther from numpy than numpy's own run under one-ulp changes"


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenario_agrees_across_backends(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = gdsim.load(ROOT / "scenarios" / f"{name}.toml")
    compiled: list[int] = []
    make_unit = jax_unit.make_unit

    def counting(*args: Any, **kwargs: Any) -> Any:
        members = args[0]
        if members.live == members.size:
            compiled.append(members.size)
        return make_unit(*args, **kwargs)

    monkeypatch.setattr(jax_unit, "make_unit", counting)
    on_jax = list(gdsim.run(scenario, backend="jax").runs)
    on_numpy = list(gdsim.run(scenario, backend="numpy").runs)
    assert sum(compiled) >= 2, "some runs step compiled"
    differ = [(a, b) for a, b in zip(on_jax, on_numpy, strict=True) if not agree(a, b)]
    for _, b in differ:
        shaken = engine.run(nudged(b.spec), scenario=scenario)
        rounded = other_rounding(b.spec)
        reevaluated = None if rounded is None else engine.run(rounded, scenario=scenario)
        assert not agree(shaken, b) or (reevaluated is not None and not agree(reevaluated, b)), (
            f"{b.name}: differs on jax but is stable on numpy"
        )
    assert len(differ) <= max(1, len(on_numpy) // 20)
