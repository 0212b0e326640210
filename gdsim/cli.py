"""The ``gdsim`` command line: a thin layer over :mod:`gdsim.api`.

Exit codes: 0 success; 1 a run failed its expectations or diverged where that was not allowed;
2 bad input (scenario, options, plugins).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gdsim import __version__
from gdsim.errors import GdsimError
from gdsim.registry import Registry, default_registry
from gdsim.report import format_table, write_results

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _registry() -> Registry:
    registry = default_registry()
    for plugin in registry.failures:
        click.echo(
            f"warning: plugin '{plugin.name}' ({plugin.distribution} {plugin.version}) "
            f"failed to load: {plugin.error}",
            err=True,
        )
    return registry


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gdsim")
def main() -> None:
    """Simulate gradient-descent optimizers from declarative TOML scenarios."""


# --- run -------------------------------------------------------------------------------------


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write summary.json and per-run traces (CSV) into this folder.",
)
@click.option("--run", "only", multiple=True, help="Run only the named run (repeatable).")
@click.option(
    "--executor",
    type=click.Choice(["vectorised", "process", "dask"]),
    default="vectorised",
    show_default=True,
    help="Where runs execute; every executor gives the same results bit for bit.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (process, dask).")
@click.option("--scheduler", help="Dask scheduler address (default: start a local cluster).")
def run(
    scenario: Path,
    as_json: bool,
    out: Path | None,
    only: tuple[str, ...],
    executor: str = "vectorised",
    workers: int | None = None,
    scheduler: str | None = None,
) -> None:
    """Run every run of SCENARIO and print a table of the results."""
    from gdsim import api

    registry = _registry()
    try:
        loaded = api.load(scenario, registry=registry)
        names = [r.name for r in loaded.runs]
        for name in only:
            if name not in names:
                from gdsim.errors import did_you_mean

                hint = did_you_mean(name, names)
                _fail(
                    f"{scenario}: no run named '{name}' (runs: {', '.join(names)})"
                    + (f" (did you mean '{hint}'?)" if hint else "")
                )
        results = api.run(
            loaded,
            registry=registry,
            only=list(only) or None,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            progress=True,
        )
    except GdsimError as exc:
        _fail(str(exc))
        return
    if out is not None:
        try:
            write_results(results, out)
            if results.scenario.sweeps:
                from gdsim.summary import write_sweep_outputs

                write_sweep_outputs(results, out)
        except OSError as exc:
            _fail(f"cannot write results to {out}: {exc}")
    if as_json:
        data = results.to_dict()
        if results.scenario.sweeps:
            from gdsim.summary import summarise

            data["sweeps"] = summarise(results)
        click.echo(json.dumps(data, indent=2, allow_nan=False))
    elif results.scenario.sweeps:
        from gdsim.summary import format_sweep_report

        click.echo(format_sweep_report(results))
        if out is not None:
            click.echo(f"\nresults written to {out}")
    else:
        click.echo(format_table(results))
        if out is not None:
            click.echo(f"\nresults written to {out}")
    sys.exit(EXIT_OK if results.passed else EXIT_FAILED)


# --- validate --------------------------------------------------------------------------------


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO without running it."""
    from gdsim import api

    registry = _registry()
    try:
        loaded = api.load(scenario, registry=registry)
    except GdsimError as exc:
        _fail(str(exc))
        return
    names = [r.name for r in loaded.runs]
    if len(names) > 20:  # a sweep: name a few
        names = [*names[:3], f"… {len(names) - 6} more …", *names[-3:]]
    click.echo(f"{scenario}: ok ({len(loaded.runs)} runs: {', '.join(names)})")


# --- plugins ---------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions and the components each contributes."""
    registry = default_registry()
    data = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "components": p.components,
            "error": p.error,
        }
        for p in registry.plugins
    ]
    if as_json:
        click.echo(json.dumps({"plugins": data, "conflicts": registry.conflicts}, indent=2))
    else:
        for p in registry.plugins:
            origin = "built-in" if p.distribution == "gdsim" else "entry point"
            click.echo(f"{p.name}  ({p.distribution} {p.version}, {origin})")
            if p.error:
                click.echo(f"    FAILED TO LOAD: {p.error}")
            for kind, names in p.components.items():
                click.echo(f"    {kind + ':':<11} {', '.join(names)}")
        for conflict in registry.conflicts:
            click.echo(f"error: {conflict}", err=True)
    sys.exit(EXIT_BAD_INPUT if registry.conflicts else EXIT_OK)


# --- describe --------------------------------------------------------------------------------


@main.command()
@click.argument(
    "kind",
    type=click.Choice(["objective", "estimator", "rule", "transform", "schedule", "observer"]),
)
@click.argument("name")
def describe(kind: str, name: str) -> None:
    """Show a component's documentation and parameters."""
    import inspect

    from gdsim.components import describe_params
    from gdsim.registry import UnknownComponentError

    registry = _registry()
    try:
        entry = registry.entry(kind, name)
    except UnknownComponentError as exc:
        hint = f" (did you mean '{exc.suggestion}'?)" if exc.suggestion else ""
        _fail(f"unknown {kind} '{name}'{hint}; known: {', '.join(exc.known)}")
        return
    cls = entry.cls
    click.echo(f"{kind} '{name}' from {entry.plugin.distribution} {entry.plugin.version}\n")
    click.echo(inspect.getdoc(cls) or "")
    params = describe_params(cls)
    click.echo("\nparameters:" if params else "\nparameters: none")
    for p in params:
        default = "required" if p.required else f"default {p.default!r}"
        click.echo(f"  {p.name} ({p.type}, {default}){': ' + p.doc if p.doc else ''}")
