"""The scenario's ``[plot]`` table: how its figures are drawn.

Parsed by the scenario loader like every other key (unknown keys and bad values are errors
that name ``plot.KEY``), and read by the figures. It never imports matplotlib.

    [plot]
    x = "samples"          # curves against steps, epochs, samples seen or wall time
    bar_steps = [1, 400]   # steps at which per-layer gradient norms are drawn as bars
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from gdsim.errors import ScenarioError, did_you_mean

X_AXES = ("steps", "epochs", "samples", "time")
"""What curves can be drawn against: the step count, epochs, training samples seen, seconds."""
PLOT_KEYS = ("x", "bar_steps")


@attrs.frozen
class PlotSettings:
    """How a scenario's figures are drawn; ``None`` means "choose for the runs"."""

    x: str | None = None
    """The curves' horizontal axis (one of :data:`X_AXES`), or None for the automatic choice."""
    bar_steps: tuple[int, ...] = ()
    """Steps whose per-layer gradient norms the ``gradient_bars`` figure shows (default: the
    first and the last recorded step)."""


def parse_plot_table(table: Any) -> PlotSettings:
    """Validate a ``[plot]`` table; raises :class:`ScenarioError` naming ``plot.KEY``."""
    if not isinstance(table, Mapping):
        raise ScenarioError(f"expected a table, got {type(table).__name__}", path="plot")
    for key in table:
        if key not in PLOT_KEYS:
            raise ScenarioError(
                f"unknown key '{key}' (expected one of: {', '.join(PLOT_KEYS)})",
                path=f"plot.{key}",
                suggestion=did_you_mean(str(key), PLOT_KEYS),
            )
    x = table.get("x")
    if x is not None and (not isinstance(x, str) or x not in X_AXES):
        hint = did_you_mean(x, X_AXES) if isinstance(x, str) else None
        if hint is None and isinstance(x, str) and x.rstrip("s") + "s" in X_AXES:
            hint = x.rstrip("s") + "s"
        raise ScenarioError(
            f"expected one of {', '.join(repr(a) for a in X_AXES)}, got {x!r}",
            path="plot.x",
            suggestion=hint,
        )
    steps = table.get("bar_steps", [])
    if not isinstance(steps, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in steps
    ):
        raise ScenarioError(
            f"expected a list of step counts >= 0 such as [1, 100], got {steps!r}",
            path="plot.bar_steps",
        )
    return PlotSettings(x=x, bar_steps=tuple(sorted(set(steps))))
