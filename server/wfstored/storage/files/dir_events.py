"""Waking up when files in a directory change: Linux ``inotify``, through ctypes.

The change log's readers wait here instead of looking at every stripe every few
milliseconds: a write by any process wakes them at once, and an idle watch costs nothing.
Where inotify is missing (not Linux, or no watches left: ``fs.inotify.max_user_watches``),
:func:`open_directory_events` returns None and the reader polls instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
from pathlib import Path
from typing import Final

__all__ = ["DirectoryEvents", "open_directory_events", "open_inotify", "read_events"]

_IN_MODIFY: Final = 0x002
_IN_MOVED_TO: Final = 0x080
_IN_CREATE: Final = 0x100
_IN_DELETE_SELF: Final = 0x400
_IN_IGNORED: Final = 0x8000
_HEADER: Final = struct.Struct("iIII")  # wd, mask, cookie, len


class DirectoryEvents:
    """An inotify watch on one directory: :meth:`wait` returns when a file in it changes."""

    def __init__(self, fd: int) -> None:
        """Own the inotify descriptor ``fd`` (already watching the directory)."""
        self._fd = fd
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.broken = False
        """The directory went away (or the watch failed): open a new one to go on."""

    def wait(self, timeout: float) -> set[str]:
        """Wait up to ``timeout`` s for changes; return the names of the files that changed."""
        try:
            ready, _, _ = select.select([self._fd, self._wake_read], [], [], timeout)
        except (OSError, ValueError):
            self.broken = True
            return set()
        if self._wake_read in ready:
            self.broken = True  # closed: the waiter is to stop
            return set()
        if not ready:
            return set()
        return self._drain()

    def close(self) -> None:
        """Stop watching and wake a waiter; idempotent."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_write, b"x")
            for fd in (self._fd, self._wake_write, self._wake_read):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fd = -1

    def _drain(self) -> set[str]:
        names: set[str] = set()
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return names
            except OSError:
                self.broken = True
                return names
            offset = 0
            while offset + _HEADER.size <= len(data):
                _, mask, _, size = _HEADER.unpack_from(data, offset)
                if mask & (_IN_IGNORED | _IN_DELETE_SELF):
                    self.broken = True
                name = data[offset + _HEADER.size : offset + _HEADER.size + size].rstrip(b"\0")
                names.add(os.fsdecode(name))
                offset += _HEADER.size + size


def open_directory_events(directory: Path) -> DirectoryEvents | None:
    """Watch ``directory`` for files created, written or moved in; None if inotify cannot."""
    fd = open_inotify(directory, _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO | _IN_DELETE_SELF)
    return None if fd is None else DirectoryEvents(fd)


def open_inotify(directory: Path, mask: int) -> int | None:
    """Return a non-blocking inotify descriptor watching ``directory`` for ``mask``, or None.

    None when inotify is missing or out of watches; the caller then does without.
    """
    libc = _libc()
    if libc is None:
        return None
    fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
        os.close(fd)
        return None
    return fd


def read_events(fd: int) -> list[tuple[int, str]]:
    """Return the (mask, file name) of every event queued on inotify ``fd``, without waiting.

    Raises OSError when the descriptor cannot be read.
    """
    events: list[tuple[int, str]] = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return events
        offset = 0
        while offset + _HEADER.size <= len(data):
            _, mask, _, size = _HEADER.unpack_from(data, offset)
            name = data[offset + _HEADER.size : offset + _HEADER.size + size].rstrip(b"\0")
            events.append((mask, os.fsdecode(name)))
            offset += _HEADER.size + size


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc
