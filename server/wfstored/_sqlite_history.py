"""The execution history kept in one SQLite database file (the daemon's ``history.db``).

One table, ``executions``, holds one row per finished run. Times are stored as fixed-width UTC
text, ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` (always nine fraction digits), so that text order is
time order over years 1-9999 and no nanosecond is lost.

The database runs in WAL mode with a busy timeout, so several processes (two daemons, say) may
open the same file: readers never block, and writers (``BEGIN IMMEDIATE``) queue for up to
five seconds before the call fails with :class:`~wfstore.errors.UnavailableError`.

The file is checked before every call and after every commit: if it was removed while open
(a connection would go on writing into the deleted file, and acknowledged records would be
lost), calls fail with :class:`~wfstore.errors.UnavailableError` until it is restored; a file
replaced by another (restored from a backup, say) is reopened. A full disk gives
:class:`~wfstore.errors.ResourceExhaustedError`.

Listings use keyset pagination on ``(completed_at, id)`` and every filter shape is pinned to
an index with ``INDEXED BY``: :func:`list_query` and :func:`stats_query` build the SQL, and
are public so that tests can ``EXPLAIN QUERY PLAN`` exactly what the store runs.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import urllib.parse
import weakref
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from wfstore._time import Timestamp, from_unix_nanos, to_unix_nanos, utc_now, with_nanosecond
from wfstore._types import ExecutionRecord, HistoryFilter, HistoryStats, Page
from wfstore._validation import (
    check_duration,
    check_filter,
    check_page_size,
    check_record,
    check_records,
)
from wfstore.errors import (
    AlreadyExistsError,
    DataCorruptedError,
    InvalidArgumentError,
    ResourceExhaustedError,
    StoreClosedError,
    StoreError,
    UnavailableError,
)

from wfstored._group_commit import GroupCommitter
from wfstored._page_token import decode_page_token, encode_page_token, page_size_or_default
from wfstored._storage_errors import storage_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "SCHEMA_VERSION",
    "SQLiteHistoryStore",
    "format_time",
    "list_query",
    "parse_time",
    "stats_query",
]

SCHEMA_VERSION = 1
"""The ``PRAGMA user_version`` of the schema this module creates and reads."""
DEFAULT_LIST_LIMIT = 20
"""How many records ``list`` returns (over all pages) when the filter's limit is 0."""
DEFAULT_PAGE_SIZE = 100
"""The page size of ``list_page`` when the caller asks for 0."""
MAX_PAGE_SIZE = 1000
"""The largest page ``list_page`` returns, whatever the caller asks for."""

_BUSY_TIMEOUT_MS = 5000
_NANOS_PER_SECOND = 1_000_000_000
_MIN_NANOS = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC))
_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{9})Z"
)
_LOW_BITS = 32
_LOW_MASK = (1 << _LOW_BITS) - 1

# SQLite result codes (the low byte of an extended code) that mean "try again later" rather
# than "the file is damaged": lock contention, an I/O or permission failure.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_NOMEM,
    }
)
_CONTENTION_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

_COLUMN_COUNT = 9
_COLUMN_NAMES = (
    "id",
    "workflow_id",
    "workflow_name",
    "status",
    "exit_code",
    "started_at",
    "completed_at",
    "duration_ms",
    "error_message",
)
_SELECT_COLUMNS = (
    "id, workflow_id, workflow_name, status, exit_code, started_at, completed_at, duration_ms,"
    " error_message"
)

# Each index leads with the equality columns of one filter shape, then (completed_at, id): the
# listing order, so no query sorts, and keyset pages seek straight to their position. The
# trailing columns make every index covering for ``stats_query``.
_INDEX_BY_TIME = "executions_by_time"
_INDEX_BY_NAME = "executions_by_name"
_INDEX_BY_STATUS = "executions_by_status"
_INDEX_BY_NAME_STATUS = "executions_by_name_status"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS executions (
        id TEXT NOT NULL PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        workflow_name TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER NOT NULL,
        started_at TEXT,
        completed_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        error_message TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS executions_by_time
        ON executions (completed_at, id, status, duration_ms)""",
    """CREATE INDEX IF NOT EXISTS executions_by_name
        ON executions (workflow_name, completed_at, id, status, duration_ms)""",
    """CREATE INDEX IF NOT EXISTS executions_by_status
        ON executions (status, completed_at, id, duration_ms)""",
    """CREATE INDEX IF NOT EXISTS executions_by_name_status
        ON executions (workflow_name, status, completed_at, id, duration_ms)""",
)

_INSERT = (
    "INSERT INTO executions (id, workflow_id, workflow_name, status, exit_code, started_at,"
    " completed_at, duration_ms, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
_SELECT_BY_ID = (
    "SELECT id, workflow_id, workflow_name, status, exit_code, started_at, completed_at,"
    " duration_ms, error_message FROM executions WHERE id = ?"
)
_DELETE_OLDER = "DELETE FROM executions WHERE completed_at < ?"

_Row = tuple[Any, ...]
_T = TypeVar("_T")


# --- times ---------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """Return the stored text of an aware datetime: UTC, nine fraction digits, ``Z``."""
    moment = value if value.tzinfo is UTC else value.astimezone(UTC)  # keeps nanoseconds
    nanos = moment.microsecond * 1000 + (moment.nanosecond if isinstance(moment, Timestamp) else 0)
    # Not strftime: "%Y" does not pad years below 1000 on every platform.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{nanos:09d}Z"
    )


def parse_time(text: str) -> datetime:
    """Return the datetime stored as ``text`` (a ``Timestamp`` if it has sub-microseconds).

    Raises ``ValueError`` when ``text`` is not in the stored format.
    """
    if _TIME_RE.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a time in the form YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ")
    # The form is checked: datetime's own parser reads it to the microsecond (twice as fast
    # as building it from the parts), and the last three digits are the nanoseconds.
    return with_nanosecond(datetime.fromisoformat(text), int(text[26:29]))


def _timedelta_nanos(value: timedelta) -> int:
    return ((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds) * 1000


# --- queries -------------------------------------------------------------------------------


def _index_for(history_filter: HistoryFilter) -> str:
    if history_filter.workflow_name and history_filter.status:
        return _INDEX_BY_NAME_STATUS
    if history_filter.workflow_name:
        return _INDEX_BY_NAME
    if history_filter.status:
        return _INDEX_BY_STATUS
    return _INDEX_BY_TIME


def _where(
    history_filter: HistoryFilter, after: tuple[str, str] | None
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if history_filter.workflow_name:
        clauses.append("workflow_name = ?")
        params.append(history_filter.workflow_name)
    if history_filter.status:
        clauses.append("status = ?")
        params.append(history_filter.status)
    if history_filter.since is not None:
        clauses.append("completed_at >= ?")
        params.append(format_time(history_filter.since))
    if after is not None:
        # The position is at or before ``until`` (checked when the token is read), so the
        # keyset bound replaces it: given both upper bounds, SQLite seeks to ``until`` and
        # then filters every row down to the position, which makes deep pages linear.
        clauses.append("(completed_at, id) < (?, ?)")
        params.extend(after)
    elif history_filter.until is not None:
        clauses.append("completed_at <= ?")
        params.append(format_time(history_filter.until))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


def list_query(
    history_filter: HistoryFilter, *, limit: int, after: tuple[str, str] | None = None
) -> tuple[str, list[object]]:
    """Return the SQL and parameters listing matching records, newest first.

    ``after`` is the stored ``(completed_at, id)`` of the last record already returned; rows
    come back in the column order of the table. The filter's own limit is not applied: pass
    the number of rows wanted as ``limit``.
    """
    where, params = _where(history_filter, after)
    index = _index_for(history_filter)
    sql = (
        f"SELECT {_SELECT_COLUMNS} FROM executions INDEXED BY {index}{where}"  # noqa: S608 (constants and placeholders only)
        " ORDER BY completed_at DESC, id DESC LIMIT ?"
    )
    return sql, [*params, limit]


def stats_query(history_filter: HistoryFilter) -> tuple[str, list[object]]:
    """Return the SQL and parameters of the aggregates over every matching record.

    The row is (count, successes, failures, cancellations, sum of the high 32 bits of the
    durations, sum of their low 32 bits): two sums that cannot overflow SQLite's 64-bit
    integers, from which the exact total is rebuilt in Python.
    """
    where, params = _where(history_filter, None)
    index = _index_for(history_filter)
    sql = (
        "SELECT COUNT(*),"  # noqa: S608 (constants and placeholders only)
        " COALESCE(SUM(status IN ('success', 'completed')), 0),"
        " COALESCE(SUM(status = 'failed'), 0),"
        " COALESCE(SUM(status = 'cancelled'), 0),"
        f" COALESCE(SUM(duration_ms >> {_LOW_BITS}), 0),"
        f" COALESCE(SUM(duration_ms & {_LOW_MASK}), 0)"
        f" FROM executions INDEXED BY {index}{where}"
    )
    return sql, params


def _binding(history_filter: HistoryFilter, limit: int) -> str:
    """Return the canonical text of what a page token is bound to (page size excluded)."""
    since, until = history_filter.since, history_filter.until
    fields = {
        "workflow_name": history_filter.workflow_name,
        "status": history_filter.status,
        "since": None if since is None else format_time(since),
        "until": None if until is None else format_time(until),
        "limit": limit,
    }
    return "history.list:" + json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _read_position(
    position: dict[str, Any], history_filter: HistoryFilter, limit: int
) -> tuple[tuple[str, str], int]:
    """Return ``((completed_at, id), returned)`` from a decoded token, or reject it."""
    completed_at, record_id, returned = position.get("c"), position.get("i"), position.get("n")
    if (
        not isinstance(completed_at, str)
        or not isinstance(record_id, str)
        or not isinstance(returned, int)
        or isinstance(returned, bool)
        or not 0 < returned < limit
    ):
        raise InvalidArgumentError("invalid page_token: malformed position")
    try:
        parse_time(completed_at)
    except ValueError:
        raise InvalidArgumentError("invalid page_token: malformed position") from None
    since, until = history_filter.since, history_filter.until
    if (since is not None and completed_at < format_time(since)) or (
        until is not None and completed_at > format_time(until)
    ):
        raise InvalidArgumentError("invalid page_token: position outside the filter's range")
    return (completed_at, record_id), returned


# --- rows ----------------------------------------------------------------------------------


def _record_row(record: ExecutionRecord) -> _Row:
    assert record.completed_at is not None  # noqa: S101 (check_record requires it)
    return (
        str(record.id),
        str(record.workflow_id),
        str(record.workflow_name),
        str(record.status),
        int(record.exit_code),
        None if record.started_at is None else format_time(record.started_at),
        format_time(record.completed_at),
        int(record.duration_ms),
        str(record.error_message),
    )


class _NotUTF8(bytes):
    """Text a row holds that is not valid UTF-8 (written by another tool), as its bytes."""


def _lenient_text(data: bytes) -> str | _NotUTF8:
    """Decode stored text, keeping what is not UTF-8 as :class:`_NotUTF8` instead of failing."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return _NotUTF8(data)


def _row_record(row: _Row, path: str) -> ExecutionRecord:
    if len(row) != _COLUMN_COUNT:
        raise DataCorruptedError(f"history database {path}: a row has {len(row)} columns")
    record_id, workflow_id, name, status, exit_code, started, completed, duration, error = row
    not_utf8 = [c for c, v in zip(_COLUMN_NAMES, row, strict=True) if isinstance(v, _NotUTF8)]
    if not_utf8:
        shown = repr(bytes(record_id)) if isinstance(record_id, _NotUTF8) else repr(record_id)
        raise DataCorruptedError(
            f"history database {path}: record {shown} has text that is not UTF-8 in "
            f"{', '.join(not_utf8)}"
        )
    types_ok = (
        isinstance(record_id, str)
        and isinstance(workflow_id, str)
        and isinstance(name, str)
        and isinstance(status, str)
        and isinstance(error, str)
        and isinstance(exit_code, int)
        and isinstance(duration, int)
        and (started is None or isinstance(started, str))
        and isinstance(completed, str)
    )
    if not types_ok:
        raise DataCorruptedError(
            f"history database {path}: record {record_id!r} has a column of the wrong type"
        )
    try:
        started_at = None if started is None else parse_time(started)
        completed_at = parse_time(completed)
    except ValueError as exc:
        raise DataCorruptedError(
            f"history database {path}: record {record_id!r} has a bad time: {exc}"
        ) from None
    return ExecutionRecord(
        id=record_id,
        workflow_id=workflow_id,
        workflow_name=name,
        status=status,
        exit_code=exit_code,
        started_at=started_at,
        completed_at=completed_at,
        duration_ms=duration,
        error_message=error,
    )


# --- files and errors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, weakref_slot=True)
class _Reader:
    """One thread's read connection and the lock that keeps close() from racing a query."""

    conn: sqlite3.Connection
    lock: threading.Lock
    generation: int
    """The store's file generation the connection was opened on."""


def _insert_row(conn: sqlite3.Connection, row: _Row) -> StoreError | None:
    """Insert ``row``; return the conflict if its id is stored with other content.

    A stored row whose text is not UTF-8 cannot be compared: that is reported for this row
    only, so that the other records committed in the same group are unaffected.
    """
    if conn.execute(_INSERT, row).rowcount == 1:
        return None
    try:
        existing = conn.execute(_SELECT_BY_ID, (row[0],)).fetchone()
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) is not None:
            raise  # an SQLite error; only Python's own "Could not decode" has no code
        return DataCorruptedError(
            f"history record {row[0]!r} is already stored, with text that is not UTF-8"
        )
    if existing is not None and tuple(existing) != row:
        return AlreadyExistsError(
            f"history record {row[0]!r} already exists with different content"
        )
    return None


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each with mode 0700."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with suppress(FileExistsError):  # another process made it first
            path.mkdir(mode=0o700)


def _create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if it does not exist, before SQLite opens it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    os.close(fd)


def _translate(exc: sqlite3.Error, path: str, action: str) -> Exception:
    """Return the wfstore error for an SQLite error raised while doing ``action``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    name = getattr(exc, "sqlite_errorname", None)  # the extended code, e.g. SQLITE_IOERR_WRITE
    what = f"{action}: {exc}" + (f" [{name}]" if name else "")
    if primary == sqlite3.SQLITE_FULL:
        return ResourceExhaustedError(
            f"history database {path}: the disk is full ({what}); free space and retry"
        )
    if primary in _CONTENTION_CODES:
        return UnavailableError(
            f"history database {path} is locked by another writer and stayed locked for "
            f"{_BUSY_TIMEOUT_MS} ms ({what}); retry later"
        )
    if primary in _UNAVAILABLE_CODES:
        return UnavailableError(f"history database {path} is unavailable ({what})")
    return DataCorruptedError(
        f"history database {path} is damaged or not a wfstore history database ({what})"
    )


class SQLiteHistoryStore:
    """A :class:`~wfstore._ports.HistoryStore` in one SQLite database file.

    Thread-safe: writes go through one connection with group commit (concurrent writers share
    a transaction), and each thread reads on a connection of its own. Several processes may
    open the same file.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        """Open (creating if needed) the database at ``path``; ``clock`` gives "now".

        Missing parent directories are created with mode 0700 and a new file with mode 0600.
        Raises ``OSError`` if the file cannot be created, :class:`UnavailableError` if it is
        locked or unreadable and :class:`DataCorruptedError` if it is not a history database.
        """
        self._path = Path(path)
        self._name = str(self._path)
        self._clock = clock
        self._write_lock = threading.Lock()  # the writer connection, and closing
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._local = threading.local()  # each thread reads on a connection of its own
        # Weak, so that a thread's connection goes away with the thread.
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._committer = GroupCommitter(self._commit_units)
        self._generation = 0  # how many times the file was found replaced and reopened
        _make_private_dirs(self._path.parent)
        _create_private_file(self._path)
        self._identity = self._file_identity("opening")
        self._conn = self._open_initialized()

    def _open_initialized(self) -> sqlite3.Connection:
        """Open the writer connection: WAL, full sync, and the schema if the file is new."""
        conn = self._open()
        try:
            self._initialize(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        """Open a connection to the database with the busy timeout set."""
        # mode=rw: never create the file here (it would get the umask's mode, and a file that
        # vanished must be reported, not silently started anew).
        uri = f"file:{urllib.parse.quote(str(self._path.absolute()))}?mode=rw"
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise _translate(exc, self._name, "opening") from exc
        return conn

    def _initialize(self, conn: sqlite3.Connection) -> None:
        with self._sqlite_errors("opening"):
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UnavailableError(
                    f"history database {self._name}: cannot switch to WAL mode (got {mode!r})"
                )
            # FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so a commit we
            # have acknowledged could vanish on power loss. FULL syncs the WAL on every commit.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("PRAGMA trusted_schema = OFF")
            # Only a new file needs the write lock: opening an existing database must not queue
            # behind another process's writes.
            if self._schema_version(conn) != SCHEMA_VERSION:
                self._write(conn, self._create_schema)

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in {0, SCHEMA_VERSION}:
            raise DataCorruptedError(
                f"history database {self._name} has schema version {version}; this wfstored "
                f"reads version {SCHEMA_VERSION}"
            )
        return int(version)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        # Read again under the write lock: another process may have created it meanwhile.
        if self._schema_version(conn) == SCHEMA_VERSION:
            return
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _translate(exc, self._name, action) from exc

    @staticmethod
    def _write(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction; roll back if it raises."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the history store {self._name} is closed")

    def _file_identity(self, action: str) -> tuple[int, int]:
        """Return (device, inode) of the file the path names; UnavailableError if it is gone."""
        try:
            info = self._path.stat()
        except FileNotFoundError:
            raise UnavailableError(
                f"history database {self._name} was removed while in use ({action}); restore "
                "it, or restart wfstored to start a new one"
            ) from None
        except OSError as exc:
            raise storage_error(exc, f"{action} in history database {self._name}") from exc
        return info.st_dev, info.st_ino

    def _follow_file(self, action: str) -> None:
        """Reopen the writer if the path names another file now; call with the write lock."""
        identity = self._file_identity(action)
        if identity == self._identity:
            return
        conn = self._open_initialized()
        old, self._conn = self._conn, conn
        self._identity = identity
        self._generation += 1
        if old is not None:
            with suppress(sqlite3.Error):
                old.close()

    def _write_to_file(self, action: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one transaction in the file the path names, before and after it."""
        with self._write_lock, self._sqlite_errors(action):
            self._follow_file(action)
            try:
                result = self._write(self._writer(), work)
            except BaseException:
                self._drop_writer_if_stuck()
                raise
            if self._file_identity(action) != self._identity:
                raise UnavailableError(
                    f"history database {self._name} was replaced while {action}; the change "
                    "went to the old file: retry"
                )
            return result

    def _reader(self) -> _Reader:
        """Return this thread's read connection on the current file, opening it if needed."""
        if self._file_identity("reading") != self._identity:
            with self._write_lock:
                self._check_open()
                self._follow_file("reading")
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is not None and reader.generation != self._generation:
            with reader.lock, suppress(sqlite3.Error):
                reader.conn.close()
            reader = None
        if reader is None:
            reader = _Reader(self._open(), threading.Lock(), self._generation)
            with self._readers_lock:
                if self._closed:
                    reader.conn.close()
                    raise StoreClosedError(f"the history store {self._name} is closed")
                self._readers.add(reader)
            self._local.reader = reader
        return reader

    def _fetch(self, action: str, sql: str, params: list[object]) -> list[_Row]:
        """Run a query on this thread's read connection (WAL: readers never wait for writers).

        The connection's own lock is only ever contended by :meth:`close`, which must not
        close a connection in the middle of a query.
        """
        reader = self._reader()
        with reader.lock, self._sqlite_errors(action):
            if self._closed:
                raise StoreClosedError(f"the history store {self._name} is closed")
            try:
                return list(reader.conn.execute(sql, params).fetchall())
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) is not None:
                    raise  # an SQLite error; only Python's own "Could not decode" has no code
            # Some row holds text that is not UTF-8. Read again, keeping such text as bytes,
            # so that _row_record can name the record and the column.
            reader.conn.text_factory = _lenient_text
            try:
                return list(reader.conn.execute(sql, params).fetchall())
            finally:
                reader.conn.text_factory = str

    def _writer(self) -> sqlite3.Connection:
        """Return the write connection, reopening a dropped one; call with the write lock."""
        self._check_open()
        if self._conn is None:
            self._conn = self._open_initialized()
        return self._conn

    def _drop_writer_if_stuck(self) -> None:
        """Close the writer if a failed write left it inside a transaction (its rollback failed).

        Every later write on it would fail with "cannot start a transaction within a
        transaction"; the next write opens a fresh connection instead.
        """
        conn = self._conn
        if conn is not None and conn.in_transaction:
            self._conn = None
            with suppress(sqlite3.Error):
                conn.close()

    def _commit_units(self, units: Sequence[tuple[_Row, ...]]) -> list[BaseException | None]:
        """Insert every unit in one transaction; a unit with a conflict is skipped whole.

        Each unit is the rows of one ``record`` (one row) or ``record_batch`` call. Rows whose
        id is already stored with identical content are no-ops. Returns one outcome per unit.
        """

        def insert_all(conn: sqlite3.Connection) -> list[BaseException | None]:
            outcomes: list[BaseException | None] = []
            for unit in units:
                if len(unit) == 1:
                    outcomes.append(_insert_row(conn, unit[0]))
                    continue
                conn.execute("SAVEPOINT unit")
                conflict = next(filter(None, (_insert_row(conn, row) for row in unit)), None)
                if conflict is not None:
                    conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append(conflict)
            return outcomes

        return self._write_to_file("recording", insert_all)

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id again with identical content is a no-op.

        Concurrent calls share one transaction (group commit); each returns only once its
        record is committed. Raises :class:`AlreadyExistsError` if the id is stored with
        different content.
        """
        self._check_open()
        check_record(record)
        self._committer.submit((_record_row(record),))

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` in one transaction, or none of them.

        Records already stored with identical content are no-ops. Raises
        :class:`AlreadyExistsError`, and stores nothing, if any id is stored (or repeated in
        the batch) with different content.
        """
        self._check_open()
        check_records(records)
        if records:
            self._committer.submit(tuple(_record_row(record) for record in records))

    def list(self, history_filter: HistoryFilter) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first."""
        self._check_open()
        check_filter(history_filter)
        sql, params = list_query(history_filter, limit=history_filter.limit or DEFAULT_LIST_LIMIT)
        return [_row_record(row, self._name) for row in self._fetch("listing", sql, params)]

    def list_page(
        self, history_filter: HistoryFilter, page_size: int = 0, page_token: str = ""
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off.

        ``page_size`` 0 means 100; larger than 1000 means 1000. The filter's limit caps the
        records over all pages. A token works only with the filter it was issued for.
        """
        self._check_open()
        check_filter(history_filter)
        check_page_size(page_size)
        limit = history_filter.limit or DEFAULT_LIST_LIMIT
        binding = _binding(history_filter, limit)
        after: tuple[str, str] | None = None
        returned = 0
        position = decode_page_token(page_token, binding)
        if position is not None:
            after, returned = _read_position(position, history_filter, limit)
        size = min(
            page_size_or_default(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), limit - returned
        )
        last_page = returned + size >= limit
        # One extra row tells whether another page exists, unless the limit ends it anyway.
        sql, params = list_query(history_filter, limit=size if last_page else size + 1, after=after)
        rows = self._fetch("listing", sql, params)
        items = [_row_record(row, self._name) for row in rows[:size]]
        if last_page or len(rows) <= size:
            return Page(items=items)
        last = rows[size - 1]
        token = encode_page_token({"c": last[6], "i": last[0], "n": returned + size}, binding)
        return Page(items=items, next_page_token=token)

    def get_stats(self, history_filter: HistoryFilter) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``success_count`` counts status ``success`` and ``completed``; ``avg_duration_ms`` is
        the exact mean truncated toward zero, 0 when nothing matches.
        """
        self._check_open()
        check_filter(history_filter)
        sql, params = stats_query(history_filter)
        rows = self._fetch("computing stats", sql, params)
        total, succeeded, failed, cancelled, high, low = rows[0]
        duration_sum = (high << _LOW_BITS) + low
        average = 0
        if total:
            average = abs(duration_sum) // total
            if duration_sum < 0:
                average = -average
        return HistoryStats(
            total_executions=total,
            success_count=succeeded,
            failed_count=failed,
            cancelled_count=cancelled,
            avg_duration_ms=average,
        )

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed strictly before ``clock() - older_than``; return how many.

        A negative ``older_than`` deletes nothing, as does a cutoff before year 1.
        """
        self._check_open()
        check_duration("older_than", older_than)
        if older_than < timedelta(0):
            return 0
        cutoff = to_unix_nanos(self._clock()) - _timedelta_nanos(older_than)
        if cutoff <= _MIN_NANOS:
            return 0
        cutoff_text = format_time(from_unix_nanos(cutoff))

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(_DELETE_OLDER, (cutoff_text,)).rowcount

        return self._write_to_file("cleaning up", delete)

    def close(self) -> None:
        """Close the database; idempotent. Later calls raise :class:`StoreClosedError`."""
        self._closed = True
        with self._write_lock:
            conn, self._conn = self._conn, None
        with self._readers_lock:
            readers = list(self._readers)
            self._readers.clear()
        for reader in readers:
            with reader.lock, suppress(sqlite3.Error):
                reader.conn.close()
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> Self:
        """Return the store itself, to be closed when the ``with`` block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()
