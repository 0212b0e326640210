"""How much the observers cost the hot loop, as ratios against a bare run in the same process.

    python benchmarks/bench_observers.py [STEPS]

Runs GD on the quartic for STEPS steps (default 200 000) bare, then with the progress bar (as
the command line adds it on a terminal, drawing into a buffer), the recorder every 1000 steps,
and a checkpoint every 50 000 steps, and prints each best time over the bare run's
(7 interleaved rounds).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from typing import Any

import gdsim
from gdsim.progress import ProgressBar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def scenario(steps: int, observers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "scenario": {"name": "bench"},
        "objective": {"name": "quartic"},
        "runs": [
            {
                "name": "gd",
                "init": {"x": 5.0},
                "steps": steps,
                "schedule": {"name": "constant", "lr": 0.01},
                "observers": observers,
            }
        ],
    }


def best_of(repeats: int, fn: Any) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(steps: int) -> None:
    folder = tempfile.mkdtemp()
    bare = gdsim.load(scenario(steps, []))
    cases = {
        "progress bar": (
            bare,
            lambda spec: [ProgressBar.for_spec(spec, _Terminal())],
        ),
        "recorder every 1000": (
            gdsim.load(scenario(steps, [{"name": "recorder", "every": 1000}])),
            None,
        ),
        "checkpoint every 50000": (
            gdsim.load(scenario(steps, [{"name": "checkpoint", "every": 50_000, "dir": folder}])),
            None,
        ),
    }
    runners = {"bare": lambda: gdsim.run(bare)}
    for name, (loaded, extra) in cases.items():
        runners[name] = lambda loaded=loaded, extra=extra: gdsim.run(loaded, extra_observers=extra)
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(7):  # interleaved rounds, so that load on the machine hits every case alike
        for name, fn in runners.items():
            best[name] = min(best[name], best_of(1, fn))
    base = best["bare"]
    print(f"bare run: {steps} steps in {base:.3f} s ({steps / base:,.0f} steps/s)")
    for name in cases:
        print(f"{name:<24} {best[name] / base:.3f} x the bare run")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
