"""Observers inside ensembles: ``scenarios/basin_map.toml`` with a recorder vs without.

    python benchmarks/basin_recorder.py [--every N] [--repeats R]

Loads the basin map (101 starting points × 23 momentum coefficients, up to 1000 steps) twice,
once as written and once with ``observers = [{ name = "recorder", every = N }]`` (default 10),
runs both R times interleaved and prints the best times and their ratio. Target (issue 13):
≤ 1.5 × the run without a recorder. Both are vectorised ensembles; the recorder keeps member ×
time arrays, and every member's trace is checked against its run stepped alone for a sample.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

import numpy as np

from gdsim import api, engine

BASIN = Path(__file__).resolve().parent.parent / "scenarios" / "basin_map.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    raw = tomllib.loads(BASIN.read_text())
    bare = api.load(raw)
    raw["runs"][0]["observers"] = [{"name": "recorder", "every": args.every}]
    recorded = api.load(raw)

    results = api.run(recorded)
    for i in (0, len(results) // 2, len(results) - 1):  # a sample, bit for bit
        alone = engine.run(recorded.runs[i])
        for key, column in alone.trace.items():
            assert np.array_equal(column, results[i].trace[key], equal_nan=True), key

    best = {"without": np.inf, "with": np.inf}
    for _ in range(args.repeats):
        for label, scenario in (("without", bare), ("with", recorded)):
            start = time.perf_counter()
            api.run(scenario)
            best[label] = min(best[label], time.perf_counter() - start)
    print(f"basin_map.toml, {len(bare.runs)} runs, best of {args.repeats} (interleaved)")
    print(f"  without observers            {best['without']:8.3f} s")
    print(f"  recorder every {args.every:<4d}          {best['with']:8.3f} s")
    print(f"  ratio                        {best['with'] / best['without']:8.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
