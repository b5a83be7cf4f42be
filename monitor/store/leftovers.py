"""The copies a dry run makes beside a SQLite database (`rehearsals`), and those left behind.

A copy is named `<database file>.dry-run-<random>` (with SQLite's `-wal`, `-shm`, `-journal`
beside it while it is open) and locked (`flock`) by the process that made it, from before it is
written until after it is deleted. The kernel lets go of that lock when the process ends,
however it ends, so a copy whose lock another process can take is one left by a process gone
without deleting it (killed outright: `kill -9`, out of memory, the machine lost), and a copy
whose lock is held belongs to a dry run that still runs: `remove_left` deletes the former only.
A copy an older version left (it locked none) is taken for a left one, as it is.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

MARK = ".dry-run-"
SQLITE_SUFFIXES = ("-wal", "-shm", "-journal")  # a SQLite database's files beside it
_RANDOM = re.compile(r"[a-z0-9_]+")  # what `tempfile.mkstemp` puts in a name


@dataclass(frozen=True)
class LeftCopy:
    """A copy `remove_left` deleted: its path and how many bytes its files took."""

    path: Path
    size: int


def new_copy(file: Path) -> tuple[Path, int]:
    """A new, empty file beside the database `file` for a dry run's copy, locked by this
    process: (its path, the descriptor holding the lock, for `delete`)."""
    while True:
        handle, name = tempfile.mkstemp(prefix=f"{file.name}{MARK}", dir=file.parent)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while a clean-up looks at it
        except OSError:
            os.close(handle)
            raise
        if _is(Path(name), handle):
            return Path(name), handle
        os.close(handle)  # a clean-up took it for a left one before it was locked


def delete(copied: Path, handle: int) -> None:
    """Delete a copy `new_copy` made (its SQLite files first, so that none is ever left
    without it), then let go of its lock."""
    try:
        unlink_database(copied)
    finally:
        os.close(handle)


def remove_left(file: Path) -> list[LeftCopy]:
    """Delete the copies of the database `file` that processes gone left (see the module);
    the copies of running dry runs, and files not named as a copy, are left as they are."""
    try:
        names = sorted(os.listdir(file.parent))
    except OSError:
        return []
    prefix = f"{file.name}{MARK}"
    found = []
    for name in names:
        if name.startswith(prefix) and _RANDOM.fullmatch(name.removeprefix(prefix)):
            left = _remove_if_left(file.parent / name)
            if left is not None:
                found.append(left)
    return found


def _remove_if_left(path: Path) -> LeftCopy | None:
    try:
        handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # deleted meanwhile (by its dry run, or another clean-up), or not ours
        return None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its dry run runs
            return None
        if not _is(path, handle):  # deleted meanwhile
            return None
        size = sum(_size(Path(f"{path}{suffix}")) for suffix in ("", *SQLITE_SUFFIXES))
        try:
            unlink_database(path)
        except OSError:
            return None
        return LeftCopy(path, size)
    finally:
        os.close(handle)


def unlink_database(copied: Path) -> None:
    """A SQLite database file and the files beside it (`SQLITE_SUFFIXES`), those there."""
    for suffix in (*SQLITE_SUFFIXES, ""):
        with suppress(FileNotFoundError):
            os.remove(f"{copied}{suffix}")


def _is(path: Path, handle: int) -> bool:
    """Whether `path` still names the file open as `handle`."""
    try:
        named, opened = os.stat(path), os.fstat(handle)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
