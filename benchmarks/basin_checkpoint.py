"""Ensemble checkpoints: ``scenarios/basin_map.toml`` with a checkpoint every N steps vs without.

    python benchmarks/basin_checkpoint.py [--every N] [--repeats R]

Loads the basin map (101 starting points × 23 momentum coefficients, up to 1000 steps) as
written, with ``observers = [{ name = "checkpoint", every = N }]`` (default 100), and both
again with a recorder every 10 steps; runs all R times interleaved and prints the best times
and ratios. All four are vectorised ensembles: one checkpoint file holds every member. Before
timing, a resume from a checkpoint in the middle is checked against the uninterrupted results
(every member, bit for bit).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

from gdsim import api
from gdsim import checkpoint as ckpt
from gdsim.ensemble import identical

BASIN = Path(__file__).resolve().parent.parent / "scenarios" / "basin_map.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    raw = tomllib.loads(BASIN.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        saver = {"name": "checkpoint", "every": args.every, "dir": tmp, "keep": 1000}
        recorder = {"name": "recorder", "every": 10}
        variants = {}
        for label, observers in (
            ("without", []),
            (f"checkpoint every {args.every}", [saver]),
            ("recorder every 10", [recorder]),
            (f"recorder + checkpoint every {args.every}", [recorder, saver]),
        ):
            table = copy.deepcopy(raw)
            table["runs"][0]["observers"] = observers
            variants[label] = api.load(table)

        saved = variants[f"recorder + checkpoint every {args.every}"]
        whole = api.run(saved)
        (folder,) = Path(tmp).glob("*/ensemble-*")
        files = ckpt.checkpoint_files(folder)
        step, middle = files[len(files) // 2]
        resumed = api.resume(middle)
        for a, b in zip(whole.runs, resumed.runs, strict=True):
            assert identical(a, b), a.name
            for key, column in a.trace.items():
                assert np.array_equal(column, b.trace[key], equal_nan=True), key
        size = middle.stat().st_size
        print(f"resume from step {step} equals the uninterrupted run ({size / 1e6:.1f} MB file)")

        best = dict.fromkeys(variants, np.inf)
        for _ in range(args.repeats):
            for label, scenario in variants.items():
                start = time.perf_counter()
                api.run(scenario)
                best[label] = min(best[label], time.perf_counter() - start)
    print(f"basin_map.toml, {len(saved.runs)} runs, best of {args.repeats} (interleaved)")
    for label, seconds in best.items():
        print(f"  {label:<36s} {seconds:8.3f} s")
    base = best["without"]
    print(
        f"  checkpoint / without               {best[f'checkpoint every {args.every}'] / base:8.2f}"
    )
    rec = best["recorder every 10"]
    ratio = best[f"recorder + checkpoint every {args.every}"] / rec
    print(f"  recorder + checkpoint / recorder   {ratio:8.2f}")


if __name__ == "__main__":
    main()
