"""Plugin discovery through the entry-point group ``gdsim``, conflicts and broken plugins.

Each test writes real distributions (a module plus a ``*.dist-info`` folder with
``entry_points.txt``) into a temporary folder and runs ``gdsim`` in a subprocess with that folder
on ``PYTHONPATH``: exactly what ``importlib.metadata`` sees after ``pip install``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_scenario

PLUGIN_SOURCE = '''
from typing import ClassVar
import attrs
from gdsim.components import UpdateRule, param
from gdsim.hookspecs import hookimpl


@attrs.frozen
class HalfStep(UpdateRule):
    """Takes half a gradient step: x <- x - lr/2 * g."""

    name: ClassVar[str] = "{rule_name}"
    factor: float = param(0.5)

    def update(self, grads, state, params, lr):
        return {{k: x - self.factor * lr * grads[k] for k, x in params.items()}}, state


@hookimpl
def gdsim_rules():
    return [HalfStep]
'''


def make_distribution(
    root: Path, dist: str, version: str, module: str, source: str, ep_name: str | None = None
) -> None:
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[gdsim]\n{ep_name or module} = {module}\n", encoding="utf-8"
    )


def gdsim_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    code = "import sys; from gdsim.cli import main; sys.argv = ['gdsim', *sys.argv[1:]]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_installed_plugin_is_discovered_listed_and_usable(tmp_path):
    make_distribution(
        tmp_path,
        "gdsim-halfstep",
        "1.2.3",
        "gdsim_halfstep",
        PLUGIN_SOURCE.format(rule_name="half"),
    )
    listing = gdsim_cli(tmp_path, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins["gdsim_halfstep"]["distribution"] == "gdsim-halfstep"
    assert plugins["gdsim_halfstep"]["version"] == "1.2.3"
    assert plugins["gdsim_halfstep"]["components"] == {"rule": ["half"]}
    assert "gd" in plugins["gdsim.rules.classic"]["components"]["rule"]

    text = gdsim_cli(tmp_path, "plugins")
    assert "gdsim_halfstep  (gdsim-halfstep 1.2.3" in text.stdout

    scenario = write_scenario(
        tmp_path,
        'objective = "quartic"\n[[runs]]\nname = "h"\nsteps = 1\ninit = { x = 5.0 }\n'
        'rule = { name = "half", factor = 0.5 }\nschedule = { name = "constant", lr = 0.2 }\n',
    )
    run = gdsim_cli(tmp_path, "run", str(scenario), "--json")
    assert run.returncode == 0, run.stderr
    x = json.loads(run.stdout)["runs"][0]["final"]["params"]["x"]
    grad = 4 * 319 / 8400 * 125 + 3 * 43 / 4200 * 25 + 2 * -6799 / 8400 * 5 - 299 / 840
    assert abs(x - (5.0 - 0.5 * 0.2 * grad)) < 1e-12


def test_two_plugins_with_one_name_is_an_error_naming_both(tmp_path):
    source = PLUGIN_SOURCE.format(rule_name="half")
    make_distribution(tmp_path, "first-dist", "1.0", "first_plugin", source)
    make_distribution(tmp_path, "second-dist", "2.0", "second_plugin", source)
    listing = gdsim_cli(tmp_path, "plugins")
    assert listing.returncode == 2
    assert "first-dist 1.0" in listing.stderr and "second-dist 2.0" in listing.stderr
    assert "rule 'half' is registered twice" in listing.stderr

    scenario = write_scenario(
        tmp_path, 'objective = "quartic"\n[[runs]]\nname = "a"\nrule = "half"\n'
    )
    run = gdsim_cli(tmp_path, "run", str(scenario))
    assert run.returncode == 2
    assert "runs[0].rule" in run.stderr
    assert "first-dist" in run.stderr and "second-dist" in run.stderr
    assert "Traceback" not in run.stderr
    describe = gdsim_cli(tmp_path, "describe", "rule", "half")
    assert describe.returncode == 2 and "registered twice" in describe.stderr

    # the clash makes only that name unusable: everything else still runs
    other = tmp_path / "other.toml"
    other.write_text('objective = "quartic"\n[[runs]]\nname = "a"\n', encoding="utf-8")
    assert gdsim_cli(tmp_path, "run", str(other)).returncode == 0


def test_plugin_shadowing_a_builtin_name_is_a_conflict(tmp_path):
    make_distribution(
        tmp_path, "shadow", "0.1", "shadow_plugin", PLUGIN_SOURCE.format(rule_name="gd")
    )
    listing = gdsim_cli(tmp_path, "plugins")
    assert listing.returncode == 2
    assert "gdsim 0.1.0" in listing.stderr and "shadow 0.1" in listing.stderr


def test_a_broken_plugin_is_reported_without_hiding_the_others(tmp_path):
    make_distribution(tmp_path, "broken-dist", "0.9", "broken_plugin", "import no_such_module\n")
    make_distribution(
        tmp_path, "good-dist", "1.0", "good_plugin", PLUGIN_SOURCE.format(rule_name="half")
    )
    listing = gdsim_cli(tmp_path, "plugins", "--json")
    assert listing.returncode == 0
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert "ModuleNotFoundError" in plugins["broken_plugin"]["error"]
    assert plugins["broken_plugin"]["distribution"] == "broken-dist"
    assert plugins["good_plugin"]["components"] == {"rule": ["half"]}

    scenario = write_scenario(
        tmp_path, 'objective = "quartic"\n[[runs]]\nname = "a"\nrule = "half"\n'
    )
    run = gdsim_cli(tmp_path, "run", str(scenario))
    assert run.returncode == 0, run.stderr
    assert "plugin 'broken_plugin' (broken-dist 0.9) failed to load" in run.stderr
    assert "no_such_module" in run.stderr


def test_a_plugin_with_a_broken_hook_contributes_nothing(tmp_path):
    # its good hook would shadow the built-in adam; its bad hook makes the whole plugin fail
    source = PLUGIN_SOURCE.format(rule_name="adam") + (
        "\n\n@hookimpl\ndef gdsim_schedules():\n    return ['not a class']\n"
    )
    make_distribution(tmp_path, "half-broken", "0.2", "half_broken", source)
    listing = gdsim_cli(tmp_path, "plugins", "--json")
    assert listing.returncode == 0
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert "not a Schedule class" in plugins["half_broken"]["error"]
    assert plugins["half_broken"]["components"] == {}
    describe = gdsim_cli(tmp_path, "describe", "rule", "adam")
    assert describe.returncode == 0 and "from gdsim " in describe.stdout


def test_a_hook_returning_garbage_is_reported(tmp_path):
    source = (
        "from gdsim.hookspecs import hookimpl\n\n@hookimpl\ndef gdsim_rules():\n    return [42]\n"
    )
    make_distribution(tmp_path, "garbage", "0.1", "garbage_plugin", source)
    listing = gdsim_cli(tmp_path, "plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert "not a UpdateRule class" in plugins["garbage_plugin"]["error"]
