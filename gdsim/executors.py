"""Where runs execute: in this process (vectorised), in a local process pool, or on Dask.

Every executor hands out the same work, :func:`gdsim.ensemble.run_specs` over a chunk of runs,
and every run's result depends only on its own specification, so the results are the same bit
for bit whichever executor ran them and however the runs were chunked. The pool and Dask help
when runs cannot be vectorised (observers, data-backed objectives) or when one process is not
enough. A scenario's runs (:class:`gdsim.runs.Runs`) are cut with ``Runs.pieces``: a sweep's
share of a chunk is shipped as columns (its template, validated parts and index slice) and made
into run objects by the worker; the chunk's results come back as columns
(:class:`gdsim.results.ResultColumns`, without their specs) and are made into result objects
with the main process's own specs of the same runs. Dask is an optional extra
(``pip install 'gdsim[dask]'``) imported only when chosen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.ensemble import run_specs
from gdsim.errors import GdsimError, Interrupted
from gdsim.results import Block, ResultColumns, RunList

if TYPE_CHECKING:
    import pluggy

    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec, Scenario

EXECUTORS = ("vectorised", "process", "dask")
CHUNKS_PER_WORKER = 4


class ExecutorError(GdsimError):
    """An executor cannot be used as asked (missing extra, unreachable scheduler, bad option)."""


class Progress:
    """A one-line ``runs done / total`` counter on stderr, drawn only when it is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(isatty()) if enabled is None else enabled
        self._drawn = 0.0

    def __call__(self, finished: int) -> None:
        self.done += finished
        now = time.monotonic()
        if self.enabled and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            self.stream.write(f"\rgdsim: {self.done}/{self.total} runs done")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def chunks(items: Sequence[Any], count: int) -> list[list[Any]]:
    """``items`` cut into at most ``count`` contiguous, nearly equal pieces (order kept)."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return [c for c in out if c]


def _run_chunk(specs: Sequence[RunSpec], scenario: Scenario | None = None) -> ResultColumns:
    """Worker side: run a chunk with this process's registry (so plugin hooks still fire);
    its results go back as columns, without their specs (see :func:`_received`)."""
    from gdsim.ensemble import paused_gc
    from gdsim.registry import default_registry

    results = run_specs(specs, pm=default_registry().pm, scenario=scenario)
    with paused_gc():
        if isinstance(results, RunList):  # swept entries stepped from their columns
            return ResultColumns.concat(
                [
                    b.columns if isinstance(b, Block) else ResultColumns.from_runs(list(b))
                    for b in results.blocks
                ]
            )
        return ResultColumns.from_runs(list(results))


def _received(columns: ResultColumns, piece: Sequence[RunSpec]) -> Block:
    """Main side: a chunk's results kept as its columns, with this process's own specs of the
    chunk's runs (the same runs the worker made from the same columns); a run's result is
    made from them when it is read."""
    return Block(columns, piece)


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels and ends workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT for a moment (main thread only: signal handlers live there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block is done, then raise it (a half-started cluster cannot be
    closed cleanly; a started one can)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if pressed:
        raise KeyboardInterrupt


WORKER_PRELOAD = ("gdsim.executors", "gdsim.columnar", *BUILTIN_PLUGINS)
"""Modules the process pool's forkserver imports once, so that each worker forked from it
starts with them (not one import of numpy, gdsim and the built-ins per worker and run)."""


def deaf_context(preload: Sequence[str] = ()) -> Any:
    """A multiprocessing context whose processes never see a terminal's Ctrl-C.

    A terminal sends Ctrl-C to every process of its foreground group, workers included, which
    then die mid-task printing tracebacks. An ignored signal stays ignored across fork and
    exec, so the forkserver is started while SIGINT is ignored (a few milliseconds): it and
    every worker it forks ignore SIGINT from their first instruction, and this process alone
    handles Ctrl-C. Where there is no forkserver (Windows), spawn; workers then ignore SIGINT
    from their initializer on. ``preload``: modules the forkserver imports when this call
    starts it (a running one keeps what it has).
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    if preload:
        multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    with _sigint_ignored():
        forkserver.ensure_running()
    return multiprocessing.get_context("forkserver")


def execute(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None = None,
    executor: str = "vectorised",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: Callable[[int], None] | None = None,
    scenario: Scenario | None = None,
) -> Sequence[RunResult]:
    """Run ``specs`` with the chosen executor; results in the order of ``specs``.

    ``scenario`` (the specs' scenario) travels with the work for observers that save it.
    """
    if executor not in EXECUTORS:
        raise ExecutorError(f"unknown executor '{executor}' (expected one of {EXECUTORS})")
    if workers is not None and workers < 1:
        raise ExecutorError(f"expected --workers >= 1, got {workers}")
    if executor == "vectorised" or not specs:
        return run_specs(specs, pm=pm, progress=progress, scenario=scenario)
    n_workers = workers or os.cpu_count() or 1
    count = n_workers * CHUNKS_PER_WORKER
    if scenario is not None:  # workers need its name and definition (checkpoints), not its runs
        scenario = attrs.evolve(scenario, runs=(), sweeps=())
    from gdsim.runs import Runs

    # a scenario's runs go out as columns (a sweep's template and index slices), made into run
    # objects by the worker; anything else as lists of runs
    pieces: list[Any] = specs.pieces(count) if isinstance(specs, Runs) else chunks(specs, count)
    if executor == "process":
        return _process_pool(pieces, n_workers, progress, scenario)
    return _dask(pieces, n_workers, scheduler, client, progress, scenario)


def _process_pool(
    pieces: list[list[RunSpec]],
    workers: int,
    progress: Callable[[int], None] | None,
    scenario: Scenario | None,
) -> RunList:
    """Run the chunks on a local pool; Ctrl-C cancels what has not started, ends the workers
    at once and raises :class:`gdsim.errors.Interrupted` with the runs that had finished.

    A chunk whose worker failed (a crash, a result that cannot be sent back) gives its runs
    status ``error``; the other chunks' results are kept.
    """
    import concurrent.futures as cf

    results: list[Block | list[RunResult] | None] = [None] * len(pieces)
    pool = None
    try:  # forkserver or spawn: safe even when threads are running
        pool = cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=deaf_context(WORKER_PRELOAD),
            initializer=_ignore_sigint,
        )
        futures = {pool.submit(_run_chunk, p, scenario): i for i, p in enumerate(pieces)}
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                results[i] = _received(future.result(), pieces[i])
            except Exception as exc:  # the worker, not a run, failed: its runs report it
                results[i] = _chunk_failed(pieces[i], exc)
            if progress is not None:
                progress(len(pieces[i]))
    except KeyboardInterrupt:
        if pool is not None:
            _stop_pool(pool)
        raise Interrupted(_finished(results)) from None
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return _finished(results)


def _finished(results: list[Block | list[RunResult] | None]) -> RunList:
    return RunList([chunk for chunk in results if chunk is not None])


def _chunk_failed(specs: list[RunSpec], exc: BaseException) -> list[RunResult]:
    from gdsim.results import RunResult

    return [RunResult.failed(spec, exc) for spec in specs]


def _stop_pool(pool: Any) -> None:
    """Cancel the chunks not started and end the workers now (their chunks are unfinished)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    # shutdown() forgets the processes: take them first (a private attribute, hence guarded)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


def _dask(
    pieces: list[list[RunSpec]],
    workers: int,
    scheduler: str | None,
    client: Any,
    progress: Callable[[int], None] | None,
    scenario: Scenario | None,
) -> RunList:
    """Run the chunks on Dask; Ctrl-C (also while a local cluster starts) cancels the work,
    closes what this call opened without worker tracebacks, and raises
    :class:`gdsim.errors.Interrupted` with the runs that had finished."""
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed
        from distributed.utils import get_mp_context
    except ImportError:
        from gdsim.extras import install_command

        raise ExecutorError(
            f"the dask executor needs Dask, which is not installed; install it with: "
            f"{install_command('dask')}"
        ) from None
    own: list[Any] = []
    futures: list[Any] = []
    results: list[Block | list[RunResult] | None] = [None] * len(pieces)
    try:
        # local workers come from a forkserver that ignores Ctrl-C (see deaf_context)
        import multiprocessing

        method = (
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        with dask.config.set({"distributed.worker.multiprocessing-method": method}):
            if get_mp_context is not None:  # its forkserver preload, before the server starts
                get_mp_context()
            deaf_context()
            if client is None:
                if scheduler:
                    try:
                        client = Client(scheduler, timeout="10s")
                    except (OSError, TimeoutError) as exc:
                        raise ExecutorError(
                            f"cannot reach the Dask scheduler at {scheduler}: {exc}"
                        ) from None
                    own.insert(0, client)
                else:
                    with _interrupt_deferred():
                        cluster = LocalCluster(
                            n_workers=workers, threads_per_worker=1, silence_logs=logging.CRITICAL
                        )
                        own.append(cluster)
                        client = Client(cluster)
                        own.insert(0, client)
            futures = client.map(_run_chunk, pieces, [scenario] * len(pieces), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            i = index[future.key]
            try:
                results[i] = _received(future.result(), pieces[i])
            except Exception as exc:  # the worker, not a run, failed: its runs report it
                results[i] = _chunk_failed(pieces[i], exc)
            if progress is not None:
                progress(len(pieces[i]))
        return _finished(results)
    except KeyboardInterrupt:
        with _quiet_dask(), contextlib.suppress(Exception):
            if futures and client is not None:
                client.cancel(futures, force=True)
            for thing in own:
                thing.close()
            own.clear()
        raise Interrupted(_finished(results)) from None
    finally:
        with _quiet_dask():
            for thing in own:
                thing.close()


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Silence distributed's logs while shutting down after Ctrl-C (workers being killed)."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
