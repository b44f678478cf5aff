"""An exclusive lock on a file, across processes, that keeps its descriptor open.

``flock(2)`` on a descriptor opened once: taking and releasing the lock is one system call
each, and a waiter blocks in the kernel instead of polling. A process that was forked opens
its own descriptor on first use, because a descriptor inherited across ``fork`` shares its
lock with the parent. Not for threads: serialise threads first (one lock per process).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

__all__ = ["FileLock"]


class FileLock:
    """``with lock:`` holds an exclusive ``flock`` on ``path`` (created 0600 if missing)."""

    def __init__(self, path: Path) -> None:
        """Lock ``path``; nothing is opened until the first acquire."""
        self._path = path
        self._fd = -1
        self._pid = 0

    def __enter__(self) -> None:
        """Block until the lock is held."""
        if self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the lock."""
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the descriptor (releasing the lock if held); a later acquire reopens it."""
        if self._pid == os.getpid() and self._fd >= 0:
            os.close(self._fd)
        self._fd, self._pid = -1, 0
