"""Engine overhead: one scalar quartic run with momentum, recorder every step, vs a plain loop.

Runs both in this process and prints the time per step and the ratio. Target (issue 3):
≤ 10 µs per step through gdsim. Usage: ``python benchmarks/engine_overhead.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import time

from gdsim import api

LR, MU, X0 = 0.1, 0.9, -5.0
A, B, C, D = 319 / 8400, 43 / 4200, -6799 / 8400, -299 / 840


def plain_loop(steps: int) -> tuple[float, list[float]]:
    """The same arithmetic in pure Python floats, recording x every step."""
    x, v = X0, 0.0
    trace = []
    for _ in range(steps):
        g = 4 * A * x**3 + 3 * B * x**2 + 2 * C * x + D
        v = MU * v - LR * g
        x = x + v
        trace.append(x)
    return x, trace


def scenario(steps: int) -> dict:
    return {
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "momentum",
                "init": {"x": X0},
                "rule": {"name": "momentum", "mu": MU},
                "schedule": {"name": "constant", "lr": LR},
                "steps": steps,
                "observers": [{"name": "recorder", "every": 1}],
            }
        ],
    }


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steps = args.steps

    loaded = api.load(scenario(steps))
    plain_x, _ = plain_loop(steps)
    result = api.run(loaded)[0]
    trace_len = len(result.outputs["recorder"]["trace"]["step"])
    assert trace_len == steps + 1, trace_len
    assert float(result.final_params["x"]) == plain_x, (float(result.final_params["x"]), plain_x)

    t_plain = best_of(args.repeats, lambda: plain_loop(steps))
    t_gdsim = best_of(args.repeats, lambda: api.run(loaded))
    print(f"steps per run          {steps}")
    print(f"plain Python loop      {t_plain / steps * 1e6:8.3f} µs/step")
    print(f"gdsim (recorder every) {t_gdsim / steps * 1e6:8.3f} µs/step")
    print(f"ratio gdsim / plain    {t_gdsim / t_plain:8.1f}x")
    print("target                    10.000 µs/step through gdsim")


if __name__ == "__main__":
    main()
