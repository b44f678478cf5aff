"""Reading the file backend's change log (:mod:`wfstored.storage.files.change_log`) for Watch.

A cursor holds one position per stripe. Reading a stripe takes whole lines after its position
and returns each intent whose outcome is ``+``; it stops before an intent with no outcome yet.
If such an intent waits longer than :data:`SETTLE_AFTER` seconds its writer is taken for dead
and the stripe is settled under its lock (see :meth:`ChangeLog.settle`). On Linux, inotify
wakes the reader when any process appends to the log (and it still looks every
:data:`SAFETY_POLL_SECONDS`); elsewhere, writes by this process wake it at once and other
processes' writes are found by looking at each stripe every :data:`POLL_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Final

from wfstore.domain import ExecutionContext, StoredState
from wfstore.errors import DataCorruptedError, WatchExpiredError

from wfstored.storage.files.change_log import (
    ChangeLog,
    Segment,
    all_segments,
    decode_intent,
    read_epoch,
    read_tail,
    segment_path,
    segments,
)
from wfstored.storage.files.dir_events import DirectoryEvents, open_directory_events
from wfstored.storage.shared.change_feed import Change, Cursor, decode_token, encode_token
from wfstored.storage.shared.os_errors import translate_os_errors

__all__ = ["POLL_SECONDS", "SETTLE_AFTER", "FileChangeFeed"]

POLL_SECONDS: Final = 0.02
"""How often the stripes are looked at for other processes' changes, without inotify."""
SAFETY_POLL_SECONDS: Final = 1.0
"""How often they are looked at with inotify, in case a wake-up was missed."""
SETTLE_AFTER: Final = 1.0
"""How long an intent may wait for its outcome before its writer is taken for dead."""
_READ_BYTES: Final = 1 << 16


class FileChangeFeed:
    """The change log of one state directory, read for Watch (a ``ChangeFeed``)."""

    def __init__(
        self,
        log: ChangeLog,
        epoch: bytes,
        stripes: int,
        *,
        get: Callable[[str], StoredState | None],
        settle: Callable[[int], None],
    ) -> None:
        """Read ``log``; ``get`` loads a state, ``settle(stripe)`` settles it under its lock."""
        self._dir = log.directory
        self._epoch = epoch
        self._stripes = stripes
        self._get = get
        self._settle = settle
        self._wake = threading.Event()
        self._segments: dict[int, list[Segment]] = {}
        self._waiting: dict[int, tuple[int, float]] = {}  # stripe -> (position, since)
        self._next_at: dict[int, set[int]] = {}  # stripe -> where next segments must start
        self._turn = 0
        self._events: DirectoryEvents | None = None
        self._inotify = True
        self._lock = threading.Lock()
        self._dirty: set[int] = set()
        """Stripes inotify said were written since they were last looked at."""
        self._ends: dict[int, int] = {}
        """Each stripe's end (a position) when it was last looked at."""
        log.committed = self._wake.set

    def head(self) -> Cursor:
        """Return the cursor after every settled change in every stripe."""
        with translate_os_errors(f"reading the change log in {self._dir}"):
            self._refresh_all()
            return tuple(self._head(stripe) for stripe in range(self._stripes))

    def check(self, cursor: Cursor) -> None:
        """Raise WatchExpiredError if a stripe's changes after ``cursor`` are gone."""
        with translate_os_errors(f"reading the change log in {self._dir}"):
            self._refresh_all()
            for stripe, position in enumerate(cursor):
                self._segment_at(stripe, position)

    def read(self, after: Cursor, limit: int) -> tuple[list[Change], Cursor]:
        """Return up to ``limit`` settled changes after ``after`` and the cursor past them."""
        changes: list[Change] = []
        cursor = list(after)
        self._turn = (self._turn + 1) % self._stripes
        with translate_os_errors(f"reading the change log in {self._dir}"):
            for i in range(self._stripes):
                stripe = (self._turn + i) % self._stripes
                if len(changes) >= limit:
                    break
                cursor[stripe] = self._read_stripe(stripe, cursor[stripe], changes, limit)
        return changes, tuple(cursor)

    def wait(self, timeout: float) -> None:
        """Sleep until a change may have been committed (inotify), or poll every POLL_SECONDS."""
        events = self._directory_events()
        if events is None:
            self._wake.wait(min(timeout, POLL_SECONDS))
            self._wake.clear()
            return
        names = events.wait(SAFETY_POLL_SECONDS)
        with self._lock:
            self._dirty.update(s for s in map(_stripe_of_name, names) if s is not None)

    def _directory_events(self) -> DirectoryEvents | None:
        """Return the inotify watch on the log directory, made (again) if need be."""
        if self._events is not None and self._events.broken:
            self._events.close()
            self._events = None
        if self._events is None and self._inotify and self._dir.is_dir():
            self._events = open_directory_events(self._dir)
            self._inotify = self._events is not None
            # Appends made before the watch existed were never reported: forget every end
            # seen so far, so the next read looks at each stripe once more.
            self._ends.clear()
        return self._events

    def state_at(self, workflow_id: str, version: int) -> ExecutionContext | None:
        """Return the id's state if its stored version is still ``version``."""
        try:
            stored = self._get(workflow_id)
        except DataCorruptedError:
            return None
        return stored.state if stored is not None and stored.version == version else None

    def encode(self, cursor: Cursor) -> str:
        """Return the token of ``cursor``."""
        return encode_token("f", self._epoch, cursor)

    def decode(self, token: str) -> Cursor:
        """Return the cursor of ``token``, refusing tokens of other logs."""
        return decode_token(token, "f", self._epoch, self._stripes)

    def close(self) -> None:
        """Stop the inotify watch (a later wait makes a new one)."""
        if self._events is not None:
            self._events.close()
            self._events = None

    # --- One stripe ----------------------------------------------------------------------------

    def _head(self, stripe: int) -> int:
        """Return the stripe's settled end, from the segments last listed."""
        found = self._segments.get(stripe) or []
        if not found:
            return 0
        last = found[-1]
        try:
            fd = os.open(last.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # rolled over and removed since the listing: list again
            self._refresh(stripe)
            return self._head(stripe)
        try:
            size = os.fstat(fd).st_size
            return last.start + read_tail(fd, size).settled
        finally:
            os.close(fd)

    def _read_stripe(self, stripe: int, position: int, out: list[Change], limit: int) -> int:
        """Append the stripe's changes after ``position`` to ``out``; return the new position."""
        if self._unchanged(stripe, position):
            return position  # nothing written there since it was last looked at
        while len(out) < limit:
            segment = self._segment_at(stripe, position)
            if segment is None:
                return position
            try:
                size = segment.path.stat().st_size
                self._ends[stripe] = segment.start + size
                if size == position - segment.start:
                    return position  # the common case: nothing new in this stripe
                fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                self._segments.pop(stripe, None)
                continue
            try:
                data = os.pread(fd, _READ_BYTES, position - segment.start)
            finally:
                os.close(fd)
            moved, continued = self._parse(stripe, position, data, out, limit)
            if continued:
                self._next_at.setdefault(stripe, set()).add(moved)  # a segment starts there
                self._segments.pop(stripe, None)
            elif moved == position or len(data) < _READ_BYTES:
                return moved
            position = moved
        return position

    def _unchanged(self, stripe: int, position: int) -> bool:
        """Whether inotify vouches that the stripe still ends at ``position``.

        The stripe leaves the dirty set before it is looked at, so an append after the look
        marks it again.
        """
        if self._events is None or position in self._next_at.get(stripe, ()):
            return False  # no inotify, or a segment is due to start here: look
        with self._lock:
            if stripe in self._dirty:
                self._dirty.discard(stripe)
                return False
        return self._ends.get(stripe) == position

    def _parse(
        self, stripe: int, position: int, data: bytes, out: list[Change], limit: int
    ) -> tuple[int, bool]:
        """Take the settled records of ``data`` (read at ``position``); return where they end.

        The flag says the stripe goes on in its next segment.
        """
        offset = 0
        pending = None
        pending_at = 0
        while len(out) < limit:
            newline = data.find(b"\n", offset)
            if newline < 0:
                break
            line = data[offset:newline]
            line_start = offset
            offset = newline + 1
            if pending is not None:
                if line == b"+":
                    out.append(
                        Change(
                            pending.kind,
                            pending.workflow_id,
                            pending.version,
                            stripe,
                            position + offset,
                        )
                    )
                pending = None
                continue
            if line == b">":
                return position + offset, True
            pending = decode_intent(line)
            pending_at = line_start
        if pending is not None:
            self._wait_or_settle(stripe, position + pending_at)
            return position + pending_at, False
        self._waiting.pop(stripe, None)
        return position + offset, False

    def _wait_or_settle(self, stripe: int, position: int) -> None:
        """Settle the intent at ``position`` if it has waited too long for its outcome."""
        now = time.monotonic()
        seen = self._waiting.get(stripe)
        if seen is None or seen[0] != position:
            self._waiting[stripe] = (position, now)
        elif now - seen[1] > SETTLE_AFTER:
            self._settle(stripe)
            self._waiting.pop(stripe, None)

    def _segment_at(self, stripe: int, position: int) -> Segment | None:
        """Return the segment holding ``position`` (None: nothing written there yet).

        Raises WatchExpiredError when the segments before it have been removed.
        """
        found = self._segments.get(stripe)
        waiting = position in self._next_at.get(stripe, ())
        if found is None or waiting or (not found and segment_path(self._dir, stripe, 0).exists()):
            found = self._refresh(stripe)
            if waiting and any(segment.start == position for segment in found):
                self._next_at.get(stripe, set()).discard(position)  # the writer made it
        if not found:
            if position:
                raise _expired(stripe)
            return None
        if position < found[0].start:
            found = self._refresh(stripe)
            if not found or position < found[0].start:
                raise _expired(stripe)
        holder = None
        for segment in found:
            if segment.start <= position:
                holder = segment
        return holder

    def _refresh_all(self) -> None:
        """List every stripe's segments in one scan of the directory."""
        if not self._same_epoch():
            return
        try:
            found = all_segments(self._dir)
        except FileNotFoundError:
            return
        for stripe in range(self._stripes):
            self._segments[stripe] = found.get(stripe, [])

    def _same_epoch(self) -> bool:
        """Whether the log is there (False if not); WatchExpiredError if it was made anew."""
        try:
            epoch = read_epoch(self._dir)
        except FileNotFoundError:
            return False
        if epoch != self._epoch:
            self._epoch = epoch
            self._segments.clear()
            raise WatchExpiredError(
                f"the change log in {self._dir} was made again (the directory was removed): "
                "list what is stored and watch anew"
            )
        return True

    def _refresh(self, stripe: int) -> list[Segment]:
        """List the stripe's segments again; WatchExpiredError if the log was made anew."""
        if not self._same_epoch():
            return []
        with contextlib.suppress(FileNotFoundError):
            found = segments(self._dir, stripe)
            self._segments[stripe] = found
            return found
        return []


def _stripe_of_name(name: str) -> int | None:
    """Return the stripe a segment's file name belongs to (None for other files)."""
    stripe, dash, _ = name.partition("-")
    return int(stripe) if dash and stripe.isdigit() else None


def _expired(stripe: int) -> WatchExpiredError:
    return WatchExpiredError(
        f"the changes after this token in stripe {stripe} are no longer kept; list what is "
        "stored and watch anew"
    )
