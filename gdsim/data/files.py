"""Reading data sets from CSV and .npz files, with errors that name the file and the row.

A CSV file holds one sample per row, features and target as numeric columns; an optional header
row names the columns (detected when its cells are not all numbers). A .npz archive holds a
feature array and a target array under configurable keys. Missing files, ragged rows,
non-numeric cells and NaN or infinite values are :class:`DataError`, never a traceback.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np

from gdsim.errors import GdsimError


class DataError(GdsimError):
    """A data file is missing or malformed; the message names the file and, if known, the row."""


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _target_column(target: str | int | None, names: list[str] | None, width: int, file: str) -> int:
    """The index of the target column: by name, by (possibly negative) index, default last."""
    if target is None:
        return width - 1
    if isinstance(target, int):
        if not -width <= target < width:
            raise DataError(f"{file}: target column {target} does not exist ({width} columns)")
        return target % width
    if names is None:
        raise DataError(
            f"{file}: target column '{target}' given by name, but the file has no header row"
        )
    if target not in names:
        raise DataError(f"{file}: no column named '{target}' (columns: {', '.join(names)})")
    return names.index(target)


def load_csv(
    path: str | Path, target: str | int | None = None, delimiter: str = ","
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read ``(X, y, column names or None)`` from a CSV file; ``target`` picks y's column.

    Rows are numbered from 1 as a text editor shows them (the header is row 1). Blank lines
    are skipped. Every row must have the same number of cells, all finite numbers.
    """
    file = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [(i, row) for i, row in enumerate(csv.reader(handle, delimiter=delimiter), 1)]
    except FileNotFoundError:
        raise DataError(f"{file}: no such data file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{file}: cannot read the data file: {exc}") from None
    rows = [(i, [c.strip() for c in row]) for i, row in rows if any(c.strip() for c in row)]
    if not rows:
        raise DataError(f"{file}: the data file is empty")
    names: list[str] | None = None
    first_line, first = rows[0]
    if any(_number(c) is None for c in first):
        names = first
        rows = rows[1:]
        if not rows:
            raise DataError(f"{file}: the data file has a header (row {first_line}) but no data")
    width = len(names) if names is not None else len(rows[0][1])
    if width < 2:
        raise DataError(f"{file}: expected at least 2 columns (features and target), got {width}")
    values = np.empty((len(rows), width), dtype=np.float64)
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{file}: row {line}: expected {width} columns, got {len(row)}")
        for c, cell in enumerate(row):
            number = _number(cell)
            column = f"'{names[c]}'" if names is not None else str(c + 1)
            if number is None:
                shown = repr(cell) if cell else "an empty cell"
                raise DataError(
                    f"{file}: row {line}, column {column}: expected a number, got {shown}"
                )
            if not math.isfinite(number):
                raise DataError(
                    f"{file}: row {line}, column {column}: expected a finite number, got {cell}"
                )
            values[r, c] = number
    col = _target_column(target, names, width, file)
    X = np.delete(values, col, axis=1)
    return X, values[:, col].copy(), names


def load_npz(path: str | Path, x_key: str = "X", y_key: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Read ``(X, y)`` from a .npz archive: X of shape (n, d) or (n,), y of shape (n,)."""
    file = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{file}: no such data file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{file}: not a readable .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{file}: expected a .npz archive, got a single array")
    with archive:
        arrays = {}
        for key in (x_key, y_key):
            if key not in archive.files:
                raise DataError(
                    f"{file}: no array named '{key}' (arrays: {', '.join(archive.files) or 'none'})"
                )
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                raise DataError(f"{file}: array '{key}' cannot be read: {exc}") from None
    X, y = arrays[x_key], arrays[y_key]
    for key, array in ((x_key, X), (y_key, y)):
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise DataError(f"{file}: array '{key}' is not numeric (dtype {array.dtype})")
    X = X.astype(np.float64)
    y = y.astype(np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or y.ndim != 1:
        raise DataError(
            f"{file}: expected '{x_key}' of shape (n, d) and '{y_key}' of shape (n,), "
            f"got {X.shape} and {y.shape}"
        )
    if X.shape[0] != y.shape[0]:
        raise DataError(
            f"{file}: '{x_key}' has {X.shape[0]} rows but '{y_key}' has {y.shape[0]} values"
        )
    if X.shape[0] == 0:
        raise DataError(f"{file}: the data set is empty")
    for key, array in ((x_key, X), (y_key, y)):
        bad = ~np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{file}: array '{key}', row {row}: NaN or infinite value")
    return X, y
