"""Writing files safely: atomically, and never outside the folder they belong to.

Every file gdsim writes goes through :func:`atomic_open` (a reader sees the old file or the new
one, never half of one). Writers that build a file name from user input (run, scenario, sweep
and observer names) build it with :func:`inside`, which keeps the path under its folder, and
pass that folder as ``root`` to :func:`atomic_open`, which checks it once more after resolving
symbolic links.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from gdsim.errors import GdsimError

_UMASK = os.umask(0o022)
os.umask(_UMASK)


MAX_COMPONENT_BYTES = 255
"""The longest file or folder name most file systems accept (in bytes of UTF-8)."""
TMP_SUFFIX = ".tmp"


class UnsafePathError(GdsimError):
    """A file name would leave its folder (``..``, absolute, NUL, too long): never written."""


def _check_component(part: str, where: str) -> None:
    problem = None
    if not part or part in (".", ".."):
        problem = "is empty or a relative reference ('.', '..')"
    elif "\x00" in part:
        problem = "contains a NUL character"
    elif "/" in part or (os.sep != "/" and os.sep in part) or (os.altsep and os.altsep in part):
        problem = "contains a path separator"
    elif len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
        problem = f"is longer than {MAX_COMPONENT_BYTES} bytes"
    if problem is not None:
        raise UnsafePathError(f"refusing to write {where}: the name {part[:80]!r} {problem}")


def inside(root: str | Path, *names: str) -> Path:
    """``root/name/…``, refusing any name that is not one plain file or folder name.

    Every name must be a single path component: not empty, not ``.`` or ``..``, without a
    separator or a NUL and at most 255 bytes. Build names from user input with
    :func:`safe_name` first; this is the check that holds whatever the caller did.
    """
    root = Path(root)
    if "\x00" in str(root):
        raise UnsafePathError(f"refusing to write into {str(root)!r}: it contains a NUL character")
    path = root
    for name in names:
        _check_component(name, f"{name!r} in {root}")
        path = path / name
    return path


def check_inside(path: str | Path, root: str | Path, action: str = "write") -> Path:
    """``path`` when it lies under ``root`` once symbolic links and ``..`` are resolved."""
    path, root = Path(path), Path(root)
    for text in (str(path), str(root)):
        if "\x00" in text:
            raise UnsafePathError(f"refusing to {action} {text!r}: it contains a NUL character")
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise UnsafePathError(f"refusing to {action} {path}: it is outside the folder {root}")
    return path


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", *, root: str | Path | None = None, **kwargs: Any
) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    With ``root``, ``path`` must lie under that folder (after resolving links), or
    :class:`UnsafePathError` is raised before anything is written. The temporary file is
    ``.NAME.XXXXXXXX.tmp``; :func:`remove_stale_temporaries` cleans those a killed process left.
    """
    path = Path(path)
    if root is not None:
        check_inside(path, root)
    else:
        inside(path.parent, path.name)  # one plain name, no NUL
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def open_regular(path: str | Path, limit: int, what: str) -> BinaryIO:
    """Open a regular file of at most ``limit`` bytes for reading (binary); ValueError else.

    Devices (``/dev/zero``), FIFOs and sockets are refused: they can block or never end. The
    file is opened without blocking and checked on the open descriptor, so a file swapped for
    a FIFO after a check cannot hang the reader either.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"not a regular file (a {_file_kind(info.st_mode)}); expected a {what}"
            )
        if info.st_size > limit:
            raise ValueError(f"larger than the limit of {limit} bytes for a {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit, what) as handle:
        data = handle.read(limit + 1)  # a file that grew since: still no more than this
    if len(data) > limit:
        raise ValueError(f"larger than the limit of {limit} bytes for a {what}")
    return data


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def remove_stale_temporaries(folder: str | Path, pattern: str = "*") -> list[Path]:
    """Delete the temporary files (``.NAME.XXXXXXXX.tmp``) a killed writer left in ``folder``.

    Only files of that exact shape whose NAME matches the glob ``pattern`` are removed, so a
    user's own ``.tmp`` files survive. Returns the removed paths.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.glob(f".{pattern}.*{TMP_SUFFIX}"):
        if _TMP_NAME.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed


_TMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]{8}" + re.escape(TMP_SUFFIX))


def write_text(path: str | Path, text: str, *, root: str | Path | None = None) -> None:
    """Atomically write ``text`` (UTF-8), under ``root`` when given."""
    with atomic_open(path, "w", root=root, encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any, *, root: str | Path | None = None) -> None:
    """Atomically write ``data`` as indented JSON, under ``root`` when given."""
    write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n", root=root)


MAX_NAME_LENGTH = 64


def safe_name(name: str) -> str:
    """A file-system-safe, bounded and still unique file name for a run or scenario name.

    Letters, digits and ``_.=-`` are kept; anything else becomes ``_``. When that changed the
    name (or it was too long), a short hash of the original is appended, so that "a/b" and
    "a b", or "α" and "β", never share a file.
    """
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("._")
    if safe == name and name and len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{safe[:MAX_NAME_LENGTH]}-{digest}" if safe else f"run-{digest}"
