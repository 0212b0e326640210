"""The results folder (``--out``) is replaced as a whole: staged beside it, then swapped in.

Files written one by one into a reused folder would mix two scenarios (a previous run's
traces and plots beside the new summary), and a kill half-way would leave new traces beside
the old summary. :func:`staged` hands out a fresh folder next to ``--out``; when everything is
written it takes the place of ``--out`` in one rename (an atomic exchange where the system
offers one), and the previous folder is deleted. A kill leaves the old folder intact and a
``.NAME.gdsim-stage-…`` folder that the next run removes.

A folder that exists, is not empty and is not a gdsim results folder (no ``summary.json`` of
ours) is refused unless the caller forces it; a folder holding the working directory is
never replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gdsim.errors import GdsimError
from gdsim.fileio import read_regular

STAGE, OLD = "gdsim-stage", "gdsim-old"


class OutputFolderError(GdsimError):
    """``--out`` cannot be used: not a folder, someone else's files, or holds the cwd."""


def is_results_folder(folder: Path) -> bool:
    """True when ``folder`` holds a ``summary.json`` that gdsim wrote (a ``runs`` list)."""
    try:
        summary = json.loads(read_regular(folder / "summary.json", 1 << 28, "summary"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(summary, dict)
        and isinstance(summary.get("runs"), list)
        and isinstance(summary.get("scenario"), dict)
    )


def check_replaceable(out: Path, force: bool = False) -> None:
    """Raise :class:`OutputFolderError` unless ``out`` may be replaced by new results."""
    if out.is_symlink():
        raise OutputFolderError(
            f"{out}: is a symbolic link (replacing it would replace the link, not the folder "
            "it points to); give that folder as --out"
        )
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder; choose another --out")
    if not out.exists():
        return
    real, cwd = out.resolve(), Path.cwd().resolve()
    if real == cwd or real in cwd.parents or real == Path.home().resolve():
        raise OutputFolderError(
            f"{out}: refusing to replace a folder that holds the working directory or is the "
            "home folder; choose another --out"
        )
    entries = sorted(p.name for p in out.iterdir())
    if entries and not force and not is_results_folder(out):
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise OutputFolderError(
            f"{out}: the folder holds files that are not gdsim results ({shown}); choose "
            "another --out, or pass --force to replace the folder and everything in it"
        )


def remove_stale_stages(out: Path) -> None:
    """Delete the staging and old folders a killed run left beside ``out``."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        return
    for pattern in (f".{out.name}.{STAGE}-*", f".{out.name}.{OLD}-*"):
        for stale in parent.glob(pattern):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def staged(out: str | Path, force: bool = False) -> Iterator[Path]:
    """A fresh folder to write the results into; it replaces ``out`` when the block succeeds.

    On an exception (or Ctrl-C) the staging folder is deleted and ``out`` is left as it was.
    """
    out = Path(out)
    check_replaceable(out, force)
    remove_stale_stages(out)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.{STAGE}-", dir=parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes 0700
        yield stage
        check_replaceable(out, force)  # nobody put files there meanwhile
        _swap_in(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, out: Path) -> None:
    """Put ``stage`` where ``out`` is: one atomic exchange if possible, else two renames."""
    if out.exists() and _exchange(stage, out):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the previous results
        return
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.{OLD}-", dir=stage.parent))
        os.replace(out, old)  # replaces the empty placeholder folder
        os.rename(stage, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, out)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2(RENAME_EXCHANGE); False if absent."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0
