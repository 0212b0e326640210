"""Optional extras (plot, parquet, dask): the exact command that installs a missing one.

The requirement strings are read from gdsim's own installed metadata (the
``[project.optional-dependencies]`` of pyproject.toml), so the command a user is told to run
cannot drift from what the extra really installs.
"""

from __future__ import annotations

import importlib.metadata as metadata

from gdsim.errors import GdsimError

FALLBACK: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib>=3.7",),
    "parquet": ("pyarrow>=14",),
    "dask": ("dask[distributed]>=2024.1",),
}
"""Used only when gdsim's metadata cannot be read (running from a source tree)."""


def requirements(extra: str) -> tuple[str, ...]:
    """The requirement strings the extra installs, e.g. ``("matplotlib>=3.7",)``."""
    try:
        declared = metadata.requires("gdsim") or []
    except metadata.PackageNotFoundError:
        declared = []
    found = []
    for line in declared:
        requirement, _, marker = line.partition(";")
        compact = marker.replace(" ", "").replace("'", '"')
        if f'extra=="{extra}"' in compact:
            found.append(requirement.strip())
    return tuple(found) or FALLBACK[extra]


def install_command(extra: str) -> str:
    """The pip command that installs an extra's packages into the current environment."""
    return "pip install " + " ".join(f"'{r}'" for r in requirements(extra))


def missing_extra(extra: str, what: str, module: str) -> GdsimError:
    """The error for a feature whose optional package is not installed, with the command."""
    return GdsimError(
        f"{what} need {module}, which is not installed; install it with: {install_command(extra)}"
    )
