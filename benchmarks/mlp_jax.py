"""Benchmark: the lecture's network (``mlp_adam.py``'s settings) compiled with jax, four ways.

The same 3 140 Adam steps (20-64-1 sigmoid, batch 128 from a per-epoch shuffle, 20 epochs) run
in one process, float64, on one core:

1. ``plain numpy loop`` — ``mlp_adam.plain_loop``, the numpy reference;
2. ``gdsim numpy`` — ``gdsim.api.run`` on the numpy backend;
3. ``jax + optax`` (i) — a hand-written ``jax.jit`` loop: autodiff of the loss, ``optax.adam``,
   a ``lax.scan`` over each epoch's batches (skipped without optax);
4. ``gdsim parts, jitted scan`` (ii) — gdsim's ``MLP.value_and_grad`` and gdsim's ``Adam.update``
   composed in a hand-written jitted scan over the estimator's batch table
   (``MiniBatch.batches_ahead``): what the compiled unit of work does;
5. ``gdsim run, backend jax`` (iii) — ``gdsim.api.run`` with ``backend = "jax"`` (skipped when
   gdsim has no jax backend).

Every variant draws the initial weights and the batches from the same numpy generator, so the
final weights agree with the numpy backend's up to rounding (exp/log of XLA vs libm, fused
multiply-adds): the last column gives the largest |difference| / largest |weight| over the
parameter arrays. Times are best of ``--repeat`` after one warm-up call (compilation is timed
separately), variants interleaved so that drift hits all alike; they include drawing the batches
on the host and copying them to the device.
Run: ``python benchmarks/mlp_jax.py``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):  # one core for every variant (XLA would use both)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import mlp_adam as bm  # noqa: E402

from gdsim import api  # noqa: E402
from gdsim.objectives.mlp import MLP  # noqa: E402

try:
    import jax
    import jax.numpy as jnp
    from jax import lax
except ImportError:  # pragma: no cover - the benchmark needs jax
    sys.exit("jax is not installed: pip install 'gdsim[jax]'")

jax.config.update("jax_enable_x64", True)


def batch_windows(loaded: Any) -> Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]:
    """The run's batches as the estimator draws them ahead: (epochs, m, B) tables and (epochs, r)
    tails, one window per epoch (a window stops after the epoch's short batch)."""
    run = loaded.runs[0]
    objective, estimator = run.objective, run.estimator

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        state = estimator.init(objective, rng)
        tables, tails, left = [], [], run.steps
        while left:
            window, state = estimator.batches_ahead(state, rng, left)
            assert window.tail is not None and window.epoch_ends[-1]
            tables.append(window.indices)
            tails.append(window.tail)
            left -= window.steps
        return np.stack(tables), np.stack(tails)

    return draw


def epochs_scan(step: Callable, carry: Any, tables: Any, tails: Any) -> Any:
    """Scan ``step`` over every epoch's table of full batches, then its short tail batch."""

    def epoch(carry: Any, window: Any) -> tuple[Any, None]:
        table, tail = window
        carry, _ = lax.scan(step, carry, table)
        carry, _ = step(carry, tail)
        return carry, None

    return lax.scan(epoch, carry, (tables, tails))[0]


def optax_variant(objective: MLP, draw: Callable) -> Callable[[], dict] | str:
    """(i) The hand-written jax + optax loop."""
    try:
        import optax
    except ImportError:
        return "optax not installed"
    X = jnp.asarray(objective.dataset.X["train"])
    y = jnp.asarray(objective.dataset.y["train"][:, None])
    opt = optax.adam(bm.LR, b1=bm.B1, b2=bm.B2, eps=bm.EPS)  # ε outside the root, as gdsim

    def loss(p: dict, xb: Any, yb: Any) -> Any:
        h = 1.0 / (1.0 + jnp.exp(-(xb @ p["W1"] + p["b1"])))
        z = h @ p["W2"] + p["b2"]
        return jnp.mean(jnp.logaddexp(0.0, z) - yb * z)

    def step(carry: Any, idx: Any) -> tuple[Any, Any]:
        p, s = carry
        value, g = jax.value_and_grad(loss)(p, X[idx], y[idx])
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), value

    @jax.jit
    def train(p: dict, tables: Any, tails: Any) -> dict:
        return epochs_scan(step, (p, opt.init(p)), tables, tails)[0]

    def run() -> dict:
        rng = np.random.default_rng(bm.SEED)
        params = objective.init(rng)
        tables, tails = draw(rng)
        return train(params, tables, tails)

    return run


def gdsim_parts_variant(loaded: Any, draw: Callable) -> Callable[[], dict] | str:
    """(ii) gdsim's objective and rule in a hand-written jitted scan."""
    run_spec = loaded.runs[0]
    objective, rule = run_spec.objective, run_spec.rule
    lr = jnp.asarray(bm.LR)

    def step(carry: Any, idx: Any) -> tuple[Any, Any]:
        params, state = carry
        value, grads = objective.value_and_grad(params, idx)
        params, state = rule.update(grads, state, params, lr)
        return (params, state), value

    @jax.jit
    def train(p: dict, state: dict, tables: Any, tails: Any) -> dict:
        return epochs_scan(step, (p, state), tables, tails)[0]

    def run() -> dict:
        rng = np.random.default_rng(bm.SEED)
        params = objective.init(rng)
        state = rule.init(params)  # on the host, as the engine's carry holds it
        tables, tails = draw(rng)
        return train(*jax.tree.map(jnp.asarray, (params, state)), tables, tails)

    try:  # gdsim's rule may not be traceable yet: say why instead of timing nothing
        jax.eval_shape(run)
    except Exception as exc:  # any tracing failure becomes the row's reason
        return f"not traceable: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    return run


def backend_variant() -> Callable[[], dict] | str:
    """(iii) ``gdsim.api.run`` with ``backend = "jax"``."""
    try:
        from gdsim.backends import NAMES
    except ImportError:
        return "gdsim has no backends (gdsim.backends) yet"
    if "jax" not in NAMES:
        return "gdsim has no jax backend"
    raw = bm.scenario()
    raw["backend"] = "jax"
    loaded = api.load(raw)
    return lambda: api.run(loaded).runs[0].final_params


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def relative_difference(params: dict, reference: dict) -> float:
    """max over arrays of max |p − ref| / max |ref|."""
    return max(
        float(np.max(np.abs(np.asarray(params[k]) - reference[k])) / np.max(np.abs(reference[k])))
        for k in reference
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per variant (best kept)")
    args = parser.parse_args()

    loaded = api.load(bm.scenario())
    objective = loaded.runs[0].objective
    assert isinstance(objective, MLP)
    X, y = objective.dataset.X["train"], objective.dataset.y["train"][:, None]
    draw = batch_windows(loaded)

    def run_plain() -> dict:
        rng = np.random.default_rng(bm.SEED)
        return bm.plain_loop(X, y, objective.init(rng), rng)

    candidates: dict[str, Callable[[], Any] | str] = {
        "plain numpy loop": run_plain,
        "gdsim numpy": lambda: api.run(loaded).runs[0].final_params,
        "(i) jax + optax": optax_variant(objective, draw),
        "(ii) gdsim parts, jitted scan": gdsim_parts_variant(loaded, draw),
        "(iii) gdsim run, backend jax": backend_variant(),
    }
    variants = {name: fn for name, fn in candidates.items() if callable(fn)}
    compile_time = {name: timed(fn)[0] for name, fn in variants.items()}  # warm-up
    best = {name: float("inf") for name in variants}
    outputs: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in variants.items():
            seconds, outputs[name] = timed(fn)
            best[name] = min(best[name], seconds)

    steps = loaded.runs[0].steps
    reference = outputs["gdsim numpy"]
    t_plain = best["plain numpy loop"]
    t_optax = best.get("(i) jax + optax")
    print(f"MLP {bm.FEATURES}-{bm.HIDDEN}-1 sigmoid, Adam, batch {bm.BATCH}, {bm.N} samples,")
    print(f"{bm.EPOCHS} epochs ({steps} steps), float64, one core, best of {args.repeat}\n")
    head = f"{'variant':<31} {'seconds':>8} {'1st call':>8} {'µs/step':>8} {'× numpy':>8}"
    print(head + f" {'× optax':>8} {'Δw vs numpy':>12}")
    for name, candidate in candidates.items():
        if not callable(candidate):
            print(f"{name:<31} skipped: {candidate}")
            continue
        t = best[name]
        vs_optax = f"{t / t_optax:>8.2f}" if t_optax else f"{'—':>8}"
        print(
            f"{name:<31} {t:>8.3f} {compile_time[name]:>8.2f} {t / steps * 1e6:>8.1f} "
            f"{t / t_plain:>8.2f} {vs_optax} {relative_difference(outputs[name], reference):>12.2e}"
        )
    print(
        "\nΔw: max |w − w_numpy| / max |w_numpy| over the parameter arrays (gdsim numpy as w_numpy)"
    )
    backend_run = outputs.get("(iii) gdsim run, backend jax")
    if backend_run is not None and all(
        np.array_equal(np.asarray(backend_run[k]), reference[k]) for k in reference
    ):
        print("(iii) equals the numpy backend bit for bit: the run stepped on numpy, not compiled")


if __name__ == "__main__":
    main()
