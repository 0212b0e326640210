"""Data sets: synthetic generators, CSV/.npz loading, seeded splits and standardisation."""

from typing import Any

from gdsim.data.dataset import (
    BUILTIN_SOURCES,
    SPLITS,
    Dataset,
    DataSpec,
    split_indices,
    standardize,
)
from gdsim.data.files import DataError, load_csv, load_npz
from gdsim.data.generators import GENERATORS, Generator

__all__ = [
    "BUILTIN_SOURCES",
    "GENERATORS",
    "SPLITS",
    "DataError",
    "DataSpec",
    "Dataset",
    "Generator",
    "load_csv",
    "load_npz",
    "split_indices",
    "standardize",
]


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # deprecated: warns, see gdsim.data.dataset
        from gdsim.data import dataset

        return dataset.SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
