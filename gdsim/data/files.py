"""Reading data sets from CSV and .npz files, with errors that name the file and the row.

A CSV file holds one sample per row, features and target as numeric columns; a header row
names the columns when ``header = true``. With ``header = "auto"`` (the default) a first row
with no number in it is a header (and a note says so), a first row of numbers is data, and a
first row that mixes the two is an error (a typo in the data, or a header with numeric names:
say which with ``header = true | false``). A byte-order mark is skipped. A .npz archive holds
a feature array and a target array under configurable keys; complex and non-numeric arrays
are refused. Missing files, devices and FIFOs, files or lines beyond the size limits, ragged
rows, non-numeric cells and NaN or infinite values are :class:`DataError`, never a traceback.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gdsim.errors import GdsimError
from gdsim.fileio import open_regular

log = logging.getLogger("gdsim")

MAX_CSV_BYTES = 256 * 1024 * 1024
"""The largest CSV file read (its rows become Python lists before they become an array)."""
MAX_LINE_CHARS = 1024 * 1024
"""The longest line a CSV file may have."""
MAX_NPZ_BYTES = 4 * 1024 * 1024 * 1024
"""The most an .npz archive may unpack to (declared sizes, checked before reading)."""
HEADER_CHOICES = (True, False, "auto")


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


def _bounded_lines(handle: io.TextIOBase, file: str) -> Iterator[str]:
    for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_CHARS + 1), ""), 1):
        if len(line) > MAX_LINE_CHARS:
            raise DataError(f"{file}: line {number} is longer than {MAX_LINE_CHARS} characters")
        yield line


def load_csv(
    path: str | Path,
    target: str | int | None = None,
    delimiter: str = ",",
    header: bool | str = "auto",
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read ``(X, y, column names or None)`` from a CSV file; ``target`` picks y's column.

    ``header``: true (row 1 names the columns), false (row 1 is data) or "auto" (see the
    module's documentation). Rows are numbered from 1 as a text editor shows them (the header
    is row 1). Blank lines are skipped. Every row must have the same number of cells, all
    finite numbers. A UTF-8 byte-order mark is skipped.
    """
    file = str(path)
    if header not in HEADER_CHOICES or not isinstance(header, bool | str):
        raise DataError(f'{file}: header must be true, false or "auto", got {header!r}')
    try:
        with open_regular(path, MAX_CSV_BYTES, "CSV data file") as raw:
            handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(_bounded_lines(handle, file), delimiter=delimiter)
            rows = [(i, row) for i, row in enumerate(reader, 1)]
    except FileNotFoundError:
        raise DataError(f"{file}: no such data file") from None
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise DataError(f"{file}: cannot read the data file: {exc}") from None
    rows = [(i, [c.strip() for c in row]) for i, row in rows if any(c.strip() for c in row)]
    if not rows:
        raise DataError(f"{file}: the data file is empty")
    names: list[str] | None = None
    first_line, first = rows[0]
    if _is_header(first, first_line, header, file):
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


def _is_header(first: list[str], line: int, header: bool | str, file: str) -> bool:
    """Whether the first row names the columns, as ``header`` says or as "auto" finds."""
    if header != "auto":
        return bool(header)
    texts = [(c, cell) for c, cell in enumerate(first, 1) if _number(cell) is None]
    if not texts:
        return False
    if len(texts) < len(first):
        column, cell = texts[0]
        raise DataError(
            f"{file}: row {line} mixes numbers and text (column {column}: {cell!r}): a typo in "
            "the data, or a header with numeric names? Fix the cell, or say header = true "
            "(row 1 names the columns) or header = false"
        )
    log.warning(
        '%s: row %d taken as the header (%s); set header = true to say so (header = "auto")',
        file,
        line,
        ", ".join(first),
    )
    return True


def load_npz(path: str | Path, x_key: str = "X", y_key: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Read ``(X, y)`` from a .npz archive: X of shape (n, d) or (n,), y of shape (n,).

    Arrays must hold real numbers (or booleans); complex arrays are refused rather than
    losing their imaginary part.
    """
    file = str(path)
    try:
        with (
            open_regular(path, MAX_NPZ_BYTES, ".npz data file") as handle,
            zipfile.ZipFile(handle) as check,
        ):
            declared = sum(i.file_size for i in check.infolist())
        if declared > MAX_NPZ_BYTES:
            raise ValueError(f"it unpacks to {declared} bytes, more than {MAX_NPZ_BYTES}")
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
        if np.issubdtype(array.dtype, np.complexfloating):
            raise DataError(
                f"{file}: array '{key}' holds complex numbers (dtype {array.dtype}); "
                "expected real numbers"
            )
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
