"""Private directories (0700) and files (0600), and descriptors opened close-on-exec.

Every backend that keeps files, and the daemon's data directory, go through these, so that
state and history are never readable by other users whatever the umask, and no descriptor
leaks into a child process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private_file",
    "fsync_dir",
    "make_private_dirs",
    "open_fd",
]

DIR_MODE: Final = 0o700
"""The mode of every directory wfstore creates."""
FILE_MODE: Final = 0o600
"""The mode of every file wfstore creates."""
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def open_fd(path: str | os.PathLike[str], flags: int, mode: int = FILE_MODE) -> int:
    """Return ``os.open(path, flags | O_CLOEXEC, mode)``: never inherited by a child process."""
    return os.open(path, flags | _O_CLOEXEC, mode)


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents with mode 0700 exactly, whatever the umask.

    Directories that exist are left as they are; one made meanwhile by another process is
    not an error.
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        directory.chmod(DIR_MODE)  # mkdir's mode is cut by the umask; this is exact


def create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if it does not exist (before a library opens it)."""
    os.close(open_fd(path, os.O_RDWR | os.O_CREAT))


def fsync_dir(path: Path) -> None:
    """Make the renames and unlinks done in directory ``path`` durable."""
    fd = open_fd(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
