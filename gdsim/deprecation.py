"""How gdsim retires part of its public contract: a warning first, removal only later.

Anything a plugin or a scenario may rely on (the names listed in :mod:`gdsim.public_api`, the
scenario keys) keeps working for at least one minor release after it is deprecated, and using
it emits a :class:`GdsimDeprecationWarning` that names the replacement. The warning derives
from ``FutureWarning`` so that Python shows it by default to people running scenarios, not only
to developers running tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


class GdsimDeprecationWarning(FutureWarning):
    """Something you use is deprecated in gdsim; the message names what to use instead."""


def warn_deprecated(old: str, new: str, why: str = "", stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``why``, if given, says why)."""
    reason = f" ({why})" if why else ""
    warnings.warn(
        f"{old} is deprecated{reason} and will be removed in a future release; use {new}",
        GdsimDeprecationWarning,
        stacklevel=stacklevel,
    )


def print_plainly(echo: Callable[[str], None]) -> None:
    """Show gdsim's deprecation warnings as one ``warning: …`` line through ``echo`` (the CLI's
    stderr) instead of Python's file-and-line format, which points into gdsim, not the scenario.
    """
    previous = warnings.showwarning
    if getattr(previous, "_gdsim_plain", False):  # installed already (the CLI run again)
        previous = previous._gdsim_previous  # type: ignore[attr-defined]

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, GdsimDeprecationWarning):
            echo(f"warning: {message}")
        else:
            previous(message, category, *args, **kwargs)

    show._gdsim_plain = True  # type: ignore[attr-defined]
    show._gdsim_previous = previous  # type: ignore[attr-defined]
    warnings.showwarning = show
