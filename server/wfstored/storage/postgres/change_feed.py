"""Reading PostgreSQL's change log (``wfstore_state_changes``) for Watch, across daemons.

A trigger logs every save and delete in the writer's own transaction (schema version 4).
Sequence numbers are drawn before commit, so they become visible out of order: seeing 12
before 11 does not mean 11 is lost; its writer may still be committing. The reader therefore
never steps over a missing number unless it knows the number will never appear:

1. One statement reads the rows after the cursor and the snapshot it read them in (the
   transactions in progress then, ``pg_snapshot_xip``). The writer that drew a missing number
   ``g`` below a visible one had its transaction id before drawing ``g`` (the trigger runs
   after the row's write), so at that snapshot it was either in progress or finished; had it
   committed before, ``g`` would be visible.
2. If none of those in-progress transactions still holds its lock on the change table (every
   writer takes ``RowExclusiveLock`` there before drawing a number and keeps it to the end),
   they have all ended, and a second read shows every number up to the highest one seen that
   will ever exist: gaps left there were rolled back, and are stepped over.
3. Otherwise the reader stops before the gap and looks again at the next wake-up.

So a slow writer delays events for as long as it runs; nothing is missed or repeated.

NOTIFY is only a wake-up, sent after a writer's commit by :class:`Notifier` (never inside
its transaction, where it would serialize commits); the hub also polls every
:data:`POLL_SECONDS`, so writers that do not notify (psql, older daemons) are seen too.
Rows older than :data:`RETENTION` are deleted (in batches, by any daemon, about once a
minute) and ``wfstore_watch.compacted_through`` moves past them: older tokens expire.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Final, Literal, cast

import psycopg
from wfstore.domain import ExecutionContext
from wfstore.errors import StoreError, WatchExpiredError

from wfstored.storage.postgres.database import PostgresDatabase
from wfstored.storage.postgres.schema import CHANGES_TABLE, WATCH_TABLE
from wfstored.storage.shared.change_feed import Change, Cursor, decode_token, encode_token

__all__ = ["CHANNEL", "POLL_SECONDS", "RETENTION", "Notifier", "PostgresChangeFeed"]

_log = logging.getLogger("wfstored.postgres")

CHANNEL: Final = "wfstore_state_changes"
"""The NOTIFY channel that wakes watchers after a change is committed."""
POLL_SECONDS: Final = 0.5
"""How often the change log is read when no NOTIFY arrives."""
RETENTION: Final = timedelta(hours=1)
"""How long changes are kept: a token stays usable at least this long."""
_COMPACT_EVERY: Final = 60.0
_COMPACT_BATCH: Final = 10_000
_TWO_32: Final = 1 << 32

_READ: Final = (
    f"SELECT w.compacted_through,"  # noqa: S608 (constants)
    " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) AS x),"
    " c.seq, c.workflow_id, c.kind, c.version"
    f" FROM {WATCH_TABLE} AS w LEFT JOIN LATERAL (SELECT seq, workflow_id, kind, version"
    f" FROM {CHANGES_TABLE} WHERE seq > %s ORDER BY seq LIMIT %s) AS c ON true"
)
"""The rows after a cursor and the snapshot they were read in, in one statement."""
_READ_UP_TO: Final = (
    f"SELECT seq, workflow_id, kind, version FROM {CHANGES_TABLE}"  # noqa: S608
    " WHERE seq > %s AND seq <= %s ORDER BY seq"
)
_WRITERS: Final = (
    "SELECT t.transactionid::text::bigint FROM pg_locks AS r JOIN pg_locks AS t"  # noqa: S608
    " ON t.virtualtransaction = r.virtualtransaction AND t.locktype = 'transactionid'"
    f" WHERE r.locktype = 'relation' AND r.relation = '{CHANGES_TABLE}'::regclass"
    " AND r.mode = 'RowExclusiveLock'"
)
"""The transactions (32-bit ids) that have written to the change log and not yet ended."""
_HEAD: Final = (
    f"SELECT COALESCE((SELECT max(seq) FROM {CHANGES_TABLE}), w.compacted_through),"  # noqa: S608
    " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) AS x)"
    f" FROM {WATCH_TABLE} AS w"
)
_WATCH: Final = f"SELECT epoch, compacted_through FROM {WATCH_TABLE}"  # noqa: S608
_STATE_AT: Final = (
    "SELECT document::text FROM workflow_states"
    " WHERE workflow_id = %s AND version = %s AND document IS NOT NULL"
)
_COMPACT: Final = (
    f"WITH gone AS (DELETE FROM {CHANGES_TABLE} WHERE seq IN ("  # noqa: S608
    f" SELECT seq FROM {CHANGES_TABLE} WHERE changed_at < now() - %s"
    " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING seq)"
    f" UPDATE {WATCH_TABLE} SET compacted_through ="
    " GREATEST(compacted_through, (SELECT max(seq) FROM gone))"
    " WHERE EXISTS (SELECT 1 FROM gone) RETURNING compacted_through"
)

_Row = tuple[int, str, str, int]


class PostgresChangeFeed:
    """The change log of one database, read for Watch (a ``ChangeFeed``)."""

    def __init__(
        self, db: PostgresDatabase, decode: Callable[[str, str], ExecutionContext]
    ) -> None:
        """Read ``db``'s log; ``decode(document, id)`` turns a stored document into a state."""
        self._db = db
        self._decode = decode
        rows = db.fetch("reading the change log", _WATCH, [])
        self._epoch = bytes(cast("bytes", rows[0][0]))
        self._listener: psycopg.Connection | None = None
        self._compacted_at = 0.0

    def head(self) -> Cursor:
        """Return the cursor after every change committed now (waiting out gaps in progress)."""
        for attempt in range(200):
            rows = self._db.fetch("reading the change log", _HEAD, [])
            top, xip = int(cast("int", rows[0][0])), cast("list[int]", rows[0][1])
            if not xip or not self._still_writing(xip):
                return (top,)
            time.sleep(min(0.001 * (attempt + 1), 0.05))
        _log.warning(
            "watch on %s: writers kept the change log busy; starting anyway", self._db.name
        )
        return (top,)

    def check(self, cursor: Cursor) -> None:
        """Raise WatchExpiredError if changes after ``cursor`` have been compacted away."""
        rows = self._db.fetch("reading the change log", _WATCH, [])
        _expired_if(cursor[0], int(cast("int", rows[0][1])))

    def read(self, after: Cursor, limit: int) -> tuple[list[Change], Cursor]:
        """Return up to ``limit`` changes after ``after``, never stepping over one in flight."""
        self._compact_now_and_then()
        position = after[0]
        rows = self._db.fetch("reading the change log", _READ, [position, limit])
        _expired_if(position, int(cast("int", rows[0][0])))
        xip = cast("list[int]", rows[0][1])
        found: list[_Row] = [
            (int(r[2]), str(r[3]), str(r[4]), int(r[5]))  # type: ignore[call-overload]
            for r in rows
            if r[2] is not None
        ]
        taken = _contiguous(position, found)
        if len(taken) < len(found) and not self._still_writing(xip):
            # Every writer that could hold a missing number has ended: read up to the last
            # number seen once more, and step over what is still missing.
            highest = found[-1][0]
            again = self._db.fetch("reading the change log", _READ_UP_TO, [position, highest])
            taken = [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in again]  # type: ignore[call-overload]
            changes = [_change(row) for row in taken]
            return changes, (highest,)
        changes = [_change(row) for row in taken]
        return changes, ((taken[-1][0],) if taken else after)

    def wait(self, timeout: float) -> None:
        """Wait for a NOTIFY on :data:`CHANNEL`, or ``timeout`` (at most POLL_SECONDS)."""
        timeout = min(timeout, POLL_SECONDS)
        try:
            if self._listener is None or self._listener.closed:
                self._listener = self._db.connect("listening for changes")
                self._listener.execute(f"LISTEN {CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except (psycopg.Error, StoreError) as exc:
            _log.debug("watch: LISTEN failed (%s); polling", exc)
            self._close_listener()
            time.sleep(timeout)

    def state_at(self, workflow_id: str, version: int) -> ExecutionContext | None:
        """Return the id's state if its stored version is still ``version``."""
        rows = self._db.fetch("loading a watched state", _STATE_AT, [workflow_id, version])
        if not rows:
            return None
        return self._decode(str(rows[0][0]), workflow_id)

    def encode(self, cursor: Cursor) -> str:
        """Return the token of ``cursor``."""
        return encode_token("p", self._epoch, cursor)

    def decode(self, token: str) -> Cursor:
        """Return the cursor of ``token``, refusing tokens of other databases."""
        return decode_token(token, "p", self._epoch, 1)

    def close(self) -> None:
        """Close the LISTEN connection."""
        self._close_listener()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()

    def _still_writing(self, xip: list[int]) -> bool:
        """Whether any of the transactions ``xip`` still holds its lock on the change log."""
        writers = {int(cast("int", r[0])) for r in self._db.fetch("reading locks", _WRITERS, [])}
        return any(x % _TWO_32 in writers for x in xip)

    def _compact_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._compacted_at < _COMPACT_EVERY:
            return
        self._compacted_at = now
        try:
            self._db.transaction(
                "compacting the change log",
                lambda conn: conn.execute(_COMPACT, (RETENTION, _COMPACT_BATCH)).fetchall(),
            )
        except StoreError as exc:
            _log.info("watch: compacting the change log failed: %s", exc)


class Notifier:
    """Sends NOTIFY after writers commit, from a thread of its own, merging bursts into one."""

    def __init__(self, db: PostgresDatabase) -> None:
        """Notify on ``db``; the thread starts at the first :meth:`poke`."""
        self._db = db
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    def poke(self) -> None:
        """Ask for a NOTIFY soon; costs the caller next to nothing."""
        self._wanted.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._run, name="wfstored-notify", daemon=True
                    )
                    self._thread.start()

    def close(self) -> None:
        """Stop the thread."""
        with self._lock:
            self._closed = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._closed:
                return
            self._wanted.clear()
            try:
                self._db.fetch("notifying watchers", "SELECT pg_notify(%s, '')", [CHANNEL])
            except StoreError as exc:
                _log.debug("watch: NOTIFY failed (%s); watchers will poll", exc)
                time.sleep(0.1)


def _contiguous(position: int, rows: list[_Row]) -> list[_Row]:
    """Return the rows that follow ``position`` with no number missing."""
    taken = []
    expected = position + 1
    for row in rows:
        if row[0] != expected:
            break
        taken.append(row)
        expected += 1
    return taken


def _change(row: _Row) -> Change:
    seq, workflow_id, kind, version = row
    return Change(cast("Literal['saved', 'deleted']", kind), workflow_id, version, 0, seq)


def _expired_if(position: int, compacted_through: int) -> None:
    if position < compacted_through:
        raise WatchExpiredError(
            "the changes after this token have been compacted away (they are kept for "
            f"{RETENTION}); list what is stored and watch anew"
        )
