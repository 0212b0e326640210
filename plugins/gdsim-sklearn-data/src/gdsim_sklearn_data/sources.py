"""The four small real data sets scikit-learn ships with its wheel, as gdsim data sources.

Each source reads its file through ``sklearn.datasets.load_*`` (imported on first use, so that
listing plugins stays fast) and returns the features as float64 and the class labels ``0 … K−1``
as float64, in the file's order. The data are fixed: the data table's ``seed`` only shuffles the
train/validation/test split, and ``standardize = true`` is advisable (features span very
different ranges: breast cancer's areas are in the hundreds, its smoothness below 0.2).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
from gdsim.components import DataSource, param
from gdsim.errors import ParamError


def _digit_count(_instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 10:
        raise ParamError(attribute.name, f"expected an integer from 2 to 10, got {value!r}")


def _load(loader: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets  # scikit-learn takes about a second to import

    X, y = getattr(datasets, loader)(return_X_y=True, **kwargs)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


class _Bundled(DataSource):
    """Base of the bundled sets: fixed files, so one read serves every run of a process."""

    task: ClassVar[str] = "classification"
    cacheable: ClassVar[bool] = True
    loader: ClassVar[str] = ""

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return _load(self.loader)


@attrs.frozen
class Iris(_Bundled):
    """Fisher's iris flowers: 150 samples, 4 measurements (cm), 3 species (50 each)."""

    name: ClassVar[str] = "iris"
    loader: ClassVar[str] = "load_iris"


@attrs.frozen
class Wine(_Bundled):
    """Wines from three cultivars: 178 samples, 13 chemical measurements, 3 classes."""

    name: ClassVar[str] = "wine"
    loader: ClassVar[str] = "load_wine"


@attrs.frozen
class BreastCancer(_Bundled):
    """Wisconsin diagnostic breast cancer: 569 samples, 30 features of cell nuclei, 2 classes
    (0 malignant, 212 samples; 1 benign, 357) — a binary task for the bce loss."""

    name: ClassVar[str] = "breast_cancer"
    loader: ClassVar[str] = "load_breast_cancer"


@attrs.frozen
class Digits(_Bundled):
    """Handwritten digits: 8×8 images (64 features, grey levels 0–16), about 180 per class.

    ``classes`` keeps the digits 0 … classes−1 (all 1797 samples with 10; 360 with 2).
    """

    name: ClassVar[str] = "digits"
    loader: ClassVar[str] = "load_digits"

    classes: int = param(10, validator=_digit_count, doc="keep the digits 0 … classes−1")

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return _load(self.loader, n_class=self.classes)


SOURCES: tuple[type[DataSource], ...] = (Iris, Wine, BreastCancer, Digits)
