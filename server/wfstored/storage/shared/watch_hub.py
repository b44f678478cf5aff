"""Watch over any change feed: one reader thread per store, and any number of watchers.

The hub's thread reads the feed (:mod:`wfstored.storage.shared.change_feed`) from where it
started and keeps the newest changes in a ring of fixed size. A watcher is either *in the ring*
(it holds an index into it, so a change is read from the backend once however many watch it)
or *catching up* (it resumed from an older token and reads the feed itself, in batches, until
its cursor falls inside the ring). A watcher in the ring that falls behind its start, because
it reads more slowly than changes arrive, is cut off with
:class:`~wfstore.errors.WatchLaggedError` by :meth:`Watcher.poll`; iterating a watcher resumes
by itself (it catches up from its own cursor). Memory is bounded either way: the ring (whose newest
:data:`CACHED_STATES` entries hold a loaded state), and one batch per catching-up watcher.
"""

from __future__ import annotations

import collections
import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from wfstore.domain import ExecutionContext, StateEvent
from wfstore.errors import (
    StoreClosedError,
    StoreError,
    WatchExpiredError,
    WatchLaggedError,
)
from wfstore.validation import check_watch_selector

from wfstored.storage.shared.change_feed import Change, ChangeFeed, Cursor

__all__ = ["BATCH", "RING_CAPACITY", "WatchHub", "Watcher"]

_log = logging.getLogger("wfstored.watch")

RING_CAPACITY: Final = 4096
"""How many of the newest changes a hub keeps: how far a watcher may fall behind."""
CACHED_STATES: Final = 256
"""Of those, how many of the newest keep the state a watcher loaded, for the others to share;
older entries let theirs go, so the ring's memory is bounded by this many states."""
BATCH: Final = 512
"""Most changes read from a feed, or handed to a watcher, at once."""
IDLE_SECONDS: Final = 5.0
"""How long the reader thread goes on without watchers before it stops (the next starts it)."""
_RETRY_SECONDS: Final = (0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(slots=True)
class _Entry:
    """A change in the ring, with its state once a watcher has loaded it."""

    change: Change
    state: ExecutionContext | None = None
    loaded: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while the state loads, so that it loads once however many watchers want it."""


@dataclass(frozen=True, slots=True)
class _Selector:
    """Which ids a watcher wants: one id, or every id with a prefix ("" for all)."""

    prefix: str = ""
    workflow_id: str | None = None

    def matches(self, workflow_id: str) -> bool:
        if self.workflow_id is not None:
            return workflow_id == self.workflow_id
        return workflow_id.startswith(self.prefix)


@dataclass(slots=True)
class _Ring:
    """The newest changes read, the cursor before the first of them, and after the last."""

    entries: collections.deque[_Entry] = field(default_factory=collections.deque)
    first: int = 0
    """The index of ``entries[0]``; indexes grow forever, so a watcher's stays valid."""
    start: list[int] = field(default_factory=list)
    end: Cursor = ()

    @property
    def next_index(self) -> int:
        return self.first + len(self.entries)

    def covers(self, cursor: Cursor) -> bool:
        """Whether every change after ``cursor`` is in the ring or still to come."""
        return all(s <= c <= e for s, c, e in zip(self.start, cursor, self.end, strict=True))


class WatchHub:
    """Reads one feed in a thread of its own and serves every watcher of one store."""

    def __init__(
        self,
        feed: ChangeFeed,
        *,
        poll_interval: float,
        capacity: int = RING_CAPACITY,
        name: str = "store",
    ) -> None:
        """Serve ``feed``; the thread starts with the first watcher, at the feed's head."""
        self._feed = feed
        self._poll_interval = poll_interval
        self._capacity = capacity
        self._name = name
        self._cond = threading.Condition()
        self._ring: _Ring | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._watchers = 0

    @property
    def feed(self) -> ChangeFeed:
        """The feed this hub reads."""
        return self._feed

    @property
    def watchers(self) -> int:
        """How many watchers are open now."""
        return self._watchers

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> Watcher:
        """Return a watcher of ids starting with ``prefix``, or of ``workflow_id`` only.

        From now on without ``resume_token``; from just after its change with one (checked
        now: InvalidArgumentError if malformed, WatchExpiredError if too old).
        """
        check_watch_selector(prefix, workflow_id, resume_token)
        selector = _Selector(prefix, workflow_id)
        cursor = None
        if resume_token:
            cursor = self._feed.decode(resume_token)
            self._feed.check(cursor)
        ring = self._joined()
        with self._cond:
            if cursor is None:
                cursor = ring.end
                index: int | None = ring.next_index
            else:
                index = None
        return Watcher(self, selector, cursor, include_state=include_state, index=index)

    def close(self) -> None:
        """Stop the thread, end every watcher, close the feed; idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._feed.close()  # wakes the thread if it waits on the feed
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._feed.close()  # anything the thread opened again meanwhile

    # --- Used by watchers ----------------------------------------------------------------------

    def _released(self, watcher: Watcher) -> None:
        with self._cond:
            if not watcher._closed:  # noqa: SLF001 (the hub's own watcher)
                watcher._closed = True  # noqa: SLF001
                self._watchers -= 1
                self._cond.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the {self._name} is closed: the watch has ended")

    def _joined(self) -> _Ring:
        """Count one more watcher and return the ring, starting the reader thread if needed."""
        with self._cond:
            self._check_open()
            if self._ring is not None:
                self._watchers += 1
                return self._ring
        head = self._feed.head()
        with self._cond:
            self._check_open()
            if self._ring is None:
                self._ring = _Ring(start=list(head), end=head)
                self._thread = threading.Thread(
                    target=self._run, name=f"wfstored-watch-{self._name}", daemon=True
                )
                self._thread.start()
            self._watchers += 1
            return self._ring

    # --- The reader thread ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        idle_since = time.monotonic()
        while True:
            with self._cond:
                if self._closed:
                    return
                if self._watchers:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > IDLE_SECONDS:
                    self._ring, self._thread = None, None  # the next watcher starts afresh
                    break
                ring = self._ring
                assert ring is not None  # noqa: S101 (set before the thread starts)
                cursor = ring.end
            failures = self._read_once(cursor, failures)
        self._feed.close()  # its LISTEN connection, if any; the next reader opens it again

    def _read_once(self, cursor: Cursor, failures: int) -> int:
        """Read one batch after ``cursor`` into the ring; return the failures in a row."""
        try:
            changes, after = self._feed.read(cursor, BATCH)
        except WatchExpiredError:
            # The hub itself fell behind what the log keeps (it could not read for that long):
            # start again at the head; watchers in the ring are cut off and find out, on
            # resuming, whether their own cursors are still kept.
            self._restart()
            return 0
        except StoreError as exc:
            if failures == 0:
                _log.warning("watch on the %s cannot read changes: %s", self._name, exc)
            self._sleep(_RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)])
            return failures + 1
        except Exception:  # noqa: BLE001 (the thread must go on; the traceback is logged)
            _log.exception("watch on the %s failed reading changes", self._name)
            self._sleep(1.0)
            return failures + 1
        if failures:
            _log.info("watch on the %s reads changes again", self._name)
        self._append(changes, after)
        if len(changes) < BATCH:
            self._feed.wait(self._poll_interval)
        return 0

    def _append(self, changes: list[Change], after: Cursor) -> None:
        with self._cond:
            ring = self._ring
            assert ring is not None  # noqa: S101
            for change in changes:
                ring.entries.append(_Entry(change))
                if len(ring.entries) > CACHED_STATES:
                    old = ring.entries[-CACHED_STATES - 1]
                    old.state, old.loaded = None, False
            while len(ring.entries) > self._capacity:
                dropped = ring.entries.popleft().change
                ring.first += 1
                ring.start[dropped.part] = dropped.position
            if changes or after != ring.end:
                ring.end = after
                self._cond.notify_all()

    def _restart(self) -> None:
        head = self._feed.head()
        with self._cond:
            ring = self._ring
            assert ring is not None  # noqa: S101
            ring.first += len(ring.entries)
            ring.entries.clear()
            ring.start, ring.end = list(head), head
            self._cond.notify_all()

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            if not self._closed:
                self._cond.wait(seconds)


class Watcher:
    """One watch on a hub: poll it for changes, or iterate it; a :class:`wfstore.StateWatch`."""

    def __init__(
        self,
        hub: WatchHub,
        selector: _Selector,
        cursor: Cursor,
        *,
        include_state: bool,
        index: int | None,
    ) -> None:
        """Watch from ``cursor``: in the ring at ``index``, or catching up when None."""
        self._hub = hub
        self._selector = selector
        self._cursor = cursor
        self._token = ""
        self._include_state = include_state
        self._index = index
        self._pending: list[_Entry] = []
        self._ready: collections.deque[StateEvent] = collections.deque()
        self._closed = False
        self._share_states = False

    @property
    def resume_token(self) -> str:
        """The token of everything seen so far: watch with it to go on from here."""
        if not self._token:
            self._token = self._hub.feed.encode(self._cursor)
        return self._token

    def poll(self, timeout: float) -> list[StateEvent]:
        """Return the matching changes that arrive within ``timeout`` seconds, perhaps none.

        Raises WatchLaggedError when this watcher fell out of the hub's ring (resume from
        :attr:`resume_token`), StoreClosedError once the store is closed, and WatchExpiredError
        when catching up finds its cursor no longer kept.
        """
        deadline = time.monotonic() + timeout
        while not self._closed:
            events = self._step(deadline)
            if events:
                return events
            if time.monotonic() >= deadline:
                return []
        return []

    def share_states(self) -> None:
        """Hand out the states every watcher of the hub shares, not copies of them.

        For read-only consumers (the daemon turns them into messages): a caller that changes
        a shared state changes it for every other watcher.
        """
        self._share_states = True

    def __iter__(self) -> Self:
        """Return the watcher itself."""
        return self

    def __next__(self) -> StateEvent:
        """Block until the next matching change; resume by itself after lagging behind."""
        while not self._ready:
            if self._closed:
                raise StopIteration
            try:
                self._ready.extend(self.poll(1.0))
            except WatchLaggedError:
                self._index = None  # catch up from the cursor, as a resumed watch would
            except StoreClosedError:
                self.close()
                raise StopIteration from None
        return self._ready.popleft()

    def close(self) -> None:
        """Stop watching, waking a poll in progress; idempotent and thread-safe."""
        self._hub._released(self)  # noqa: SLF001 (the hub's own watcher)

    def __enter__(self) -> Self:
        """Return the watcher itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the watcher."""
        self.close()

    # --- Steps ---------------------------------------------------------------------------------

    def _step(self, deadline: float) -> list[StateEvent]:
        """Take one batch of changes (waiting until ``deadline`` for some) and keep the matches."""
        if self._pending:
            entries, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            return self._deliver(entries)
        if self._index is None:
            return self._catch_up(deadline)
        hub = self._hub
        with hub._cond:  # noqa: SLF001 (the hub's own watcher)
            hub._check_open()  # noqa: SLF001
            ring = hub._ring  # noqa: SLF001
            assert ring is not None  # noqa: S101
            if self._index < ring.first:
                raise WatchLaggedError(
                    f"this watcher fell more than {len(ring.entries)} changes behind and was "
                    "cut off; resume from its last token"
                )
            if self._index == ring.next_index:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    hub._cond.wait(remaining)  # noqa: SLF001
                if self._index < ring.first or self._index == ring.next_index:
                    if self._index == ring.next_index:
                        self._advance_to(ring.end)
                    return []
            offset = self._index - ring.first
            count = min(BATCH, ring.next_index - self._index)
            entries = [ring.entries[offset + i] for i in range(count)]
            end = ring.end if self._index + len(entries) == ring.next_index else None
        events = self._deliver(entries)
        self._index += len(entries)
        if end is not None:
            self._advance_to(end)
        return events

    def _catch_up(self, deadline: float) -> list[StateEvent]:
        """Read the feed from this watcher's own cursor; join the ring once it covers it."""
        hub = self._hub
        with hub._cond:  # noqa: SLF001 (the hub's own watcher)
            hub._check_open()  # noqa: SLF001
            ring = hub._ring  # noqa: SLF001
            assert ring is not None  # noqa: S101
            if ring.covers(self._cursor):
                self._pending = [
                    e for e in ring.entries if e.change.position > self._cursor[e.change.part]
                ]
                self._index = ring.next_index
                return []
        changes, after = hub.feed.read(self._cursor, BATCH)
        if not changes and after == self._cursor:
            # Ahead of the hub in some part (it has not read that far yet): wait for it.
            with hub._cond:  # noqa: SLF001
                remaining = min(deadline - time.monotonic(), 0.05)
                if remaining > 0 and not hub._closed:  # noqa: SLF001
                    hub._cond.wait(remaining)  # noqa: SLF001
            return []
        events = self._deliver([_Entry(change) for change in changes])
        self._advance_to(after)
        return events

    def _deliver(self, entries: list[_Entry]) -> list[StateEvent]:
        """Return the events of the matching ``entries``, moving the cursor past all of them.

        States are loaded before the cursor moves, so a failure to load one leaves the
        watcher where it was.
        """
        matching = [e for e in entries if self._selector.matches(e.change.workflow_id)]
        if self._include_state:
            for entry in matching:
                _load(entry, self._hub.feed.state_at)
        cursor = list(self._cursor)
        events: list[StateEvent] = []
        for entry in entries:
            change = entry.change
            cursor[change.part] = max(cursor[change.part], change.position)
            if not self._selector.matches(change.workflow_id):
                continue
            self._cursor = tuple(cursor)
            self._token = ""
            state = entry.state if self._include_state else None
            if state is not None and not self._share_states:
                state = copy.deepcopy(state)  # the caller's own, to change as it likes
            events.append(
                StateEvent(
                    kind=change.kind,
                    workflow_id=change.workflow_id,
                    version=change.version,
                    state=state,
                    resume_token=self.resume_token,
                )
            )
        self._advance_to(tuple(cursor))
        return events

    def _advance_to(self, cursor: Cursor) -> None:
        merged = tuple(max(a, b) for a, b in zip(self._cursor, cursor, strict=True))
        if merged != self._cursor:
            self._cursor = merged
            self._token = ""


def _load(entry: _Entry, state_at: Callable[[str, int], ExecutionContext | None]) -> None:
    """Load the state of a saved change once; every watcher of the ring shares it."""
    if entry.loaded or entry.change.kind != "saved":
        return
    with entry.lock:
        if not entry.loaded:
            entry.state = state_at(entry.change.workflow_id, entry.change.version)
            entry.loaded = True
