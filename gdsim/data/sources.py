"""Registers gdsim's own data sources through the ``gdsim_data_sources`` hook, as a plugin would:
the synthetic generators (moons, circles, blobs, spirals, linear, regression1d) and the two file
formats (csv, npz)."""

from __future__ import annotations

from gdsim.data.dataset import BUILTIN_SOURCES
from gdsim.hookspecs import hookimpl


@hookimpl
def gdsim_data_sources() -> list[type]:
    return list(BUILTIN_SOURCES.values())
