"""The plugin author's commands: ``gdsim check-plugin`` runs the conformance kit against an
installed distribution, ``gdsim new-plugin`` writes a new plugin package from the template.

They live here, not in :mod:`gdsim.cli`, which only registers them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gdsim.errors import did_you_mean

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@click.command("check-plugin")
@click.argument("distribution")
@click.option("--verbose", "-v", is_flag=True, help="Also list the components that passed.")
def check_plugin(distribution: str, verbose: bool) -> None:
    """Run the conformance kit on every component an installed DISTRIBUTION contributes.

    DISTRIBUTION is the name pip installed (e.g. gdsim-optimizers), or gdsim for the built-ins.
    Exit 0 when every component passes, 1 when one fails or could not be checked (a class
    that needs parameters must offer conformance_examples), 2 when no such plugin is installed.
    """
    from gdsim.conformance import conformance_cases, run_conformance
    from gdsim.registry import default_registry

    registry = default_registry()
    try:
        cases = conformance_cases(distribution, registry)
    except LookupError as exc:
        known = sorted({p.distribution for p in registry.plugins})
        hint = did_you_mean(distribution, known)
        click.echo(f"error: {exc}" + (f" (did you mean '{hint}'?)" if hint else ""), err=True)
        sys.exit(EXIT_BAD_INPUT)
    plugins = sorted({(c.plugin, c.distribution) for c in cases})
    version = (
        next(p.version for p in registry.plugins if p.name == plugins[0][0]) if plugins else ""
    )
    names = ", ".join(p for p, _ in plugins) if len(plugins) <= 3 else f"{len(plugins)} modules"
    click.echo(f"checking {distribution} {version} (plugins: {names}): {len(cases)} components")
    outcomes = run_conformance(cases)
    width = max((len(str(o.case)) for o in outcomes), default=0)
    for outcome in outcomes:
        label = {"passed": "ok", "failed": "FAILED", "skipped": "NOT CHECKED"}[outcome.status]
        if outcome.status != "passed" or verbose:
            click.echo(f"  {label:<11} {outcome.case!s:<{width}}  {outcome.detail}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "skipped")}
    click.echo(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} not checked"
    )
    sys.exit(EXIT_OK if counts["failed"] == counts["skipped"] == 0 else EXIT_FAILED)


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["rule", "schedule", "objective", "data", "observer"]),
    help="Which example components to include (repeatable; default: rule and data).",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the package folder in.",
)
def new_plugin(name: str, kinds: tuple[str, ...], parent: Path) -> None:
    """Create the package of a new gdsim plugin named NAME (e.g. gdsim-heavy-ball).

    The package has a pyproject.toml with the entry point, one example component of each
    kind asked for, tests that run the conformance kit, and a README. As generated, it installs
    with pip and its tests pass.
    """
    from gdsim.template import TemplateError, write_plugin

    try:
        folder = write_plugin(name, kinds or ("rule", "data"), parent)
    except TemplateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"created {folder}")
    click.echo("next:")
    click.echo(f"  pip install -e '{folder}[test]'")
    click.echo(f"  python -m pytest {folder}")
    click.echo(f"  gdsim check-plugin {folder.name}")
