"""How much memory a run will need, and how much this process may use: checked at validation.

A run that asks for more memory than the machine has fails minutes later on one huge
allocation (a network with ``hidden = [10000000]``). Objectives may declare what one run of
theirs needs (:meth:`gdsim.components.Objective.memory_estimate`); the scenario loader adds the
copies of the parameters that gradients, update rules and the engine hold, and refuses a run
whose estimate exceeds :func:`memory_limit` — before anything large is allocated.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import attrs

PARAMETER_COPIES = 8
"""Arrays the size of the parameters one run holds at once: the parameters, their gradient,
up to three rule buffers (Adam's two moments, a look-ahead copy), transform states, the previous
iterate and the final copy. Generous on purpose: an estimate must not understate."""
BYTES_PER_VALUE = 8  # float64


@attrs.frozen
class MemoryEstimate:
    """What one run of an objective needs: its parameter count and its working arrays.

    ``parameters`` is the number of float64 values in the parameters; ``working`` the bytes of
    the temporary arrays of one loss-and-gradient evaluation on the largest split (activations
    kept for backpropagation, their gradients, the logits), not counting the data set itself.
    """

    parameters: int
    working: int

    @property
    def total(self) -> int:
        """Bytes at the peak of a run: every parameter-sized array plus the working arrays."""
        return self.parameters * BYTES_PER_VALUE * PARAMETER_COPIES + self.working

    def describe(self) -> str:
        params = self.parameters * BYTES_PER_VALUE
        return (
            f"about {format_bytes(self.total)}: {self.parameters} parameters "
            f"({format_bytes(params)}, held {PARAMETER_COPIES} times for gradients and "
            f"optimizer state) and {format_bytes(self.working)} of working arrays"
        )


def format_bytes(count: float) -> str:
    """``1536`` → ``1.5 KiB``: binary units, three significant digits."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def memory_limit() -> tuple[int, str]:
    """The most memory this process can use, and what sets it.

    The smallest of the physical memory, the address-space and data-segment limits
    (``ulimit -v``, ``ulimit -d``) and the control group's memory limit, where readable.
    """
    limits: list[tuple[int, str]] = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        limits.append((os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "physical memory"))
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        for name, label in (("RLIMIT_AS", "ulimit -v"), ("RLIMIT_DATA", "ulimit -d")):
            soft, _hard = resource.getrlimit(getattr(resource, name))
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append((soft, f"the address-space limit ({label})"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            text = Path(path).read_text().strip()
            if text != "max" and int(text) < 1 << 60:
                limits.append((int(text), "the control group's memory limit"))
    if not limits:
        return 1 << 62, "no known limit"
    return min(limits)
