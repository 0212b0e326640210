"""What ``--plot`` costs on a big sweep: ``gdsim run SCENARIO --plot`` over the same run without.

    python benchmarks/plot_overhead.py [SCENARIO] [--repeats N]

Runs the command line (a fresh interpreter each time, as a user runs it: imports included) in
interleaved pairs, N times each (default 7), and prints the median wall time of each command
and the ratio of the medians. Two pairs are timed:

- ``gdsim run SCENARIO`` against ``gdsim run SCENARIO --plot`` (which also writes the results
  folder, ``results/NAME`` under a temporary working directory): what issue 11 asks to keep
  within 1.5x on ``scenarios/basin_map.toml``;
- ``gdsim run SCENARIO --out DIR`` against ``... --out DIR --plot``: the figures alone.

Interleaving (plain, plot, plain, plot, ...) spreads a busy machine's slow moments over both
commands; the ratio of medians cancels the machine's speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    return elapsed


def pair(name: str, plain: list[str], plot: list[str], repeats: int, cwd: str) -> float:
    timed(plain, cwd)  # warm the file cache (and matplotlib's font cache) once
    timed(plot, cwd)
    times: dict[str, list[float]] = {"plain": [], "plot": []}
    for _ in range(repeats):
        times["plain"].append(timed(plain, cwd))
        times["plot"].append(timed(plot, cwd))
    a, b = statistics.median(times["plain"]), statistics.median(times["plot"])
    print(f"{name}")
    print(f"  without --plot: median {a:.3f} s  ({', '.join(f'{t:.2f}' for t in times['plain'])})")
    print(f"  with --plot:    median {b:.3f} s  ({', '.join(f'{t:.2f}' for t in times['plot'])})")
    print(f"  ratio {b / a:.2f}x")
    return b / a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "basin_map.toml"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    scenario = str(Path(args.scenario).resolve())
    gdsim = [sys.executable, "-m", "gdsim", "run", scenario]
    with tempfile.TemporaryDirectory() as cwd:
        out = str(Path(cwd) / "out")
        pair("gdsim run S  vs  gdsim run S --plot", gdsim, [*gdsim, "--plot"], args.repeats, cwd)
        pair(
            "gdsim run S --out D  vs  gdsim run S --out D --plot",
            [*gdsim, "--out", out],
            [*gdsim, "--out", out, "--plot"],
            args.repeats,
            cwd,
        )


if __name__ == "__main__":
    main()
