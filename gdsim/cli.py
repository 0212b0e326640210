"""The ``gdsim`` command line: a thin layer over :mod:`gdsim.api`.

Exit codes: 0 success; 1 a run failed its expectations or diverged where that was not allowed;
2 bad input (scenario, options, plugins).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from gdsim import __version__
from gdsim import plugin_kit as _plugin_kit
from gdsim.components import KINDS
from gdsim.errors import GdsimError, PluginError, did_you_mean, with_hint
from gdsim.registry import Registry, default_registry
from gdsim.report import format_table, write_results
from gdsim.weights import AmbiguousRunError

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


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _load(scenario: Path, registry: Registry) -> Any:
    """Load and validate a scenario; anything that goes wrong here is bad input (exit 2)."""
    from gdsim import api

    try:
        return api.load(scenario, registry=registry)
    except GdsimError as exc:
        _fail(str(exc))
    except Exception as exc:  # e.g. a data set too large to build: still the input's fault
        if os.environ.get("GDSIM_TRACEBACK"):
            raise
        _fail(f"{scenario}: cannot load the scenario: {type(exc).__name__}: {exc}")


def _run_failed(
    exc: BaseException,
    source: str,
    scenario: Any = None,
    out: Path | None = None,
    force: bool = False,
) -> NoReturn:
    """Exit for an exception out of the runs: bad input 2, Ctrl-C 130, a component's bug 1.

    A component's bug is one plain line; GDSIM_TRACEBACK=1 shows the traceback. After Ctrl-C
    the runs that had finished are written to ``out``.
    """
    if isinstance(exc, GdsimError):
        _fail(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        _interrupted(scenario, getattr(exc, "results", None), out, force)
    if not isinstance(exc, Exception) or os.environ.get("GDSIM_TRACEBACK"):
        raise exc
    _fail(
        f"{source}: a run raised {type(exc).__name__}: {exc} (set GDSIM_TRACEBACK=1 to see where)",
        EXIT_FAILED,
    )


class _OneLineUsageError(click.ClickException):
    """click's usage errors in gdsim's form: one line ``error: …``, exit 2, no usage block."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _one_line(exc: click.UsageError, commands: list[str]) -> _OneLineUsageError:
    message = exc.format_message()
    if message.startswith("No such command"):
        name = message.split("'")[1] if message.count("'") >= 2 else ""
        known = f"(known: {', '.join(sorted(commands))})"
        message = with_hint(f"no such command '{name}' {known}", did_you_mean(name, commands))
    command = exc.ctx.command_path if exc.ctx is not None else "gdsim"
    return _OneLineUsageError(f"{message} (see {command} --help)")


class _Group(click.Group):
    """The gdsim group: a usage error (bad option value, missing argument) is one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _one_line(exc, list(self.commands)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc, list(self.commands)) from None


class _Choice(click.Choice):
    """click.Choice whose error suggests the closest choice (did you mean first)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and value not in self.choices:
            choices = [str(c) for c in self.choices]
            self.fail(
                with_hint(
                    f"unknown value '{value}' (expected one of: {', '.join(choices)})",
                    did_you_mean(value, choices),
                ),
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


class _ScenarioPath(click.Path):
    """A scenario file; a folder given instead lists the scenario files it holds."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        path = Path(value)
        if path.is_dir():
            files = sorted(p.name for p in path.glob("*.toml"))
            inside = f" (scenario files in it: {', '.join(files)})" if files else ""
            self.fail(
                f"'{value}' is a folder; expected a scenario file (.toml){inside}", param, ctx
            )
        return super().convert(value, param, ctx)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
@click.version_option(__version__, "--version", "-V", prog_name="gdsim")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Simulate gradient-descent optimizers from declarative TOML scenarios.

    Start with: gdsim run scenarios/escape_local_min.toml --plot
    """
    from gdsim.deprecation import print_plainly

    print_plainly(lambda line: click.echo(line, err=True))
    if ctx.invoked_subcommand is None:  # plain `gdsim`: the help, and success
        click.echo(ctx.get_help())
        ctx.exit(EXIT_OK)


# --- run -------------------------------------------------------------------------------------


def _output_options(func: Any) -> Any:
    """The options shared by ``run`` and ``resume``: output files, plots, verbosity."""
    options = [
        click.option(
            "--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary."
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write summary.json and per-run traces (CSV, Parquet) into this folder.",
        ),
        click.option(
            "--plot",
            is_flag=True,
            help="Draw plots into OUT/plots (OUT defaults to results/SCENARIO-NAME).",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="Replace OUT even when it holds files that are not gdsim results.",
        ),
        click.option(
            "--format",
            "fmt",
            type=_Choice(["png", "svg"]),
            default="png",
            show_default=True,
            help="File format of the plots.",
        ),
        click.option(
            "--quiet", "-q", is_flag=True, help="No progress bar and no table (exit code only)."
        ),
        click.option(
            "--verbose", "-v", is_flag=True, help="Report each run, checkpoint and early stop."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _extra_observers(quiet: bool) -> Any:
    """The progress bar factory, when stderr is a terminal and the user did not ask for quiet."""
    from gdsim.progress import ProgressBar, is_terminal

    if quiet or not is_terminal(sys.stderr):
        return None
    return lambda spec: [ProgressBar.for_spec(spec, sys.stderr)]


def _terminal_width() -> int | None:
    """The width of the terminal on stdout; None when stdout is a pipe or a file."""
    import shutil

    from gdsim.progress import is_terminal

    return shutil.get_terminal_size().columns if is_terminal(sys.stdout) else None


def _set_verbosity(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        _fail("--quiet and --verbose exclude each other")
    logger = logging.getLogger("gdsim")
    for old in [h for h in logger.handlers if getattr(h, "_gdsim_cli", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)  # warnings always, -v adds progress notes
    handler.setFormatter(logging.Formatter("gdsim: %(message)s"))
    handler._gdsim_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)


def _interrupted(
    scenario: Any = None, partial: Any = None, out: Path | None = None, force: bool = False
) -> NoReturn:
    """Keep what finished, say how to continue the rest, then exit 130 (as for SIGINT).

    The finished runs go to ``out`` (a partial results folder); the resume hint names only
    runs that had not finished and have a checkpoint.
    """
    from gdsim.checkpoint import checkpoint_files
    from gdsim.observers.checkpoint import Checkpoint, folder_name

    finished = {r.name for r in getattr(partial, "runs", ())}
    click.echo("\ninterrupted", err=True)
    total = len(getattr(scenario, "runs", ()))
    if partial is not None and finished:
        where = ""
        if out is not None:
            from gdsim.outfolder import staged

            try:
                with staged(out, force) as stage:
                    write_results(partial, stage)
                where = f"; their results are in {out}"
            except (OSError, GdsimError) as exc:
                where = f"; cannot write them to {out}: {exc}"
        else:
            where = " (give --out to keep the results of an interrupted run)"
        click.echo(f"  {len(finished)} of {total} runs had finished{where}", err=True)
    folders = []
    roots: set[Path] = set()  # where ensembles of the unfinished runs saved themselves
    for spec in getattr(scenario, "runs", ()):
        if spec.name in finished:
            continue
        for obs in spec.observers:
            if isinstance(obs, Checkpoint):
                root = Path(obs.dir) / folder_name(scenario.name)
                roots.add(root)
                folder = root / folder_name(spec.name)
                if checkpoint_files(folder):
                    folders.append(folder)
    for root in sorted(roots):  # only ensembles this command saved (not older ones there)
        ensembles = root.glob("ensemble-*") if root.is_dir() else ()
        folders.extend(sorted(f for f in ensembles if _saved_since(f, _STARTED[0])))
    for folder in folders:
        click.echo(f"  continue with: gdsim resume {folder}", err=True)
    sys.exit(130)


_STARTED = [0.0]
"""When the current ``run`` or ``resume`` command started (seconds since the epoch)."""


def _saved_since(folder: Path, started: float) -> bool:
    """Does ``folder`` hold a checkpoint written since ``started``?"""
    from gdsim.checkpoint import checkpoint_files

    files = checkpoint_files(folder)
    return bool(files) and files[-1][1].stat().st_mtime >= started - 1.0


def _check_out(out: Path | None, force: bool) -> None:
    """Refuse an unusable --out before any run starts, not after hours of work."""
    from gdsim.outfolder import check_replaceable

    if out is not None:
        try:
            check_replaceable(out, force)
        except GdsimError as exc:
            _fail(str(exc))


def _write_folder(results: Any, out: Path, plot: bool, fmt: str, force: bool) -> list[Path]:
    """Write the results folder (summary, traces, sweeps, plots) staged, then swap it in."""
    from gdsim.outfolder import staged

    plots: list[Path] = []
    plot_error: str | None = None
    with staged(out, force) as stage:
        write_results(results, stage)
        if results.scenario.sweeps:
            from gdsim.summary import write_sweep_outputs

            # with --plot the basin map is drawn once, as plots/basins.png
            write_sweep_outputs(results, stage, maps=not plot)
        if plot:
            from gdsim import plotting

            try:  # from the results in memory: re-reading the folder would cost a second load
                drawn = plotting.save_figures(plotting.plot_results(results), stage / "plots", fmt)
                plots = [out / p.relative_to(stage) for p in drawn]
            except GdsimError as exc:  # the results are still worth keeping
                plot_error = str(exc)
            except OSError as exc:
                plot_error = f"cannot write plots to {out}: {exc}"
    if plot_error is not None:
        _fail(plot_error)
    return plots


def _report(
    results: Any,
    as_json: bool,
    out: Path | None,
    plot: bool,
    fmt: str,
    quiet: bool,
    force: bool = False,
) -> None:
    """Write the results folder and plots, print the table or JSON, exit with the outcome."""
    if plot and out is None:
        from gdsim.observers.checkpoint import folder_name

        out = Path("results") / folder_name(results.scenario.name)
    sweeps = bool(results.scenario.sweeps)
    plots: list[Path] = []
    if out is not None:
        try:
            plots = _write_folder(results, out, plot, fmt, force)
        except GdsimError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"cannot write results to {out}: {exc}")
    if as_json:
        data = results.to_dict()
        if sweeps:
            from gdsim.summary import summarise

            data["sweeps"] = summarise(results)
        click.echo(json.dumps(data, indent=2, allow_nan=False))
    elif not quiet:
        if sweeps:
            from gdsim.summary import format_sweep_report

            click.echo(format_sweep_report(results))
        else:
            click.echo(format_table(results, width=_terminal_width()))
        if out is not None:
            click.echo(f"\nresults written to {out}")
        for path in plots:
            click.echo(f"plot written to {path}")
        if plot and not plots:
            click.echo(
                "no plots drawn: no run recorded a trace to draw "
                '(add observers = ["recorder"] to the runs you want to see)'
            )
    _report_errors(results)
    sys.exit(EXIT_OK if results.passed else EXIT_FAILED)


def _report_errors(results: Any) -> None:
    """Runs that raised: their tracebacks with GDSIM_TRACEBACK=1, else a hint (on stderr)."""
    if not results.status_counts().get("error"):  # (from the columns for big sweeps)
        return
    failed = [r for r in results.runs if r.status == "error"]
    if os.environ.get("GDSIM_TRACEBACK"):
        for run in failed:
            click.echo(f"run '{run.name}' raised:\n{run.traceback}", err=True)
    else:
        click.echo(
            f"{len(failed)} run{'s' if len(failed) > 1 else ''} raised an error "
            "(set GDSIM_TRACEBACK=1 to see where)",
            err=True,
        )


@main.command()
@click.argument("scenario", type=_ScenarioPath(dir_okay=False, path_type=Path))
@click.option("--run", "only", multiple=True, help="Run only the named run (repeatable).")
@click.option(
    "--resume",
    "resume",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Continue a run from this checkpoint file or run folder (repeatable).",
)
@click.option(
    "--executor",
    type=_Choice(["vectorised", "process", "dask"]),
    default="vectorised",
    show_default=True,
    help="Where runs execute; every executor gives the same results bit for bit.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (process, dask).")
@click.option("--scheduler", help="Dask scheduler address (default: start a local cluster).")
@click.option(
    "--backend",
    type=_Choice(["numpy", "jax"]),
    default=None,
    help="Where ensembles step (overrides the scenario's backend key; see docs/backends.md).",
)
@_output_options
def run(
    scenario: Path,
    only: tuple[str, ...],
    resume: tuple[Path, ...],
    executor: str,
    workers: int | None,
    scheduler: str | None,
    backend: str | None,
    as_json: bool,
    out: Path | None,
    plot: bool,
    force: bool,
    fmt: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run every run of SCENARIO and print a table of the results."""
    from gdsim import api

    _STARTED[0] = time.time()
    _set_verbosity(quiet, verbose)
    _check_out(out, force)
    registry = _registry()
    loaded = _load(scenario, registry)
    names = [r.name for r in loaded.runs] if only else []  # a sweep's names: made when needed
    for name in only:
        if name not in names:
            hint = did_you_mean(name, names)
            _fail(with_hint(f"{scenario}: no run named '{name}' (runs: {', '.join(names)})", hint))
    if only:
        _check_saved_weights(scenario, loaded, set(only))
    # per-run progress bars step runs one by one (on numpy): not when a backend is asked for
    one_by_one = executor == "vectorised" and not loaded.sweeps
    one_by_one = one_by_one and (backend or loaded.backend) == "numpy"
    from gdsim.checkpoint import load as load_checkpoint

    try:
        checkpoints = [load_checkpoint(path) for path in resume]
        for saved in checkpoints:
            _say_resuming(saved, quiet or as_json)
        results = api.run(
            loaded,
            registry=registry,
            only=list(only) or None,
            resume=checkpoints,
            # a progress bar per run steps runs here, one by one: only for a few runs in this
            # process; sweeps and the other executors get a runs-done counter instead
            extra_observers=_extra_observers(quiet) if one_by_one else None,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            progress=not one_by_one and not quiet,
            backend=backend,
        )
    except BaseException as exc:
        _run_failed(exc, str(scenario), loaded, out, force)
    _report(results, as_json, out, plot, fmt, quiet, force)


# --- resume ----------------------------------------------------------------------------------


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Save new checkpoints into DIR/SCENARIO/RUN (default: beside CHECKPOINT; the dir "
    "stored in the checkpoint is never used).",
)
@_output_options
def resume(
    checkpoint: Path,
    checkpoint_dir: Path | None,
    as_json: bool,
    out: Path | None,
    plot: bool,
    force: bool,
    fmt: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Continue the run saved in CHECKPOINT (a step-*.npz file or a run's checkpoint folder).

    The scenario is the one stored in the checkpoint; the result equals that of a run never
    interrupted, to the last bit.
    """
    from gdsim import api

    _STARTED[0] = time.time()
    _set_verbosity(quiet, verbose)
    _check_out(out, force)
    if checkpoint.is_file() and checkpoint.suffix.lower() in (".toml", ".json"):
        _fail(
            f"{checkpoint}: expected a checkpoint (a step-*.npz file or a run's checkpoint "
            f"folder), got a scenario; gdsim run {checkpoint} runs a scenario"
        )
    registry = _registry()
    from gdsim.checkpoint import load as load_checkpoint

    try:
        loaded = load_checkpoint(checkpoint)
        _say_resuming(loaded, quiet or as_json)
        results = api.resume(
            loaded,
            registry=registry,
            extra_observers=_extra_observers(quiet),
            checkpoint_dir=checkpoint_dir,
        )
    except BaseException as exc:
        _run_failed(exc, str(checkpoint), out=out, force=force)
    _report(results, as_json, out, plot, fmt, quiet, force)


def _say_resuming(saved: Any, quiet: bool) -> None:
    """Say on stderr what continues, from which step and which file (not with -q or --json:
    scripts read the results, not this)."""
    if quiet:
        return
    runs = saved.runs
    what = f"run '{runs[0]}'" if len(runs) == 1 else f"{len(runs)} runs ('{runs[0]}', …)"
    click.echo(f"resuming {what} at step {saved.step} from {saved.path}", err=True)


def _check_saved_weights(scenario: Path, loaded: Any, only: set[str]) -> None:
    """A selected run starting from weights that a run left out saves: say to run that first."""
    from gdsim.observers.checkpoint import folder_name

    for spec in loaded.runs:
        init = spec.init_from
        if spec.name not in only or init is None or Path(init.path).exists():
            continue
        parts = set(Path(init.path).parts)
        savers = [
            s.name
            for s in loaded.runs
            if s.name not in only
            and folder_name(s.name) in parts
            and any(o.name == "checkpoint" for o in s.observers)
        ]
        if savers:
            saver = savers[0]
            _fail(
                f"{init.where}: {init.path}: no such file or folder yet; run '{saver}' of this "
                f"scenario saves it, so run it first (gdsim run {scenario} --run {saver}) or "
                f"with this run (--run {saver} --run {spec.name})"
            )


# --- plot ------------------------------------------------------------------------------------


@main.command()
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=_Choice(["png", "svg"]),
    default="png",
    show_default=True,
    help="File format of the plots.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the plots (default: RESULTS_DIR/plots).",
)
@click.option(
    "--animate",
    is_flag=True,
    help="Also write the paths moving over the objective (GIF, or MP4 where ffmpeg is).",
)
@click.option(
    "--animate-format",
    type=_Choice(["auto", "gif", "mp4"]),
    default="auto",
    show_default=True,
    help="File format of the animation (auto: MP4 when ffmpeg is installed, else GIF).",
)
def plot(results_dir: Path, fmt: str, out: Path | None, animate: bool, animate_format: str) -> None:
    """Draw the plots of a results folder written by gdsim run --out."""
    from gdsim import plotting

    try:
        paths = plotting.plot_folder(results_dir, format=fmt, out=out)
        if animate:
            paths += plotting.animate_folder(results_dir, out=out, format=animate_format)
    except GdsimError as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"cannot write plots: {exc}")
        return
    for path in paths:
        click.echo(f"plot written to {path}")


# --- validate --------------------------------------------------------------------------------


@main.command()
@click.argument("scenario", type=_ScenarioPath(dir_okay=False, path_type=Path))
def validate(scenario: Path) -> None:
    """Check SCENARIO without running it."""

    loaded = _load(scenario, _registry())
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
@click.argument("kind", type=_Choice(KINDS), metavar="KIND")
@click.argument("name")
def describe(kind: str, name: str) -> None:
    """Show a component's documentation and parameters.

    KIND is one of objective, estimator, rule, transform, schedule, observer, data,
    activation, initializer; NAME a component of that kind (gdsim plugins lists them).
    """
    import inspect

    from gdsim.components import describe_params
    from gdsim.registry import UnknownComponentError

    registry = _registry()
    try:
        entry = registry.entry(kind, name)
    except PluginError as exc:
        _fail(str(exc))
    except UnknownComponentError as exc:
        _fail(with_hint(f"unknown {kind} '{name}' (known: {', '.join(exc.known)})", exc.suggestion))
        return
    cls = entry.cls
    click.echo(f"{kind} '{name}' from {entry.plugin.distribution} {entry.plugin.version}\n")
    click.echo(inspect.getdoc(cls) or "")
    params = describe_params(cls)
    click.echo("\nparameters:" if params else "\nparameters: none")
    if kind == "data":  # the keys every data table takes besides the source's own
        click.echo("  (and every data table's seed, split, standardize: see docs/data.md)")
    for p in params:
        default = "required" if p.required else f"default {p.default!r}"
        click.echo(f"  {p.name} ({p.type}, {default}){': ' + p.doc if p.doc else ''}")


# --- plugin authors: check-plugin, new-plugin (in gdsim.plugin_kit) --------------------------

main.add_command(_plugin_kit.check_plugin)
main.add_command(_plugin_kit.new_plugin)


# --- evaluate (the lecture's loader) ---------------------------------------------------------


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--split",
    type=_Choice(["train", "validation", "test"]),
    default="test",
    show_default=True,
    help="The data split to score the weights on.",
)
@click.option("--run", "run_name", help="The run whose weights to load (results folders).")
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rebuild the objective from this scenario instead of the one saved with the weights.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(
    source: Path, split: str, run_name: str | None, scenario: Path | None, as_json: bool
) -> None:
    """Score saved weights on a data split: SOURCE is a checkpoint (step-*.npz or a run's
    checkpoint folder) or a results folder written by gdsim run --out."""
    from gdsim import api

    _registry()
    try:
        report = api.evaluate(source, split=split, run=run_name, scenario=scenario)
    except AmbiguousRunError as exc:
        _fail(str(exc.rephrase("--run NAME")))
    except GdsimError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(report, indent=2, allow_nan=False))
        return
    samples = f" ({report['samples']} samples)" if report["samples"] is not None else ""
    click.echo(
        f"weights: {report['source']} (run '{report['run']}', {report['kind']}, "
        f"step {report['step']})"
    )
    metrics = ", ".join(f"{k} {v:.6g}" for k, v in report["metrics"].items())
    click.echo(f"{report['split']} split{samples}: {metrics}")
