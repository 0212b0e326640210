"""The conformance kit: checks every component of every kind must pass, and the runner behind
``gdsim check-plugin``.

Each ``check_*`` function takes a component instance (and what it needs to run), exercises the
contract of its kind (see :mod:`gdsim.components`) and raises ``AssertionError`` with a message
naming the component and the broken promise. They are re-exported by :mod:`gdsim.testing`, so a
plugin's tests can call them directly; :func:`conformance_cases` lists one case per component
example of an installed distribution, for ``gdsim check-plugin NAME`` and for
``pytest.mark.parametrize``.

Which instances are checked: a component class may define a classmethod
``conformance_examples(workdir)`` returning instances (built with the parameters it needs;
``workdir`` is a scratch folder for files); otherwise the kit checks ``cls()`` with the declared
defaults, and reports a class that needs parameters as *skipped*.

Objectives, rules, transforms and schedules marked ``array_api`` are also run on every installed
backend (JAX, traced and compiled, when it is installed) and compared with numpy
(:func:`check_backends`); unmarked ones are reported as running on numpy only, not failed.
"""

from __future__ import annotations

import io
import json
import pickle
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gdsim.components import (
    Activation,
    DataSource,
    Estimator,
    GradientTransform,
    Initializer,
    Objective,
    Observer,
    Schedule,
    UpdateRule,
)
from gdsim.state import Params

__all__ = [
    "Case",
    "NeedsExamples",
    "Outcome",
    "check_activation",
    "check_backends",
    "check_data_source",
    "check_estimator",
    "check_initializer",
    "check_objective",
    "check_observer",
    "check_rule",
    "check_schedule",
    "check_transform",
    "conformance_cases",
    "examples_of",
    "roundtrip_state",
    "run_conformance",
]


# --- helpers ---------------------------------------------------------------------------------


def _tree_equal(a: Any, b: Any) -> bool:
    from gdsim.testing import same_tree, snapshot

    return same_tree(snapshot(a), snapshot(b))


def roundtrip_state(tree: Any) -> Any:
    """``tree`` saved the way a checkpoint saves component states (JSON + an .npz, no pickle)
    and read back; raises if the state holds something a checkpoint cannot store."""
    from gdsim.checkpoint import _decode, _Encoder

    encoder = _Encoder()
    meta = json.dumps(encoder.encode(tree, "state"), allow_nan=False)
    buffer = io.BytesIO()
    np.savez(buffer, **encoder.arrays)  # type: ignore[arg-type]
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    return _decode(json.loads(meta), arrays)


def _pickles(component: Any, what: str) -> Any:
    try:
        copy = pickle.loads(pickle.dumps(component))
    except Exception as exc:
        raise AssertionError(
            f"{what}: cannot be pickled for the process executor: {type(exc).__name__}: {exc}"
        ) from None
    assert copy == component, f"{what}: the unpickled copy is not equal to the original"
    return copy


def _float_arrays(tree: Params, what: str) -> None:
    assert isinstance(tree, dict) and tree, f"{what}: expected a non-empty dict of arrays"
    for k, v in tree.items():
        arr = np.asarray(v)
        assert arr.dtype == np.float64, f"{what}: {k} has dtype {arr.dtype}, expected float64"
        assert np.all(np.isfinite(arr)), f"{what}: {k} has non-finite values"


# --- objectives ------------------------------------------------------------------------------


def check_objective(
    objective: Objective,
    seed: int = 0,
    coordinates: int = 12,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """An objective's promises.

    * ``init(rng)`` gives finite float64 arrays, the same for the same seed;
    * ``value_and_grad`` gives a finite loss and a gradient of the same names and shapes;
      ``value`` agrees with it (to 1e-12, relative);
    * the gradient matches central finite differences of ``value`` (up to ``coordinates``
      coordinates, at the initial point and at a perturbed one);
    * every declared minimum has a (near) zero gradient and the declared loss;
    * a ``loss_radius`` is sound: at the corners of its box and at random points inside, the
      computed loss is within ``max_loss``;
    * ``elementwise`` objectives give each member of a stacked ensemble axis the same numbers,
      bit for bit, as that member alone;
    * it pickles (the process executor sends it to workers) and the copy computes the same.

    Data-backed objectives are evaluated on all training samples and on a batch of indices.
    """
    what = f"objective '{objective.name}'"
    rng = np.random.default_rng(seed)
    params = objective.init(np.random.default_rng(seed))
    _float_arrays(params, f"{what}: init")
    assert _tree_equal(params, objective.init(np.random.default_rng(seed))), (
        f"{what}: init is not deterministic under a seed"
    )
    batches: list[Any] = [None]
    if objective.data_backed:
        n = objective.num_samples()
        assert isinstance(n, int | np.integer) and n >= 1, f"{what}: num_samples() = {n!r}"
        batches.append(np.sort(rng.choice(n, size=min(n, 5), replace=False)))
    perturbed = {k: v + 0.1 * rng.standard_normal(np.shape(v)) for k, v in params.items()}
    for point in (params, perturbed):
        for batch in batches:
            _check_gradient(objective, point, batch, coordinates, rtol, atol, rng, what)
    for minimum in objective.minima():
        at = {k: np.asarray(v, dtype=np.float64) for k, v in minimum["params"].items()}
        loss, grads = objective.value_and_grad(at, None)
        norm = max(float(np.max(np.abs(g))) if np.size(g) else 0.0 for g in grads.values())
        scale = max(1.0, max(float(np.max(np.abs(v))) for v in at.values()))
        assert norm <= 1e-6 * scale, (
            f"{what}: declared {minimum.get('kind', '')} minimum at {minimum['params']} has "
            f"gradient max |g| = {norm:g}, not ≈ 0"
        )
        if minimum.get("loss") is not None:
            assert np.isclose(float(loss), float(minimum["loss"]), rtol=1e-9, atol=1e-12), (
                f"{what}: declared minimum loss {minimum['loss']!r}, computed {float(loss)!r}"
            )
    _check_loss_radius(objective, params, rng, what)
    if objective.elementwise:
        _check_ensemble_axis(objective, params, perturbed, what)
    copy = _pickles(objective, what)
    for batch in batches:
        a, b = objective.value_and_grad(params, batch), copy.value_and_grad(params, batch)
        assert _tree_equal(a, b), f"{what}: the unpickled copy computes different values"


def _check_loss_radius(
    objective: Objective, params: Params, rng: np.random.Generator, what: str
) -> None:
    """The loss box a compiled backend trusts instead of the loss: probe its corners and a few
    points inside (a box too large would let a divergence go unnoticed)."""
    for max_loss in (1e100, 1e6, 10.0):
        radius = objective.loss_radius(max_loss)
        if radius is None:
            continue
        assert 0.0 <= radius < np.inf, f"{what}: loss_radius({max_loss:g}) = {radius!r}"
        points = [
            {k: np.full(np.shape(v), sign * radius) for k, v in params.items()} for sign in (1, -1)
        ]
        points += [
            {k: rng.uniform(-radius, radius, np.shape(v)) for k, v in params.items()}
            for _ in range(4)
        ]
        for point in points:
            with np.errstate(all="ignore"):
                loss = float(objective.value(point, None))
            assert abs(loss) <= max_loss, (
                f"{what}: loss_radius({max_loss:g}) = {radius:g}, but the loss is {loss!r} "
                f"at {point} (inside that box it must stay within {max_loss:g})"
            )


def _check_gradient(
    objective: Objective,
    params: Params,
    batch: Any,
    coordinates: int,
    rtol: float,
    atol: float,
    rng: np.random.Generator,
    what: str,
) -> None:
    where = "all samples" if batch is None else f"batch {list(batch)}"
    loss, grads = objective.value_and_grad(params, batch)
    assert np.ndim(loss) == 0 and np.isfinite(loss), f"{what}: loss {loss!r} on {where}"
    assert set(grads) == set(params), f"{what}: gradient names {set(grads)} != {set(params)}"
    _float_arrays({k: np.asarray(g) for k, g in grads.items()}, f"{what}: gradient")
    for k, g in grads.items():
        assert np.shape(g) == np.shape(params[k]), f"{what}: gradient of {k} has wrong shape"
    value = objective.value(params, batch)
    assert np.isclose(float(value), float(loss), rtol=1e-12, atol=1e-300), (
        f"{what}: value() = {float(value)!r} but value_and_grad() gives {float(loss)!r}"
    )
    slots = [(k, i) for k, v in params.items() for i in range(int(np.size(v)))]
    picked = rng.permutation(len(slots))[:coordinates]
    for j in picked:
        k, i = slots[int(j)]
        x = np.array(params[k], dtype=np.float64)
        h = 1e-6 * max(1.0, abs(float(x.flat[i])))
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        f_up = float(objective.value({**params, k: up}, batch))
        f_down = float(objective.value({**params, k: down}, batch))
        numeric = (f_up - f_down) / (2 * h)
        analytic = float(np.asarray(grads[k]).flat[i])
        tol = atol + rtol * max(abs(numeric), abs(analytic), abs(float(loss)) * 1e-3)
        assert abs(numeric - analytic) <= tol, (
            f"{what}: d loss / d {k}[{i}] is {analytic!r}, central differences give "
            f"{numeric!r} (on {where})"
        )


def _check_ensemble_axis(objective: Objective, a: Params, b: Params, what: str) -> None:
    stacked = {k: np.stack([a[k], b[k]]) for k in a}
    loss, grads = objective.value_and_grad(stacked, None)
    assert np.shape(loss) == (2,), (
        f"{what}: elementwise, but a stacked ensemble of 2 gives a loss of shape "
        f"{np.shape(loss)}, expected (2,)"
    )
    for row, alone in enumerate((a, b)):
        loss_alone, grads_alone = objective.value_and_grad(alone, None)
        assert np.array_equal(np.asarray(loss)[row], loss_alone), (
            f"{what}: member {row} of an ensemble has loss {np.asarray(loss)[row]!r}, "
            f"alone {loss_alone!r} (must be bit-identical)"
        )
        for k in alone:
            assert np.array_equal(np.asarray(grads[k])[row], grads_alone[k]), (
                f"{what}: member {row}'s gradient of {k} differs from the member alone"
            )


# --- estimators ------------------------------------------------------------------------------


def _batches(
    estimator: Estimator, objective: Objective, seed: int, steps: int
) -> list[tuple[Any, bool]]:
    rng = np.random.default_rng(seed)
    state = estimator.init(objective, rng)
    out = []
    for _ in range(steps):
        batch, state, ends = estimator.next_batch(state, rng)
        out.append((None if batch is None else np.array(batch), bool(ends)))
    roundtrip_state(state)
    return out


def _batches_ahead(
    estimator: Estimator,
    objective: Objective,
    seed: int,
    steps: int,
    k: int,
    until_epoch_end: bool = False,
) -> list[tuple[Any, bool]]:
    """The same steps drawn ``k`` at a time with ``batches_ahead`` (what a compiled loop does)."""
    rng = np.random.default_rng(seed)
    state = estimator.init(objective, rng)
    out: list[tuple[Any, bool]] = []
    while len(out) < steps:
        window, state = estimator.batches_ahead(
            state, rng, min(k, steps - len(out)), until_epoch_end=until_epoch_end
        )
        assert not (until_epoch_end and window.epoch_ends[:-1].any()), (
            f"estimator '{estimator.name}': batches_ahead(until_epoch_end=True) passed an epoch end"
        )
        for i in range(window.steps):
            batch = window.batch(i)
            out.append((None if batch is None else np.array(batch), bool(window.epoch_ends[i])))
    return out


def _same_batches(a: list[tuple[Any, bool]], b: list[tuple[Any, bool]]) -> bool:
    return len(a) == len(b) and all(
        ((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y)))
        and e == f
        for (x, e), (y, f) in zip(a, b, strict=True)
    )


def check_estimator(estimator: Estimator, objective: Objective, seed: int = 0) -> None:
    """An estimator's promises, on a data-backed ``objective`` (any objective for estimators that
    are not data-backed): every batch is None (all samples) or integer indices in
    ``[0, num_samples)``; the same seed gives the same batches; an epoch ends at least once
    every ``num_samples`` steps, and the samples seen between two epoch ends are at least
    those of one pass over the data minus one batch; the state survives a checkpoint;
    ``batches_ahead`` gives the batches of ``next_batch``, step for step.
    """
    what = f"estimator '{estimator.name}'"
    n = objective.num_samples() if objective.data_backed else 1
    steps = 3 * n + 3
    first = _batches(estimator, objective, seed, steps)
    again = _batches(estimator, objective, seed, steps)
    assert _same_batches(first, again), f"{what}: different batches for the same seed"
    for k, until_epoch_end in ((1, False), (5, False), (steps, False), (steps, True)):
        drawn = _batches_ahead(estimator, objective, seed, steps, k, until_epoch_end)
        assert _same_batches(drawn, first), (
            f"{what}: batches_ahead(state, rng, {k}, until_epoch_end={until_epoch_end}) differs "
            f"from {k} calls of next_batch"
        )
    seen, since_end, largest = 0, 0, 0
    ends = 0
    for step, (batch, ended) in enumerate(first):
        size = n if batch is None else int(np.size(batch))
        if batch is not None:
            assert np.issubdtype(batch.dtype, np.integer), f"{what}: batch of {batch.dtype}"
            assert size >= 1, f"{what}: an empty batch at step {step}"
            assert batch.min() >= 0 and batch.max() < n, (
                f"{what}: batch at step {step} has indices outside [0, {n})"
            )
        largest = max(largest, size)
        seen += size
        since_end += 1
        assert since_end <= n, f"{what}: no epoch ended in {n} steps ({n} samples)"
        if ended:
            ends += 1
            assert seen >= n - largest + 1, (
                f"{what}: an epoch ended at step {step} after only {seen} of {n} samples"
            )
            seen, since_end = 0, 0
    assert ends >= 1, f"{what}: no epoch ever ended"


# --- schedules -------------------------------------------------------------------------------


def check_schedule(schedule: Schedule, steps: int = 60, seed: int = 0, every: int = 3) -> None:
    """A schedule's promises: ``learning_rate`` (and ``observe``, for a schedule that monitors
    metrics, fed a made-up metric every ``every`` steps as the engine does at epoch ends) never
    modifies its inputs; it gives finite rates; the same inputs give the same rates; its state
    survives a checkpoint, and a schedule resumed from a saved state gives the rates of one
    never interrupted."""
    from gdsim.testing import same_tree, snapshot

    what = f"schedule '{schedule.name}'"
    rng = np.random.default_rng(seed)
    grads = [{"x": rng.standard_normal(3), "w": rng.standard_normal((2, 2))} for _ in range(steps)]
    losses = [float(abs(v)) for v in rng.standard_normal(steps)]
    names = tuple(schedule.monitors(_objective_for(schedule, validation=True)))
    # a metric that improves for 3 epochs, then stalls for 17: plateau rules (torch's default
    # patience is 10 epochs) reduce the rate within the check, and their counters get resumed
    curve = [1.0 / (1 + min(epoch, 3)) for epoch in range(steps // every + 2)]

    def advance(state: Any, step: int) -> tuple[Any, Any]:
        before = snapshot((grads[step], state))
        lr, new_state = schedule.learning_rate(state, step, grads[step], losses[step])
        assert same_tree(before, snapshot((grads[step], state))), (
            f"{what}: learning_rate modified its inputs at step {step}"
        )
        assert np.all(np.isfinite(lr)), f"{what}: non-finite learning rate {lr!r}"
        if names and (step + 1) % every == 0:
            epoch = (step + 1) // every
            metrics = dict.fromkeys(names, curve[epoch])
            before = snapshot(new_state)
            observed = schedule.observe(new_state, epoch, metrics)
            assert same_tree(before, snapshot(new_state)), (
                f"{what}: observe modified its input state at epoch {epoch}"
            )
            new_state = observed
        return np.asarray(lr).copy(), new_state

    def rates(start: int = 0, state: Any = None) -> list[Any]:
        state = schedule.init() if state is None else state
        out = []
        for step in range(start, steps):
            lr, state = advance(state, step)
            out.append(lr)
        return out

    full = rates()
    assert _tree_equal(full, rates()), f"{what}: different rates for the same inputs"
    half = steps // 2
    state = schedule.init()
    for step in range(half):
        _, state = advance(state, step)
    resumed = rates(half, roundtrip_state(state))
    assert _tree_equal(full[half:], resumed), (
        f"{what}: after a checkpoint round trip of its state the rates differ"
    )


# --- observers -------------------------------------------------------------------------------

_QUARTIC = {"name": "quartic"}
_SMALL_NETWORK = {"name": "mlp", "data": {"name": "moons", "n": 40}, "hidden": [3]}


def _observer_table(observer: Observer, workdir: Path) -> dict[str, Any]:
    from gdsim.checkpoint import describe_component

    table = describe_component(observer)
    from gdsim.observers.checkpoint import Checkpoint

    if isinstance(observer, Checkpoint):
        table.update(every=5, dir=str(workdir / "checkpoints"), keep=10)
    return table


def check_observer(observer: Observer, registry: Any = None, steps: int = 12) -> None:
    """An observer's promises, in a short run of the engine (the lecture's quartic, or a small
    network when the observer needs data): its ``state_dict`` survives a checkpoint and
    ``load_state_dict`` restores it; a run checkpointed midway and resumed ends with the same
    parameters and the same observer outputs as the run never interrupted."""
    from gdsim import api
    from gdsim.checkpoint import checkpoint_files
    from gdsim.errors import ScenarioError
    from gdsim.observers.checkpoint import Checkpoint, folder_name

    what = f"observer '{observer.name}'"
    state = observer.state_dict()
    fresh = attrs.evolve(observer) if attrs.has(type(observer)) else observer
    fresh.load_state_dict(roundtrip_state(state))
    assert _tree_equal(fresh.state_dict(), state), f"{what}: load_state_dict(state_dict()) differs"

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        table = _observer_table(observer, workdir)
        observers = [table]
        if not isinstance(observer, Checkpoint):
            observers.append(
                {"name": "checkpoint", "every": 5, "dir": str(workdir / "checkpoints"), "keep": 10}
            )
        scenario: dict[str, Any] = {}
        for objective, run_extra in (
            (_QUARTIC, {"init": {"x": 5.0}, "rule": {"name": "momentum", "mu": 0.9}}),
            (_SMALL_NETWORK, {"rule": "adam", "estimator": {"name": "minibatch", "batch_size": 8}}),
        ):
            scenario = {
                "scenario": {"name": "conformance"},
                "objective": objective,
                "runs": [{"name": "run", "steps": steps, "observers": observers, **run_extra}],
            }
            try:
                loaded = api.load(scenario, registry=registry)
                break
            except ScenarioError:
                if objective is _SMALL_NETWORK:
                    raise
        full = api.run(loaded, registry=registry).runs[0]
        assert full.status != "error", f"{what}: the run raised {full.error}"
        folder = workdir / "checkpoints" / folder_name("conformance") / folder_name("run")
        files = [path for step, path in checkpoint_files(folder) if 0 < step < full.steps]
        assert files, f"{what}: the run wrote no checkpoint before its end (steps {full.steps})"
        resumed = api.resume(files[0], registry=registry).runs[0]
        assert resumed.status != "error", f"{what}: the resumed run raised {resumed.error}"
        assert _tree_equal(full.final_params, resumed.final_params), (
            f"{what}: a resumed run ends at different parameters"
        )
        outputs_full = {k: v for k, v in full.outputs.items() if "checkpoint" not in k}
        outputs_resumed = {k: v for k, v in resumed.outputs.items() if "checkpoint" not in k}
        assert _tree_equal(_comparable(outputs_full), _comparable(outputs_resumed)), (
            f"{what}: outputs of a resumed run differ from those of the run never interrupted"
        )


def _comparable(tree: Any) -> Any:
    """Observer outputs without what legitimately differs between two sessions (file paths,
    timings)."""
    if isinstance(tree, dict):
        return {
            k: _comparable(v)
            for k, v in tree.items()
            if not any(word in str(k) for word in ("path", "file", "time", "elapsed"))
        }
    if isinstance(tree, list | tuple):
        return [_comparable(v) for v in tree]
    if isinstance(tree, Path):
        return None
    return tree


# --- data sources ----------------------------------------------------------------------------


def check_data_source(source: DataSource, seeds: Sequence[int] = (0, 1)) -> None:
    """A data source's promises: ``load(rng)`` returns ``X`` float64 (n, d) and ``y`` float64
    (n,), finite, n ≥ 1; classification targets are integers 0 … K−1; the same seed gives the
    same arrays; ``task`` is "classification", "regression" or "any"."""
    what = f"data source '{source.name}'"
    assert source.task in ("classification", "regression", "any"), f"{what}: task {source.task!r}"
    for seed in seeds:
        X, y = source.load(np.random.default_rng(seed))
        for name, arr, ndim in (("X", X, 2), ("y", y, 1)):
            assert isinstance(arr, np.ndarray), f"{what}: {name} is a {type(arr).__name__}"
            assert arr.dtype == np.float64, f"{what}: {name} has dtype {arr.dtype}"
            assert arr.ndim == ndim, f"{what}: {name} has shape {arr.shape}"
            assert np.all(np.isfinite(arr)), f"{what}: {name} has non-finite values"
        assert X.shape[0] == y.shape[0] >= 1, f"{what}: X {X.shape} and y {y.shape} disagree"
        if source.task == "classification":
            assert np.all(y == np.round(y)) and y.min() >= 0, (
                f"{what}: classification targets must be integers 0 … K−1"
            )
        X2, y2 = source.load(np.random.default_rng(seed))
        assert np.array_equal(X, X2) and np.array_equal(y, y2), (
            f"{what}: different arrays for the same seed {seed}"
        )


# --- activations and initializers ------------------------------------------------------------


def check_activation(activation: Activation, seed: int = 0) -> None:
    """An activation's promises: ``forward`` keeps the shape, returns float64 and leaves ``z``
    alone; ``backward(d, z, a)`` equals ``d · f'(z)`` by central differences (away from 0,
    where kinks live), leaves ``z`` and ``a`` alone; it pickles."""
    what = f"activation '{activation.name}'"
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 3.0, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))
    z_copy = z.copy()
    a = activation.forward(z)
    assert np.array_equal(z, z_copy), f"{what}: forward modified z"
    assert isinstance(a, np.ndarray) and a.shape == z.shape and a.dtype == np.float64, (
        f"{what}: forward returned {getattr(a, 'shape', a)!r} of {getattr(a, 'dtype', '?')}"
    )
    assert np.all(np.isfinite(a)), f"{what}: forward gave non-finite values"
    d = rng.standard_normal(z.shape)
    a_copy = a.copy()
    got = activation.backward(d.copy(), z, a)
    assert np.array_equal(z, z_copy) and np.array_equal(a, a_copy), (
        f"{what}: backward modified z or a"
    )
    h = 1e-6
    numeric = d * (activation.forward(z + h) - activation.forward(z - h)) / (2 * h)
    assert np.allclose(got, numeric, rtol=1e-5, atol=1e-7), (
        f"{what}: backward differs from d·f'(z) by central differences (max error "
        f"{float(np.max(np.abs(got - numeric))):g})"
    )
    _pickles(activation, what)


def check_initializer(initializer: Initializer, seed: int = 0) -> None:
    """An initializer's promises: a finite float64 (fan_in, fan_out) array for a few shapes and
    scales, the same for the same seed, drawn from ``rng`` only."""
    what = f"initializer '{initializer.name}'"
    for fan_in, fan_out, scale in ((1, 1, 1.0), (3, 5, 0.5), (7, 2, 2.0)):
        W = initializer.weights(np.random.default_rng(seed), fan_in, fan_out, scale)
        assert isinstance(W, np.ndarray) and W.shape == (fan_in, fan_out), (
            f"{what}: returned shape {getattr(W, 'shape', W)!r}, expected {(fan_in, fan_out)}"
        )
        assert W.dtype == np.float64 and np.all(np.isfinite(W)), f"{what}: not finite float64"
        again = initializer.weights(np.random.default_rng(seed), fan_in, fan_out, scale)
        assert np.array_equal(W, again), f"{what}: different weights for the same seed"
    _pickles(initializer, what)


# --- rules and transforms, through the existing checks -----------------------------------------


def _rule_problem(seed: int) -> tuple[Params, list[Params]]:
    rng = np.random.default_rng(seed)
    params = {"a": rng.standard_normal(3), "b": rng.standard_normal((2, 2))}
    grads = [{k: rng.standard_normal(np.shape(v)) for k, v in params.items()} for _ in range(6)]
    return params, grads


def check_rule(rule: UpdateRule, seed: int = 0) -> None:
    """:func:`gdsim.testing.check_rule_contract` on random data; for elementwise rules also
    :func:`gdsim.testing.check_elementwise_split`; the state survives a checkpoint, and the
    rule pickles."""
    from gdsim.testing import check_elementwise_split, check_rule_contract, run_rule

    params, grads = _rule_problem(seed)
    check_rule_contract(rule, params, grads, 0.01)
    _, state = run_rule(rule, params, grads, 0.01)
    roundtrip_state(state)
    if rule.elementwise:
        rows = {k: np.atleast_1d(v) for k, v in params.items()}
        a = {k: v[:1] for k, v in rows.items()}
        b = {k: v[1:] for k, v in rows.items()}
        ga = [{k: np.atleast_1d(g[k])[:1] for k in g} for g in grads]
        gb = [{k: np.atleast_1d(g[k])[1:] for k in g} for g in grads]
        check_elementwise_split(rule, a, b, ga, gb, 0.01)
    _pickles(rule, f"rule '{rule.name}'")


def check_transform(transform: GradientTransform, seed: int = 0) -> None:
    """:func:`gdsim.testing.check_transform_contract` on random data; the state survives a
    checkpoint, and the transform pickles."""
    from gdsim.testing import check_transform_contract

    params, grads = _rule_problem(seed)
    check_transform_contract(transform, params, grads)
    state = transform.init(params)
    for g in grads:
        _, state = transform.apply(g, state, params)
    roundtrip_state(state)
    _pickles(transform, f"transform '{transform.name}'")


# --- backends -------------------------------------------------------------------------------

BACKEND_KINDS = ("objective", "rule", "transform", "schedule")
"""The kinds a compiled backend runs inside its loop (the others stay on the host)."""


def check_backends(component: Any, rtol: float = 1e-12) -> str:
    """Run ``component`` on every installed array backend and compare with numpy.

    A component marked ``array_api`` (:mod:`gdsim.xp`) is run traced under ``jax.jit``
    (float64) when JAX is installed and must agree with numpy to ``rtol`` relative
    (:func:`gdsim.tracing.compare_backends`); a marked component that cannot be traced fails
    with the file and line of the offending numpy call or value branch. An unmarked component
    is not failed: it keeps working on the numpy backend. Returns what was checked, for the
    report: ``"numpy, jax"``, ``"numpy (jax not installed)"`` or ``"not array-API: numpy
    backend only"``.
    """
    from gdsim.tracing import compare_backends, installed_backends

    if component.kind not in BACKEND_KINDS:
        return "numpy"
    if not component.array_api:
        return "not array-API: numpy backend only"
    backends = installed_backends()
    if "jax" in backends:
        compare_backends(component, rtol=rtol)
        return ", ".join(backends)
    return "numpy (jax not installed)"


# --- the runner ------------------------------------------------------------------------------


class NeedsExamples(TypeError):
    """A component class needs parameters and offers no ``conformance_examples``."""


def examples_of(cls: type, workdir: Path) -> list[Any]:
    """The instances the kit checks: ``cls.conformance_examples(workdir)`` if defined, else
    ``cls()``; raises :class:`NeedsExamples` when the class needs parameters and gives no
    examples."""
    make = getattr(cls, "conformance_examples", None)
    if make is not None:
        return list(make(workdir))
    required = [
        f.name
        for f in attrs.fields(cls)
        if f.init and f.default is attrs.NOTHING and not f.name.startswith("_")
    ]
    if required:
        raise NeedsExamples(f"{cls.__name__} needs {', '.join(required)}")
    return [cls()]


@attrs.frozen
class Case:
    """One conformance check: a component of a kind from a plugin, and how to run it."""

    kind: str
    name: str
    plugin: str
    distribution: str
    cls: type
    registry: Any = attrs.field(repr=False, eq=False)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def run(self, notes: list[str] | None = None) -> int:
        """Run the checks on every example; return how many were checked (0: skipped).

        Each example is also run on every installed backend (:func:`check_backends`); what
        that covered is appended to ``notes`` when given."""
        with tempfile.TemporaryDirectory() as tmp:
            from gdsim.registry import using_registry

            with using_registry(self.registry):
                try:
                    examples = examples_of(self.cls, Path(tmp))
                except NeedsExamples:
                    return 0
                for example in examples:
                    CHECKS[self.kind](example, self.registry)
                    note = check_backends(example)
                    if notes is not None and note not in notes:
                        notes.append(note)
                return len(examples)


def _objective_for(component: Any, validation: bool = False) -> Objective:
    """A small data-backed objective (to draw batches from, to name metrics of)."""
    from gdsim.objectives.mlp import MLP

    split = [0.5, 0.5, 0.0] if validation else [1.0, 0.0, 0.0]
    return MLP(data={"name": "moons", "n": 40, "split": split}, hidden=[3])


CHECKS: dict[str, Callable[[Any, Any], None]] = {
    "objective": lambda c, _r: check_objective(c),
    "estimator": lambda c, _r: check_estimator(c, _objective_for(c)),
    "rule": lambda c, _r: check_rule(c),
    "transform": lambda c, _r: check_transform(c),
    "schedule": lambda c, _r: check_schedule(c),
    "observer": lambda c, r: check_observer(c, registry=r),
    "data": lambda c, _r: check_data_source(c),
    "activation": lambda c, _r: check_activation(c),
    "initializer": lambda c, _r: check_initializer(c),
}
"""The check of each kind, called with an example instance and the registry."""


def conformance_cases(distribution: str, registry: Any = None) -> list[Case]:
    """One case per component that the installed ``distribution`` contributes ("gdsim" for the
    built-ins), in the order ``gdsim plugins`` lists them. Raises ``LookupError`` when no
    loaded plugin comes from that distribution."""
    from gdsim.registry import default_registry

    registry = registry or default_registry()
    wanted = _normalise(distribution)
    plugins = [p for p in registry.plugins if _normalise(p.distribution) == wanted]
    if not plugins:
        known = sorted({p.distribution for p in registry.plugins})
        raise LookupError(
            f"no installed gdsim plugin comes from distribution '{distribution}' "
            f"(installed: {', '.join(known)})"
        )
    cases = []
    for plugin in plugins:
        if plugin.error:
            raise LookupError(f"plugin '{plugin.name}' failed to load: {plugin.error}")
        for kind, names in plugin.components.items():
            for name in names:
                cls = registry.get(kind, name)
                cases.append(Case(kind, name, plugin.name, plugin.distribution, cls, registry))
    return cases


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@attrs.frozen
class Outcome:
    """What one case gave: "passed" (with how many examples), "skipped" or "failed"."""

    case: Case
    status: str
    detail: str = ""


def run_conformance(cases: Iterable[Case]) -> list[Outcome]:
    """Run every case, collecting failures instead of stopping at the first."""
    outcomes = []
    for case in cases:
        notes: list[str] = []
        try:
            checked = case.run(notes)
        except AssertionError as exc:
            outcomes.append(Outcome(case, "failed", str(exc)))
        except Exception as exc:
            outcomes.append(Outcome(case, "failed", f"raised {type(exc).__name__}: {exc}"))
        else:
            if checked:
                backends = f"; {'; '.join(notes)}" if case.kind in BACKEND_KINDS else ""
                outcomes.append(Outcome(case, "passed", f"{checked} example(s){backends}"))
            else:
                outcomes.append(
                    Outcome(
                        case,
                        "skipped",
                        "needs parameters: define a classmethod conformance_examples(workdir)",
                    )
                )
    return outcomes
