"""A big quartic sweep from a scenario file, end to end, vs the direct vectorised call.

    python benchmarks/sweep_scale.py [--points N] [--evaluation exact|horner]

The scenario sweeps momentum's mu (100 values) × the start x (N / 100 values), 100 steps.
Each measurement runs in a fresh child process (so that their peak memory can be read):

- direct: the same arrays stepped by ``gdsim.ensemble.simulate`` (what a hand-written study
  would call), with the ensemble's outcome arrays as the result;
- end to end: ``gdsim.load`` (expansion and validation), ``gdsim.run`` (the ensemble built
  from the sweep's columns, its results kept as columns) and the sweep summary
  (``gdsim.summary.summarise``).

Targets (issue 13 a, d): load ≤ 2 s, the whole ≤ 1.5 × the direct call, memory beyond the
arrays ≤ 300 MB. The script prints each phase, so that where the time goes is visible.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIO = """
[objective]
name = "quartic"
evaluation = "{evaluation}"

[[runs]]
name = "m"
steps = 100
schedule = {{ name = "constant", lr = 0.1 }}
rule = {{ name = "momentum", mu = {{ linspace = [0.0, 0.99, 100] }} }}
init.x = {{ linspace = [-5, 5, {starts}] }}
"""

DIRECT = """
import json, sys, time
import numpy as np
from gdsim.ensemble import simulate
from gdsim.objectives.polynomial import Quartic
from gdsim.rules.classic import Momentum
from gdsim.schedules import Constant
starts, evaluation = int(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
mu = np.repeat(np.linspace(0.0, 0.99, 100), starts).reshape(-1)
x0 = np.tile(np.linspace(-5, 5, starts), 100)
out = simulate(Quartic(evaluation=evaluation), Momentum(mu=0.9), Constant(lr=0.1), {"x": x0},
               100, hyper=[(0, "mu", mu)])
print(json.dumps({"direct": time.perf_counter() - t}))
"""

END_TO_END = """
import json, sys, time
import gdsim
from gdsim.summary import summarise
t0 = time.perf_counter()
scenario = gdsim.load(sys.argv[1])
t1 = time.perf_counter()
results = gdsim.run(scenario)
t2 = time.perf_counter()
summarise(results)
t3 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "run": t2 - t1, "summary": t3 - t2, "runs": len(results)}))
"""


def child(code: str, *args: str) -> tuple[dict, float]:
    """Run ``code`` in a fresh interpreter: its printed timings and its peak memory (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(done.stdout.strip().splitlines()[-1]), max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--evaluation", choices=["exact", "horner"], default="exact")
    args = parser.parse_args()
    starts = max(1, args.points // 100)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.toml"
        path.write_text(SCENARIO.format(evaluation=args.evaluation, starts=starts))
        direct, direct_mb = child(DIRECT, str(starts), args.evaluation)
        whole, whole_mb = child(END_TO_END, str(path))
    total = whole["load"] + whole["run"] + whole["summary"]
    print(f"{whole['runs']} runs × 100 steps, evaluation = {args.evaluation!r}")
    print(f"  direct vectorised call     {direct['direct']:8.2f} s   peak {direct_mb:7.0f} MB")
    print(f"  load (expand + validate)   {whole['load']:8.2f} s   (target <= 2 s)")
    print(f"  run (ensemble + results)   {whole['run']:8.2f} s")
    print(f"  sweep summary              {whole['summary']:8.2f} s")
    print(
        f"  end to end                 {total:8.2f} s   peak {whole_mb:7.0f} MB"
        f"   ratio {total / direct['direct']:.1f} (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
