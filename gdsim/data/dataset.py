"""Data sets as scenarios declare them: a source, a seeded train/validation/test split and an
optional standardisation fitted on the training part only.

A scenario gives the data inside its objective (``[objective.data]``); :meth:`DataSpec.from_table`
checks that table and names every bad key by its path (``data.noise``), so the scenario loader
reports ``objective.data.noise``. :meth:`DataSpec.build` then draws or reads the samples once.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import DataSource, param
from gdsim.data.files import DataError, load_csv, load_npz
from gdsim.data.generators import GENERATORS
from gdsim.errors import ParamError, PluginError, did_you_mean, with_hint
from gdsim.registry import active_registry
from gdsim.validators import optional

SPLITS = ("train", "validation", "test")
SPEC_KEYS = ("name", "seed", "split", "standardize")
"""Keys every data table accepts; the rest belong to the source."""


def _is_str(_instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ParamError(attribute.name, f"expected a non-empty string, got {value!r}")


def _is_column(_instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParamError(attribute.name, f"expected a column name or index, got {value!r}")


def _is_header_choice(_instance: Any, attribute: Any, value: Any) -> None:
    if value not in (True, False, "auto") or not isinstance(value, bool | str):
        raise ParamError(attribute.name, f'expected true, false or "auto", got {value!r}')


@attrs.frozen
class CsvFile(DataSource):
    """A CSV file: one sample a row, an optional header row, the target in one column."""

    name: ClassVar[str] = "csv"
    task: ClassVar[str] = "any"

    path: str = param(validator=_is_str, doc="the file (relative to the working directory)")
    target: str | int | None = param(
        None, validator=optional(_is_column), doc="target column: name or index (default last)"
    )
    delimiter: str = param(",", validator=_is_str, doc="cell separator")
    header: bool | str = param(
        "auto",
        validator=_is_header_choice,
        doc='true: row 1 names the columns; false: row 1 is data; "auto": decide, with a note',
    )

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[CsvFile]:
        """What ``gdsim check-plugin`` checks: a small file with a header, written in workdir."""
        path = f"{workdir}/conformance.csv"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("a,b,label\n0.5,1,0\n-1,2.5,1\n3,0,1\n")
        return [cls(path=path, target="label", header=True)]

    def load(self, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        X, y, _ = load_csv(self.path, self.target, self.delimiter, self.header)
        return X, y


@attrs.frozen
class NpzFile(DataSource):
    """A .npz archive with a feature array (n, d) and a target array (n,)."""

    name: ClassVar[str] = "npz"
    task: ClassVar[str] = "any"

    path: str = param(validator=_is_str, doc="the file (relative to the working directory)")
    x: str = param("X", validator=_is_str, doc="name of the feature array")
    y: str = param("y", validator=_is_str, doc="name of the target array")

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[NpzFile]:
        """What ``gdsim check-plugin`` checks: a small archive written in workdir."""
        path = f"{workdir}/conformance.npz"
        np.savez(path, X=np.arange(6.0).reshape(3, 2), y=np.array([0.0, 1.0, 0.0]))
        return [cls(path=path)]

    def load(self, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        return load_npz(self.path, self.x, self.y)


BUILTIN_SOURCES: dict[str, type] = {**GENERATORS, "csv": CsvFile, "npz": NpzFile}
"""gdsim's own data sources by name: the synthetic generators and the two file formats.

They are registered through the ``gdsim_data_sources`` hook (:mod:`gdsim.data.sources`) like a
plugin's; scenarios resolve names through the registry, which also holds plugins' sources.
"""


def __getattr__(name: str) -> Any:
    if name == "SOURCES":  # the hard-coded table of sources before they became pluggable
        from gdsim.deprecation import warn_deprecated

        warn_deprecated(
            "gdsim.data.SOURCES",
            "gdsim.registry.active_registry().names('data') and .get('data', name)",
            "it lists only the built-in data sources, not those of plugins",
        )
        return BUILTIN_SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_params(cls: type, table: Mapping[str, Any], prefix: str) -> Any:
    """Build an attrs class from a TOML table; every error is a ParamError at ``prefix.key``."""
    fields = {f.name: f for f in attrs.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in table.items():
        if key not in fields:
            allowed = ", ".join([*SPEC_KEYS, *fields])
            hint = did_you_mean(key, [*SPEC_KEYS, *fields])
            raise ParamError(
                f"{prefix}.{key}",
                with_hint(
                    f"unknown key '{key}' of data source '{cls.name}' (expected one of: {allowed})",
                    hint,
                ),
            )
        hint_type = hints.get(key)
        if hint_type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif hint_type is bool and not isinstance(value, bool):
            raise ParamError(f"{prefix}.{key}", f"expected true or false, got {value!r}")
        kwargs[key] = value
    for name, field in fields.items():
        if field.default is attrs.NOTHING and name not in kwargs:
            raise ParamError(
                f"{prefix}.{name}", f"missing required key of data source '{cls.name}'"
            )
    try:
        return cls(**kwargs)
    except ParamError as exc:
        raise ParamError(f"{prefix}.{exc.field}", exc.message) from None


def _fractions(value: Any, where: str) -> tuple[float, float, float]:
    ok = isinstance(value, list | tuple) and len(value) == 3
    ok = ok and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in value
    )
    if not ok:
        raise ParamError(
            where,
            f"expected three fractions [train, validation, test] >= 0 summing to 1, got {value!r}",
        )
    fractions = tuple(float(v) for v in value)
    if abs(sum(fractions) - 1.0) > 1e-9 or fractions[0] <= 0.0:
        raise ParamError(
            where,
            "expected fractions [train, validation, test] summing to 1 with train > 0, "
            f"got {value!r} (sum {sum(fractions):g})",
        )
    return fractions  # type: ignore[return-value]


@attrs.frozen
class Dataset:
    """Samples split into train, validation and test parts (the last two may be empty).

    ``mean`` and ``std`` are the standardisation fitted on the training features (zeros and
    ones when the data are not standardised); ``task`` is "classification", "regression" or
    "any" (read from a file: the objective decides).
    """

    X: Mapping[str, np.ndarray]
    y: Mapping[str, np.ndarray]
    task: str
    mean: np.ndarray
    std: np.ndarray

    @property
    def features(self) -> int:
        return int(self.X["train"].shape[1])

    def size(self, split: str = "train") -> int:
        return int(self.X[split].shape[0])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The features and targets of one split."""
        return self.X[name], self.y[name]


def split_indices(n: int, fractions: tuple[float, float, float], seed: int) -> list[np.ndarray]:
    """A seeded random partition of ``range(n)`` into train, validation and test indices.

    The validation and test sizes are rounded from their fractions; training keeps the rest.
    """
    n_val = round(fractions[1] * n)
    n_test = round(fractions[2] * n)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"the split leaves no training sample out of {n}")
    perm = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(n)
    return [perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]]


def standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (1 where a feature is constant)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0.0] = 1.0
    return mean, std


@attrs.frozen
class DataSpec:
    """A data set as a scenario declares it: source, seed, split fractions, standardisation."""

    source: Any
    seed: int = 0
    split: tuple[float, float, float] = (1.0, 0.0, 0.0)
    standardize: bool = False

    @classmethod
    def from_table(cls, table: Any, prefix: str = "data") -> DataSpec:
        """Check a scenario's data table (or a bare source name) and build the spec."""
        if isinstance(table, DataSpec):
            return table
        if isinstance(table, str):
            table = {"name": table}
        if not isinstance(table, Mapping):
            raise ParamError(prefix, f"expected a table with 'name', got {table!r}")
        registry = active_registry()
        known = registry.names("data")
        if "name" not in table:
            raise ParamError(f"{prefix}.name", f"missing required key (one of: {', '.join(known)})")
        name = table["name"]
        if not isinstance(name, str) or name not in known:
            hint = did_you_mean(str(name), known)
            raise ParamError(
                f"{prefix}.name",
                with_hint(f"unknown data source {name!r} (known: {', '.join(known)})", hint),
            )
        try:
            source_cls = registry.get("data", name)
        except PluginError as exc:  # two plugins registered this name
            raise ParamError(f"{prefix}.name", str(exc)) from None
        seed = table.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ParamError(f"{prefix}.seed", f"expected an integer >= 0, got {seed!r}")
        split = _fractions(table.get("split", [1.0, 0.0, 0.0]), f"{prefix}.split")
        std = table.get("standardize", False)
        if not isinstance(std, bool):
            raise ParamError(f"{prefix}.standardize", f"expected true or false, got {std!r}")
        rest = {k: v for k, v in table.items() if k not in SPEC_KEYS}
        source = build_params(source_cls, rest, prefix)
        return cls(source=source, seed=seed, split=split, standardize=std)

    @property
    def name(self) -> str:
        return str(self.source.name)

    def build(self) -> Dataset:
        """Draw or read the samples, split them and standardise if asked.

        Generation uses ``default_rng(seed)``; the split uses an independent stream derived
        from the same seed, so changing the split never changes the samples. Synthetic sets are
        cached (read-only arrays), so runs that vary only the network share one data set;
        files are read afresh each time.
        """
        self._check_size()
        if getattr(self.source, "cacheable", False):
            return _cached_build(self)
        return self._build()

    def _check_size(self) -> None:
        """Refuse a generated set too large for memory before drawing it (``n = 10**9``).

        Sources with an integer ``n`` (and ``features``, default 2) are sized from those; the
        samples are held about four times (drawn, split, standardised, the objective's view).
        """
        n = getattr(self.source, "n", None)
        if not isinstance(n, int) or isinstance(n, bool):
            return
        from gdsim.memory import format_bytes, memory_limit

        features = getattr(self.source, "features", 2)
        width = (features if isinstance(features, int) else 2) + 1
        need = 4 * n * width * 8
        limit, why = memory_limit()
        if need > limit:
            raise ParamError(
                "data.n",
                f"{n} samples would need about {format_bytes(need)}, more than the "
                f"{format_bytes(limit)} this process may use ({why})",
            )

    def _build(self) -> Dataset:
        X, y = self.source.load(np.random.default_rng(self.seed))
        X, y = _checked_arrays(self.name, X, y)
        parts = split_indices(X.shape[0], self.split, self.seed)
        Xs = {name: X[idx] for name, idx in zip(SPLITS, parts, strict=True)}
        ys = {name: y[idx] for name, idx in zip(SPLITS, parts, strict=True)}
        d = X.shape[1]
        mean, std = np.zeros(d), np.ones(d)
        if self.standardize:
            mean, std = standardize(Xs["train"])
            Xs = {name: (x - mean) / std for name, x in Xs.items()}
        return Dataset(X=Xs, y=ys, task=self.source.task, mean=mean, std=std)


def _checked_arrays(name: str, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """The source's arrays as float64, or a DataError saying how they break the contract."""
    try:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"data source '{name}' returned non-numeric arrays: {exc}") from None
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise DataError(
            f"data source '{name}' returned X of shape {X.shape} and y of shape {y.shape}; "
            "expected X (n, d) and y (n,) with n >= 1"
        )
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise DataError(f"data source '{name}' returned NaN or infinite values")
    return X, y


@functools.lru_cache(maxsize=16)
def _cached_build(spec: DataSpec) -> Dataset:
    dataset = spec._build()
    for array in (*dataset.X.values(), *dataset.y.values(), dataset.mean, dataset.std):
        array.flags.writeable = False
    return dataset


__all__ = ["BUILTIN_SOURCES", "SPLITS", "DataError", "DataSpec", "Dataset", "split_indices"]
