"""The sorted ids of a state directory, kept up to date from inotify, for List.

Scanning a directory of 100,000 state files takes tens of milliseconds; doing it on every List
while saves keep changing the directory would make List cost grow with the store. Instead the
first List scans once, after an inotify watch on the directory is in place, and every later
List reads the events queued since (without waiting) and looks again at just the names they
mention, with one ``lstat`` each. The kernel queues an event before the call that made the
change returns, in whatever process, so a List that starts after a save or delete returned
sees it, as a fresh scan would. When the kernel's queue overflows, or the directory is
removed, moved or made again (one ``stat`` per List compares its inode with the watched one),
the next List scans afresh.

Where inotify is missing, :meth:`LiveListing.page` returns None and the store falls back to
scanning.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import stat
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Final

from wfstored.storage.files.dir_events import open_inotify, read_events

__all__ = ["LiveListing"]

_IN_MOVED_FROM: Final = 0x040
_IN_MOVED_TO: Final = 0x080
_IN_CREATE: Final = 0x100
_IN_DELETE: Final = 0x200
_IN_DELETE_SELF: Final = 0x400
_IN_MOVE_SELF: Final = 0x800
_IN_Q_OVERFLOW: Final = 0x4000
_IN_IGNORED: Final = 0x8000
_MASK: Final = (
    _IN_CREATE | _IN_MOVED_TO | _IN_MOVED_FROM | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
)
_START_OVER: Final = _IN_Q_OVERFLOW | _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF


class LiveListing:
    """The state files' ids in one directory, sorted, as of the moment of each call."""

    def __init__(self, directory: Path, suffix: str, is_id: Callable[[str], bool]) -> None:
        """List ``directory``'s regular files named ``<id><suffix>`` for which ``is_id(id)``."""
        self._dir = directory
        self._prefix = f"{directory}{os.sep}"
        self._suffix = suffix
        self._is_id = is_id
        self._lock = threading.Lock()
        self._fd = -1
        self._watched: tuple[int, int] = (0, 0)  # the directory's (device, inode)
        self._ids: list[str] = []
        self._unavailable = False
        self._closer: weakref.finalize[[int], object] | None = None
        self.scans = 0
        """How many times the directory was scanned in full (for tests)."""

    def page(self, after: str | None, size: int) -> tuple[list[str], bool] | None:
        """Return up to ``size`` ids after ``after`` (None: from the first) and whether more follow.

        None when inotify cannot be used here. Raises OSError when the directory cannot be read.
        """
        with self._lock:
            if not self._bring_up_to_date():
                return None
            start = bisect.bisect_right(self._ids, after) if after is not None else 0
            return self._ids[start : start + size], start + size < len(self._ids)

    def close(self) -> None:
        """Stop watching; idempotent."""
        with self._lock:
            self._forget()
            self._unavailable = True

    def _bring_up_to_date(self) -> bool:
        if self._unavailable:
            return False
        info = self._dir.stat()  # a directory removed and made again is another one
        if self._fd < 0 or (info.st_dev, info.st_ino) != self._watched:
            return self._start_over()
        try:
            events = read_events(self._fd)
        except OSError:
            return self._start_over()
        names: set[str] = set()
        for mask, name in events:
            if mask & _START_OVER:
                return self._start_over()
            if name.endswith(self._suffix):
                names.add(name)
        try:
            for name in names:
                self._look_at(name)
        except OSError:
            self._forget()  # the events are spent: the next call scans afresh
            raise
        return True

    def _start_over(self) -> bool:
        """Watch the directory anew, then scan it; False if inotify is not available."""
        self._forget()
        fd = open_inotify(self._dir, _MASK)
        if fd is None:
            if not self._dir.is_dir():
                raise FileNotFoundError(2, "the state directory is missing", str(self._dir))
            self._unavailable = True
            return False
        self._fd = fd
        self._closer = weakref.finalize(self, _close_quietly, fd)  # a store never closed
        ids: list[str] = []
        try:
            info = self._dir.stat()
            self._watched = (info.st_dev, info.st_ino)
            with os.scandir(self._dir) as scan:
                for entry in scan:
                    name = entry.name
                    if name.endswith(self._suffix) and entry.is_file(follow_symlinks=False):
                        workflow_id = name[: -len(self._suffix)]
                        if self._is_id(workflow_id):
                            ids.append(workflow_id)
        except OSError:
            self._forget()
            raise
        ids.sort()
        self._ids = ids
        self.scans += 1
        return True

    def _look_at(self, name: str) -> None:
        """Make the listing agree with what the directory holds under ``name`` now."""
        workflow_id = name[: -len(self._suffix)]
        try:
            info = os.lstat(self._prefix + name)
        except FileNotFoundError:
            listed = False
        else:
            listed = stat.S_ISREG(info.st_mode) and self._is_id(workflow_id)
        ids = self._ids
        at = bisect.bisect_left(ids, workflow_id)
        present = at < len(ids) and ids[at] == workflow_id
        if listed and not present:
            ids.insert(at, workflow_id)
        elif present and not listed:
            del ids[at]

    def _forget(self) -> None:
        if self._closer is not None:
            self._closer()  # closes the descriptor, once
            self._closer = None
        self._fd = -1
        self._ids = []


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
