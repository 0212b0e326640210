"""What ``--plot`` costs on a big sweep: ``gdsim run SCENARIO --plot`` over the same run without.

    python benchmarks/plot_overhead.py [SCENARIO] [--repeats N]

Runs the command line (a fresh interpreter each time, as a user runs it: imports included) in
interleaved pairs, N times each (default 7), and prints the median wall time of each command
and the ratio of the medians. Two pairs are timed:

- ``gdsim run SCENARIO`` against ``gdsim run SCENARIO --plot`` (which also writes the results
  folder, ``results/NAME`` under a temporary working directory): what issue 11 asks to keep
  within 1.5x on ``scenarios/basin_map.toml``;
- ``gdsim run SCENARIO --out DIR`` against ``... --out DIR --plot``: the figures alone.

It also times, in fresh interpreters, importing ``matplotlib.figure`` with the Agg canvas (what
gdsim's figures need) and then ``matplotlib.pyplot`` on top: the floor that any figure drawn
with matplotlib adds to a run, and what avoiding pyplot saves.

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


IMPORTS = """
import time
import gdsim.cli  # numpy and the rest of what a run imports anyway
t0 = time.perf_counter()
import matplotlib.figure, matplotlib.backends.backend_agg
t1 = time.perf_counter()
import matplotlib.pyplot
print(t1 - t0, time.perf_counter() - t1)
"""


def imports(repeats: int) -> None:
    figure, pyplot = [], []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True)
        a, b = (float(v) for v in done.stdout.split())
        figure.append(a)
        pyplot.append(b)
    print("importing matplotlib (fresh interpreter, after gdsim and numpy)")
    print(f"  matplotlib.figure + Agg canvas: median {statistics.median(figure):.3f} s")
    print(f"  matplotlib.pyplot on top:       median {statistics.median(pyplot):.3f} s")


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
    imports(args.repeats)


if __name__ == "__main__":
    main()
