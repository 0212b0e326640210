"""A progress bar for long runs, drawn on a terminal's stderr without slowing the hot loop.

The bar is an observer the command line adds to each run (it is not part of a scenario and
checkpoints do not save it). The engine calls it only every ``every`` steps (about a thousand
times a run at most); it redraws at most ``1 / min_interval`` times a second and never before
``delay`` seconds have passed, so short runs print nothing.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, TYPE_CHECKING, Any, ClassVar

import attrs

from gdsim.components import Observer

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec

BAR_WIDTH = 24
MIN_BAR_WIDTH = 10


def calls_every(steps: int) -> int:
    """How often (in steps) the bar is called: about a thousand times a run, at least every
    100 steps, so that its cost stays far below a step's."""
    return max(1, min(steps // 1000, 100))


@attrs.define
class ProgressBar(Observer):
    """Draws ``run [#####-----] 45% step 450/1000 loss 1.2e-01 3,456 steps/s`` on one line."""

    name: ClassVar[str] = "progress"

    stream: IO[str] = attrs.field(factory=lambda: sys.stderr)
    every: int = 1
    min_interval: float = 0.25
    delay: float = 0.5
    width: int | None = None
    """Columns of the terminal; None asks the stream's terminal (80 when it cannot tell)."""

    _start: float = attrs.field(init=False, default=0.0)
    _start_step: int = attrs.field(init=False, default=0)
    _last_draw: float = attrs.field(init=False, default=0.0)
    _drawn: bool = attrs.field(init=False, default=False)

    @classmethod
    def for_spec(cls, spec: RunSpec, stream: IO[str] | None = None) -> ProgressBar:
        """A bar for one run, called at :func:`calls_every` of its step budget."""
        return cls(stream=stream or sys.stderr, every=calls_every(spec.steps))

    def run_started(self, run: RunContext) -> None:
        self._start = self._last_draw = time.perf_counter()
        self._start_step = run.step

    def step_completed(self, run: RunContext) -> None:
        now = time.perf_counter()
        if now - self._start < self.delay or now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        self._draw(run, now)

    def _draw(self, run: RunContext, now: float) -> None:
        total = run.spec.steps
        done = run.step / total if total else 1.0
        rate = (run.step - self._start_step) / max(now - self._start, 1e-9)
        loss = _number(run.loss)
        columns = self._columns()
        for width in (BAR_WIDTH, 16, MIN_BAR_WIDTH):  # a narrow terminal: a shorter bar first
            filled = round(width * done)
            rest = (
                f" [{'#' * filled}{'-' * (width - filled)}] {100 * done:3.0f}% "
                f"step {run.step}/{total} loss {loss} {rate:,.0f} steps/s"
            )
            if len(run.name) + len(rest) < columns:
                break
        self.stream.write("\r" + fit(run.name, rest, columns) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def run_completed(self, run: RunContext, result: RunResult) -> None:
        if self._drawn:
            self._draw(run, time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def _columns(self) -> int:
        if self.width is not None:
            return self.width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 80


def fit(name: str, rest: str, columns: int) -> str:
    """``name + rest`` in fewer than ``columns`` characters, shortening the name first.

    A line as wide as the terminal wraps, and the carriage return that redraws the bar would
    then go back only to the start of the second half, leaving a trail of old bars.
    """
    room = columns - 1 - len(rest)
    if len(name) > room:
        name = name[: max(room - 1, 0)] + "…" if room >= 8 else name[:7] + "…"
    return (name + rest)[: max(columns - 1, 1)]


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return "-"


def is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
