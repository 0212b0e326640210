"""Where runs execute: in this process (vectorised), in a local process pool, or on Dask.

Every executor hands out the same work, :func:`gdsim.ensemble.run_specs` over a chunk of runs,
and every run's result depends only on its own specification, so the results are the same bit
for bit whichever executor ran them and however the runs were chunked. The pool and Dask help
when runs cannot be vectorised (observers, data-backed objectives) or when one process is not
enough. Dask is an optional extra (``pip install 'gdsim[dask]'``) imported only when chosen.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from gdsim.ensemble import run_specs
from gdsim.errors import GdsimError

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


def _run_chunk(specs: list[RunSpec], scenario: Scenario | None = None) -> list[RunResult]:
    """Worker side: run a chunk with this process's registry (so plugin hooks still fire)."""
    from gdsim.registry import default_registry

    return run_specs(specs, pm=default_registry().pm, scenario=scenario)


def execute(
    specs: Sequence[RunSpec],
    pm: pluggy.PluginManager | None = None,
    executor: str = "vectorised",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: Callable[[int], None] | None = None,
    scenario: Scenario | None = None,
) -> list[RunResult]:
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
    pieces = chunks(list(specs), n_workers * CHUNKS_PER_WORKER)
    if executor == "process":
        return _process_pool(pieces, n_workers, progress, scenario)
    return _dask(pieces, n_workers, scheduler, client, progress, scenario)


def _process_pool(
    pieces: list[list[RunSpec]],
    workers: int,
    progress: Callable[[int], None] | None,
    scenario: Scenario | None,
) -> list[RunResult]:
    import concurrent.futures as cf
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # safe even when threads are running
    results: list[list[RunResult] | None] = [None] * len(pieces)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_run_chunk, piece, scenario): i for i, piece in enumerate(pieces)}
        for future in cf.as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if progress is not None:
                progress(len(pieces[i]))
    return [r for chunk in results if chunk is not None for r in chunk]


def _dask(
    pieces: list[list[RunSpec]],
    workers: int,
    scheduler: str | None,
    client: Any,
    progress: Callable[[int], None] | None,
    scenario: Scenario | None,
) -> list[RunResult]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from gdsim.extras import install_command

        raise ExecutorError(
            f"the dask executor needs Dask, which is not installed; install it with: "
            f"{install_command('dask')}"
        ) from None
    own: list[Any] = []
    try:
        if client is None:
            if scheduler:
                try:
                    client = Client(scheduler, timeout="10s")
                except (OSError, TimeoutError) as exc:
                    raise ExecutorError(
                        f"cannot reach the Dask scheduler at {scheduler}: {exc}"
                    ) from None
            else:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1)
                own.append(cluster)
                client = Client(cluster)
            own.insert(0, client)
        futures = client.map(_run_chunk, pieces, [scenario] * len(pieces), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[list[RunResult] | None] = [None] * len(pieces)
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            if progress is not None:
                progress(len(pieces[i]))
        return [r for chunk in results if chunk is not None for r in chunk]
    finally:
        for thing in own:
            thing.close()
