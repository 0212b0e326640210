"""``gdsim new-plugin``: the generated package passes its own tests and the conformance kit as
generated. Here it is made importable the way pip does (its source folder on the path and a
``*.dist-info`` with the entry point); CI (.ci/run) also pip-installs one into a fresh venv."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gdsim.cli import main
from gdsim.template import KINDS, names_for, render


def installed_like_pip(folder: Path, env_root: Path) -> dict[str, str]:
    """An environment in which ``folder``'s package is importable and its entry point found."""
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = env_root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    entries = "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["gdsim"].items())
    (info / "entry_points.txt").write_text(f"[gdsim]\n{entries}", encoding="utf-8")
    env = dict(os.environ)
    paths = [str(env_root), str(folder / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def test_generated_plugin_passes_its_tests_and_the_kit(tmp_path: Path, cli) -> None:
    args = ["new-plugin", "gdsim-heavy-ball", "--dir", str(tmp_path)]
    for kind in KINDS:
        args += ["--kind", kind]
    created = cli.invoke(main, args)
    assert created.exit_code == 0, created.output
    folder = tmp_path / "gdsim-heavy-ball"
    env = installed_like_pip(folder, tmp_path / "site")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "passed" in tests.stdout and "skipped" not in tests.stdout
    code = "import sys; from gdsim.cli import main; sys.argv = ['gdsim', *sys.argv[1:]]; main()"
    check = subprocess.run(
        [sys.executable, "-c", code, "check-plugin", "gdsim-heavy-ball"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{len(KINDS)} passed, 0 failed, 0 not checked" in check.stdout


def test_each_kind_alone_gives_valid_python_and_only_what_was_asked() -> None:
    for kind in KINDS:
        files = render("gdsim-demo", [kind])
        for path, text in files.items():
            if path.endswith(".py"):
                ast.parse(text, filename=path)
            assert "$" not in text.replace("$ ", ""), f"{path}: an unreplaced placeholder"
        plugin = files["src/gdsim_demo/plugin.py"]
        hooks = [line for line in plugin.splitlines() if line.startswith("def gdsim_")]
        assert len(hooks) == 1, hooks
        assert 'demo = "gdsim_demo.plugin"' in files["pyproject.toml"]


def test_names_are_derived_and_checked() -> None:
    assert names_for("gdsim-Heavy_ball")["module"] == "gdsim_heavy_ball"
    assert names_for("my.rules")["short"] == "my_rules"
    assert names_for("my.rules")["camel"] == "MyRules"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9lives"], "not a valid package name"),
        (["gdsim-adam", "--kind", "rule"], "'adam', which gdsim already registers"),
        (["gdsim-moons", "--kind", "data"], "'moons', which gdsim already registers"),
        (["gdsim-class"], "reserved word"),
    ],
)
def test_bad_names_exit_2(args: list[str], message: str, tmp_path: Path, cli) -> None:
    result = cli.invoke(main, ["new-plugin", *args, "--dir", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path, cli) -> None:
    (tmp_path / "gdsim-mine").mkdir()
    (tmp_path / "gdsim-mine" / "keep.txt").write_text("mine", encoding="utf-8")
    result = cli.invoke(main, ["new-plugin", "gdsim-mine", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert [p.name for p in (tmp_path / "gdsim-mine").iterdir()] == ["keep.txt"]
