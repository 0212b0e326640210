"""The ``gdsim`` command line: a thin layer over :mod:`gdsim.api`.

Exit codes: 0 success; 1 a run failed its expectations or diverged where that was not allowed;
2 bad input (scenario, options, plugins).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from gdsim import __version__
from gdsim.errors import GdsimError
from gdsim.fileio import write_json, write_text
from gdsim.registry import Registry, default_registry
from gdsim.results import Results, RunResult, to_jsonable

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
def run(scenario: Path, as_json: bool, out: Path | None, only: tuple[str, ...]) -> None:
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
        results = api.run(loaded, registry=registry, only=list(only) or None)
    except GdsimError as exc:
        _fail(str(exc))
        return
    if out is not None:
        try:
            write_results(results, out)
        except OSError as exc:
            _fail(f"cannot write results to {out}: {exc}")
    if as_json:
        click.echo(json.dumps(results.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(format_table(results))
        if out is not None:
            click.echo(f"\nresults written to {out}")
    sys.exit(EXIT_OK if results.passed else EXIT_FAILED)


def _format_number(value: Any) -> str:
    if value is None:
        return "-"
    return repr(float(value))


def _format_array(value: np.ndarray) -> str:
    if value.ndim == 0:
        return repr(float(value))
    if value.size <= 4:
        return "[" + ", ".join(repr(float(v)) for v in value.ravel()) + "]"
    return f"array{value.shape}"


def _format_params(run: RunResult) -> str:
    return ", ".join(f"{k} = {_format_array(v)}" for k, v in run.final_params.items())


def _format_expectations(run: RunResult) -> str:
    if not run.expectations:
        return "-"
    ok = sum(o.passed for o in run.expectations)
    total = len(run.expectations)
    return f"ok ({ok}/{total})" if ok == total else f"FAILED ({total - ok} of {total})"


def _format_status(run: RunResult) -> str:
    if run.status == "diverged":
        return f"diverged@{run.diverged_at}"
    return run.status


def format_table(results: Results) -> str:
    """The human-readable table of a scenario's runs, with failed expectations below it."""
    header = ("run", "status", "steps", "final params", "final loss", "expectations")
    rows = [
        (
            r.name,
            _format_status(r),
            str(r.steps),
            _format_params(r),
            _format_number(r.final_loss),
            _format_expectations(r),
        )
        for r in results.runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {2}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    scenario = results.scenario
    title = scenario.name + (f": {scenario.description}" if scenario.description else "")
    lines = [title, "", line(header), line(tuple("-" * w for w in widths))]
    lines += [line(row) for row in rows]
    failures = [(r, o) for r in results.runs for o in r.expectations if not o.passed]
    if failures:
        lines.append("")
        lines.append("failed expectations:")
        for r, o in failures:
            detail = f" [{o.detail}]" if o.detail else ""
            lines.append(
                f"  {r.name}: {o.name}: expected {_plain(o.expected)}, got {_plain(o.actual)}"
                f"{detail}"
            )
    passed = sum(r.passed for r in results.runs)
    lines.append("")
    lines.append(f"{passed} of {len(results.runs)} runs met their expectations")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    value = to_jsonable(value)
    return json.dumps(value) if not isinstance(value, str) else value


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("._") or "run"


def write_results(results: Results, out: Path) -> None:
    """Write ``summary.json`` and one CSV trace per run and observer into ``out``, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    summary = results.to_dict()
    for run, entry in zip(results.runs, summary["runs"], strict=True):
        files = []
        for observer, data in run.outputs.items():
            trace = data.get("trace") if isinstance(data, dict) else None
            if not trace:
                continue
            rel = f"traces/{_file_name(run.name)}.{_file_name(observer)}.csv"
            write_text(out / rel, trace_to_csv(trace))
            files.append(rel)
        entry["files"] = files
    write_json(out / "summary.json", summary)


def trace_to_csv(trace: dict[str, np.ndarray]) -> str:
    """A CSV with one column per scalar and one per coordinate of array-valued entries."""
    columns: list[tuple[str, np.ndarray]] = []
    for key, values in trace.items():
        values = np.asarray(values)
        if values.ndim <= 1:
            columns.append((key, values))
        else:
            flat = values.reshape(values.shape[0], -1)
            for j in range(flat.shape[1]):
                index = np.unravel_index(j, values.shape[1:])
                columns.append((f"{key}[{','.join(str(i) for i in index)}]", flat[:, j]))
    lines = [",".join(name for name, _ in columns)]
    n = len(columns[0][1]) if columns else 0
    for i in range(n):
        lines.append(",".join(_csv_cell(col[i]) for _, col in columns))
    return "\n".join(lines) + "\n"


def _csv_cell(value: Any) -> str:
    if isinstance(value, np.integer | int):
        return str(int(value))
    value = float(value)
    return "" if np.isnan(value) else repr(value)


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
    click.echo(
        f"{scenario}: ok ({len(loaded.runs)} runs: {', '.join(r.name for r in loaded.runs)})"
    )


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
