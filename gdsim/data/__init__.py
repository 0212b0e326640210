"""Data sets: synthetic generators, CSV/.npz loading, seeded splits and standardisation."""

from gdsim.data.dataset import SOURCES, SPLITS, Dataset, DataSpec, split_indices, standardize
from gdsim.data.files import DataError, load_csv, load_npz
from gdsim.data.generators import GENERATORS, Generator

__all__ = [
    "GENERATORS",
    "SOURCES",
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
