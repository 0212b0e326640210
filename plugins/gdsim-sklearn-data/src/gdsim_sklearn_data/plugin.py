"""The module gdsim loads through the entry point: it only says which data sources exist."""

from __future__ import annotations

from gdsim.hookspecs import hookimpl

from gdsim_sklearn_data.sources import SOURCES


@hookimpl
def gdsim_data_sources() -> list[type]:
    return list(SOURCES)
