"""One training run per folder: an OS lock on ``DIR/.lock`` held for as long as the run lives.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), taken
without waiting: a second ``scratchgen train --out DIR`` started while the first holds it is
refused at once. The OS releases it when its holder exits in any way, SIGKILL included, so a
killed run leaves no stale lock behind; the file itself stays (removing it would let a third
process lock a new file while the second still holds the old one).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class FolderInUse(Exception):
    """Another process holds the folder's lock."""


class NotAFolder(ValueError):
    """The run folder's path names a file."""


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block, or raise FolderInUse at once."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotAFolder(f"{folder} is a file, not a run folder; choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OSError(
            f"could not make the run folder {folder}: {error.strerror or error}"
        ) from None
    try:
        if not _try_lock(fd):
            holder = os.read(fd, 32).decode(errors="replace").strip()
            raise FolderInUse(
                f"{folder} is in use by another scratchgen train"
                + (f" (process {holder})" if holder else "")
                + "; wait for it to finish, or choose another --out"
            )
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())  # for the message above; the lock is the truth
        yield
    finally:
        os.close(fd)  # closing releases the lock
