"""A big quartic sweep run in this process, in a 2-process pool and on a 2-worker local Dask
cluster, as ratios to the in-process time.

    python benchmarks/executors_scale.py [--points N] [--workers W] [--repeats R]

Each executor runs the same loaded scenario (momentum's mu × the start x, 100 steps); the
repetitions are interleaved and the best time of each is kept. Target (issue 13, part 5): with
2 workers a 1 000 000-run sweep takes at most 0.7 × the in-process time, on both executors.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import gdsim

SCENARIO = """
[objective]
name = "quartic"

[[runs]]
name = "m"
steps = 100
schedule = {{ name = "constant", lr = 0.1 }}
rule = {{ name = "momentum", mu = {{ linspace = [0.0, 0.99, 100] }} }}
init.x = {{ linspace = [-5, 5, {starts}] }}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--executors", default="vectorised,process,dask")
    args = parser.parse_args()
    executors = args.executors.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.toml"
        path.write_text(SCENARIO.format(starts=max(1, args.points // 100)))
        scenario = gdsim.load(path)
        best = dict.fromkeys(executors, float("inf"))
        for _ in range(args.repeats):
            for executor in executors:
                start = time.perf_counter()
                gdsim.run(scenario, executor=executor, workers=args.workers)
                best[executor] = min(best[executor], time.perf_counter() - start)
    base = best.get("vectorised")
    print(f"{len(scenario.runs)} runs × 100 steps, {args.workers} workers, best of {args.repeats}")
    for executor, seconds in best.items():
        ratio = f"{seconds / base:6.2f} ×" if base else ""
        print(f"  {executor:<10} {seconds:8.2f} s  {ratio}")
    print("  target: process and dask <= 0.70 × vectorised")


if __name__ == "__main__":
    main()
