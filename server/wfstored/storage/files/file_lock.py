"""An exclusive lock on a file, across processes, that keeps its descriptor open.

``flock(2)`` on a descriptor opened once: taking and releasing the lock is one system call
each, and a waiter blocks in the kernel instead of polling. A process that was forked opens
its own descriptor on first use, because a descriptor inherited across ``fork`` shares its
lock with the parent. If the lock file is removed or replaced while the descriptor is open
(its directory deleted and made again), a lock on the old file would exclude no one, so the
lock is taken again on the file the path names now. Not for threads: serialise threads first
(one lock per process).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from wfstored.storage.shared.private_files import open_fd

__all__ = ["FileLock"]


class FileLock:
    """``with lock:`` holds an exclusive ``flock`` on ``path`` (created 0600 if missing)."""

    def __init__(self, path: Path) -> None:
        """Lock ``path``; nothing is opened until the first acquire."""
        self._path = path
        self._fd = -1
        self._pid = 0

    def acquire(self) -> None:
        """Block until the lock is held; ``OSError`` if the lock file cannot be opened."""
        while True:
            if self._pid != os.getpid():
                self._fd = open_fd(self._path, os.O_RDWR | os.O_CREAT)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if self._holds_the_named_file():
                return
            self.close()  # releases the lock on the orphaned file; the next pass reopens

    def release(self) -> None:
        """Release the lock."""
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __enter__(self) -> None:
        """Block until the lock is held."""
        self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the lock."""
        self.release()

    def _holds_the_named_file(self) -> bool:
        """Whether the open descriptor is still the file that ``path`` names."""
        try:
            named = self._path.stat()
        except FileNotFoundError:
            return False
        held = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def close(self) -> None:
        """Close the descriptor (releasing the lock if held); a later acquire reopens it."""
        if self._pid == os.getpid() and self._fd >= 0:
            os.close(self._fd)
        self._fd, self._pid = -1, 0
