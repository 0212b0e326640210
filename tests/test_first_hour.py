"""A newcomer's first hour: plain ``gdsim`` helps, the README's quick start installs what
``--plot`` needs, and a missing optional package is named with the command that installs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from gdsim.cli import main
from gdsim.extras import install_command, requirements

ROOT = Path(__file__).resolve().parents[1]
BLOCK_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None; "  # as if matplotlib were not installed
    "from gdsim.cli import main; sys.argv = ['gdsim', *sys.argv[1:]]; main()"
)


def test_gdsim_without_arguments_prints_help_and_succeeds(cli) -> None:
    result = cli.invoke(main, [])
    assert result.exit_code == 0
    assert "Usage: " in result.output and "check-plugin" in result.output


def test_quick_start_installs_the_plot_extra() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick_start, flags=re.S)[0]
    assert '".[plot]"' in commands and "--plot" in commands


def test_extras_commands_come_from_the_declared_extras() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for extra in ("plot", "parquet", "dask"):
        for requirement in requirements(extra):
            assert f'"{requirement}"' in pyproject
        assert install_command(extra).startswith("pip install '")


def test_plot_without_matplotlib_names_the_install_command(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "escape_local_min.toml"
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_MATPLOTLIB, "run", str(scenario), "--plot", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "plots need matplotlib, which is not installed" in result.stderr
    assert install_command("plot") in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deprecated_scenario_key_warns_in_one_plain_line(tmp_path: Path) -> None:
    scenario = tmp_path / "old.toml"
    scenario.write_text(
        '[objective]\nname = "mlp"\ndata = { name = "moons", n = 40 }\n'
        'activation = "leaky_relu"\nnegative_slope = 0.2\n'
        '[[runs]]\nname = "a"\nsteps = 2\n',
        encoding="utf-8",
    )
    code = "import sys; from gdsim.cli import main; sys.argv = ['gdsim', *sys.argv[1:]]; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "run", str(scenario), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (
        "warning: the network's 'negative_slope' is deprecated; give it to the activation: "
        "activation = { name = 'leaky_relu', negative_slope = 0.2 }"
    )
