"""Inputs built to exhaust memory or hang are refused before they are read or allocated."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdsim.cli import main
from gdsim.scenario import MAX_NESTING, MAX_SCENARIO_BYTES, toml_nesting
from gdsim.sweep import MAX_RUNS

LIMIT_BYTES = 2 << 30  # the address space the memory-bounded tests may use
ONE_THREAD = {f"{name}_NUM_THREADS": "1" for name in ("OPENBLAS", "OMP", "MKL")}
"""BLAS libraries reserve address space per thread: one thread keeps a many-core machine
inside the limit."""


def _bounded_gdsim(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the gdsim command in a child whose address space is limited to 2 GiB."""
    code = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES}))
        from gdsim.cli import main
        sys.argv = ["gdsim", *{args!r}]
        main()
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **ONE_THREAD},
    )


def test_deep_dotted_keys_are_refused_before_parsing(tmp_path: Path) -> None:
    text = '[objective]\nname = "quartic"\n[[runs]]\n' + "a" + ".a" * 100_000 + " = 1\n"
    (tmp_path / "deep.toml").write_text(text)
    done = _bounded_gdsim(["validate", "deep.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"nest 100002 deep, more than the limit of {MAX_NESTING}" in done.stderr
    assert "deep.toml: line 4" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 5000 + "]" * 5000,
        "a = " + "{b = " * 5000 + "1" + "}" * 5000,
        "[" + ".".join(["t"] * 5000) + "]\nx = 1",
    ],
)
def test_deep_arrays_tables_and_headers_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "s.toml").write_text(text)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "s.toml")])
    assert result.exit_code == 2
    assert "more than the limit" in result.output


def test_nesting_counts_keys_headers_and_brackets_not_strings() -> None:
    assert toml_nesting("a.b.c = 1")[0] == 3
    assert toml_nesting('a = "x.y.z.[[[{{{"\n')[0] == 1
    assert toml_nesting("# a.b.c.d.e = [[[[\nb = 1")[0] == 1
    assert toml_nesting("[t.u]\nv = [[1], [2]]")[0] == 5
    assert toml_nesting("x = 1\ny = 2\n\n\nz.w = [1]")[1] == 5  # the line is reported


def test_an_oversized_scenario_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    with path.open("w") as handle:
        handle.write("# " + "x" * (MAX_SCENARIO_BYTES + 10) + "\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"larger than the limit of {MAX_SCENARIO_BYTES} bytes" in result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        result = CliRunner().invoke(main, ["validate", str(path)])  # would block or never end
        assert result.exit_code == 2
        assert f"not a regular file ({kind})" in result.output


def test_the_whole_scenario_is_limited_before_any_sweep_is_generated(tmp_path: Path) -> None:
    entries = "".join(
        f'[[runs]]\nname = "r{i}"\ninit.x = {{ linspace = [-5, 5, 1000000] }}\n'
        for i in range(1000)
    )
    (tmp_path / "s.toml").write_text('[objective]\nname = "quartic"\n' + entries)
    done = _bounded_gdsim(["validate", "s.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"expands to more than {MAX_RUNS} runs" in done.stderr
    assert "s.toml: runs[1]:" in done.stderr


def test_zipped_sweeps_count_their_length_and_entries_add_up(tmp_path: Path) -> None:
    n = MAX_RUNS * 6 // 10  # zipped: n runs; crossed it would be n²
    text = '[objective]\nname = "quartic"\n[[runs]]\nname = "a"\nsweep = "zip"\n'
    text += f"init.x = {{ linspace = [-5, 5, {n}] }}\nseed = {{ linspace = [0, {n - 1}, {n}] }}\n"
    text += f'[[runs]]\nname = "b"\ninit.x = {{ linspace = [-5, 5, {n}] }}\n'
    (tmp_path / "s.toml").write_text(text)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "s.toml")])
    assert result.exit_code == 2
    assert f"runs[1]: the scenario expands to more than {MAX_RUNS} runs" in result.output
    assert f"at least {2 * n} by this entry, which has {n}" in result.output


MLP = """
[objective]
name = "mlp"
hidden = [{width}]
[objective.data]
name = "moons"
n = 200
[[runs]]
name = "a"
steps = 1
"""


def test_a_network_too_large_for_memory_is_refused_at_validation(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text(MLP.format(width=1_000_000))
    (tmp_path / "small.toml").write_text(MLP.format(width=1000))
    done = _bounded_gdsim(["validate", "big.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "objective: one run of objective 'mlp' would need about" in done.stderr
    assert "more than the 2 GiB this process may use (the address-space limit" in done.stderr
    done = _bounded_gdsim(["run", "small.toml", "-q"], tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_estimate_bounds_what_a_network_allocates() -> None:
    import tracemalloc

    from gdsim import load
    from gdsim.engine import run

    scenario = load(
        {
            "objective": {
                "name": "mlp",
                "hidden": [256, 128],
                "data": {"name": "moons", "n": 2000},
            },
            "runs": [{"name": "a", "steps": 3, "rule": "adam"}],
        }
    )
    spec = scenario.runs[0]
    estimate = spec.objective.memory_estimate()
    tracemalloc.start()
    run(spec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= estimate.total


def test_a_generated_data_set_too_large_for_memory_is_refused_before_drawing(
    tmp_path: Path,
) -> None:
    text = MLP.format(width=3).replace("n = 200", "n = 10_000_000_000")
    (tmp_path / "s.toml").write_text(text)
    done = _bounded_gdsim(["validate", "s.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "objective.data.n: 10000000000 samples would need about" in done.stderr
