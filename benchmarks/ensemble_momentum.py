"""One million quartic trajectories × 100 momentum steps: gdsim's ensemble vs a plain numpy loop.

Both sides compute the same numbers: each step the loss (gdsim needs it to detect divergence
per run) and the gradient of the lecture's quartic, then the momentum update
``v ← μv − α f'(x); x ← x + v``; and the loss at the end. This is done for both evaluations of
the polynomial: ``exact`` (the default: term by term with correctly rounded powers from
:func:`gdsim.objectives.polynomial.int_powers`, which reproduces the lecture) and ``horner``.
The final iterates and losses are checked to agree bit for bit, then the times and the ratio
gdsim / plain loop are printed (target ≤ 1.2). For context it also times the gradient-only
Horner loop and the textbook ``x**3`` loop (numpy's power, which rounds differently on arrays
and scalars). One process; CPU time of the process, best of ``--repeat`` interleaved rounds.

    OMP_NUM_THREADS=1 python benchmarks/ensemble_momentum.py [--members N] [--steps S]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from gdsim.ensemble import simulate
from gdsim.objectives.polynomial import Quartic, int_powers
from gdsim.rules.classic import Momentum
from gdsim.schedules import Constant

MU, LR = 0.9, 0.1
A, B, C, D, E = Quartic().coefficients


def loss_and_grad_exact(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = int_powers(x, 4)
    loss = A * p[4] + B * p[3] + C * p[2] + D * x + E
    grad = 4 * A * p[3] + 3 * B * p[2] + 2 * C * x + D
    return loss, grad


def loss_and_grad_horner(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    loss = (((A * x + B) * x + C) * x + D) * x + E
    grad = ((4 * A * x + 3 * B) * x + 2 * C) * x + D
    return loss, grad


def plain_loop(x0: np.ndarray, steps: int, evaluation: str) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written loop: loss and gradient, then heavy-ball momentum; final loss."""
    f = loss_and_grad_exact if evaluation == "exact" else loss_and_grad_horner
    x, v = x0, np.zeros_like(x0)
    for _ in range(steps):
        _, g = f(x)
        v = MU * v - LR * g
        x = x + v
    return x, f(x)[0]


def gradient_only_loop(x0: np.ndarray, steps: int) -> np.ndarray:
    x, v = x0, np.zeros_like(x0)
    for _ in range(steps):
        g = ((4 * A * x + 3 * B) * x + 2 * C) * x + D
        v = MU * v - LR * g
        x = x + v
    return x


def textbook_loop(x0: np.ndarray, steps: int) -> np.ndarray:
    x, v = x0, np.zeros_like(x0)
    for _ in range(steps):
        g = 4 * A * x**3 + 3 * B * x**2 + 2 * C * x + D
        v = MU * v - LR * g
        x = x + v
    return x


def through_gdsim(x0: np.ndarray, steps: int, evaluation: str) -> Any:
    objective = Quartic(evaluation=evaluation)
    return simulate(objective, Momentum(mu=MU), Constant(lr=LR), {"x": x0}, steps)


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """CPU seconds of this process (steadier than wall time on a shared machine) and result."""
    started = time.process_time()
    out = fn(*args)
    return time.process_time() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x0 = np.linspace(-5.0, 5.0, args.members)
    print(f"{args.members} trajectories × {args.steps} momentum steps (mu={MU}, alpha={LR})")
    for evaluation in ("horner", "exact"):
        plain_times, gdsim_times = [], []
        for _ in range(args.repeat):  # interleaved rounds, best of each
            t, (x_plain, loss_plain) = timed(plain_loop, x0, args.steps, evaluation)
            plain_times.append(t)
            t, outcome = timed(through_gdsim, x0, args.steps, evaluation)
            gdsim_times.append(t)
        assert outcome.final_params["x"].tobytes() == x_plain.tobytes(), "iterates differ"
        assert outcome.final_loss.tobytes() == loss_plain.tobytes(), "losses differ"
        plain, ours = min(plain_times), min(gdsim_times)
        print(f"  evaluation = {evaluation!r} (final iterates and losses identical bit for bit)")
        print(f"    plain numpy loop, loss + gradient : {plain:8.3f} s CPU")
        print(f"    gdsim vectorised ensemble         : {ours:8.3f} s CPU")
        print(f"    ratio gdsim / plain               : {ours / plain:8.3f}  (target <= 1.2)")
    grad_only, _ = timed(gradient_only_loop, x0, args.steps)
    textbook, _ = timed(textbook_loop, x0, args.steps)
    print(f"  for context: Horner, gradient only  : {grad_only:8.3f} s CPU")
    print(f"  for context: textbook x**3 loop     : {textbook:8.3f} s CPU")


if __name__ == "__main__":
    main()
