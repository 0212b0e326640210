"""One million quartic trajectories × 100 momentum steps on gdsim's JAX backend vs hand-written
``jax.jit`` loops (issue 16, part 6).

Three ways to do the same arithmetic, in one process, float64, wall time after compilation
(best of ``--repeat`` interleaved rounds), for each evaluation of the quartic that traces:

- **gdsim, backend = "jax"**: :func:`gdsim.ensemble.simulate` with the lecture's quartic,
  ``Momentum(mu=0.9)`` and ``Constant(lr=0.1)``, everything a simulation does included: the
  compiled block of 100 steps, divergence detection (each step checks the quartic's loss box,
  ``Objective.loss_radius``, fused into the update; the last step checks the loss itself),
  the final loss, the outcome arrays and the copies between host and device.
- **hand-written, gradient only** (the issue's reference, target <= 1.5 x): a ``jax.jit``
  ``fori_loop`` computing the gradient and the momentum step, nothing else; XLA never
  computes the loss. It cannot notice divergence.
- **hand-written, loss check**: the same loop also computing the loss each step and or-ing an
  elementwise "loss not acceptable" flag, one ``any`` at the end, and the final loss: what a
  simulator would do without the loss box (on XLA:CPU the loss beside the gradient costs
  2-3 x).

The quartic is evaluated the same way on every side: Horner against Horner (the same
expression the objective's code builds) and, when it traces, ``exact`` (correctly rounded
powers by double-double products, :func:`gdsim.objectives.polynomial.int_powers`) against the
same double-double written by hand. The final iterates of gdsim and
of the loss-checking loop are checked to be identical bit for bit, and their agreement
with numpy's is printed.

    python benchmarks/jax_ensemble.py [--members N] [--steps S] [--repeat R]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gdsim.backends import BackendError
from gdsim.ensemble import simulate
from gdsim.objectives.polynomial import Quartic
from gdsim.rules.classic import Momentum
from gdsim.schedules import Constant

MU, LR, MAX_LOSS = 0.9, 0.1, 1e100
A, B, C, D, E = Quartic().coefficients


def horner(x: Any) -> tuple[Any, Any]:
    """Loss and gradient by Horner's scheme, in the objective's order of operations."""
    loss = (((A * x + B) * x + C) * x + D) * x + E
    grad = ((4 * A * x + 3 * B) * x + 2 * C) * x + D
    return loss, grad


def _split(a: Any) -> tuple[Any, Any]:
    t = 134217729.0 * a  # Dekker: 2**27 + 1
    hi = t - (t - a)
    return hi, a - hi


def exact(x: Any) -> tuple[Any, Any]:
    """Loss and gradient term by term with correctly rounded powers (double-double products),
    written out for degree 4; overflowing powers fall back to the plain product."""
    xh, xl = _split(x)
    p2 = x * x
    lo = ((xh * xh - p2) + 2.0 * (xh * xl)) + xl * xl
    powers = [1.0, x, p2]
    hi = p2
    for k in (3, 4):
        p = hi * x
        hh, hl = _split(hi)
        lo = (((hh * xh - p) + hh * xl + hl * xh) + hl * xl) + lo * x
        value = p + lo
        powers.append(value)
        if k < 4:
            lo = lo - (value - p)
            hi = value
    for k in (3, 4):
        powers[k] = jnp.where(jnp.isfinite(powers[k]), powers[k], powers[k - 1] * x)
    loss = A * powers[4] + B * powers[3] + C * powers[2] + D * x + E
    grad = 4 * A * powers[3] + 3 * B * powers[2] + 2 * C * x + D
    return loss, grad


def hand_written(f: Callable[[Any], Any], check: bool, steps: int) -> Callable[..., Any]:
    @jax.jit
    def run(x0: Any) -> Any:
        def body(_: Any, carry: Any) -> Any:
            x, v, bad = carry
            loss, g = f(x)
            if check:
                bad = bad | ~(jnp.abs(loss) <= MAX_LOSS)
            v = MU * v - LR * g
            return x + v, v, bad

        start = (x0, jnp.zeros_like(x0), jnp.zeros(x0.shape, dtype=bool))
        x, _, bad = lax.fori_loop(0, steps, body, start)
        return x, f(x)[0], jnp.any(bad)

    return run


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - started)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    x0 = np.linspace(-5.0, 5.0, args.members)
    device = jax.devices()[0]
    print(
        f"{args.members} trajectories × {args.steps} momentum steps (mu={MU}, alpha={LR}), "
        f"float64 on {device.platform}, jax {jax.__version__}"
    )
    for name, f in (("horner", horner), ("exact", exact)):
        objective = Quartic(evaluation=name)

        def gdsim_jax(objective: Any = objective) -> Any:
            return simulate(
                objective, Momentum(mu=MU), Constant(lr=LR), {"x": x0}, args.steps, backend="jax"
            )

        try:
            gdsim_jax()  # compile
        except BackendError as exc:
            print(f"  evaluation = {name!r}: not on the jax backend yet ({exc})")
            continue
        with jax.enable_x64(True):
            xj = jax.device_put(x0, device)
            checked = hand_written(f, True, args.steps)
            bare = hand_written(f, False, args.steps)
            jax.block_until_ready((checked(xj), bare(xj)))  # compile
            rounds: dict[str, list[float]] = {"gdsim": [], "checked": [], "bare": []}
            outs: dict[str, Any] = {}
            for _ in range(args.repeat):  # interleaved rounds
                for key, fn in (
                    ("gdsim", gdsim_jax),
                    ("checked", functools.partial(checked, xj)),
                    ("bare", functools.partial(bare, xj)),
                ):
                    t, outs[key] = best(fn, 1)
                    rounds[key].append(t)
        ours, fair, issue = (min(rounds[k]) for k in ("gdsim", "checked", "bare"))
        x_gdsim = outs["gdsim"].final_params["x"]
        same = x_gdsim.tobytes() == np.asarray(outs["checked"][0]).tobytes()
        on_numpy = simulate(objective, Momentum(mu=MU), Constant(lr=LR), {"x": x0}, args.steps)
        y = on_numpy.final_params["x"]
        rel = np.abs(x_gdsim - y) / np.abs(y)
        print(f"  evaluation = {name!r}")
        print(f"    gdsim, backend = 'jax'             : {ours:8.4f} s")
        print(f"    hand-written jit, loss check       : {fair:8.4f} s   (same bits: {same})")
        print(f"    hand-written jit, gradient only    : {issue:8.4f} s")
        print(f"    ratio gdsim / gradient only        : {ours / issue:8.3f}  (target <= 1.5)")
        print(f"    ratio gdsim / hand-written + check : {ours / fair:8.3f}")
        print(
            f"    vs numpy: {np.mean(rel <= 1e-12):.4%} of final iterates within 1e-12 relative, "
            f"max {rel.max():.1e} (FMA differences amplified where a trajectory passes the "
            "local maximum: the chaotic members of docs/backends.md)"
        )


if __name__ == "__main__":
    main()
