"""One SQLite history database file: a writer connection, a reader per thread, and the file.

The database runs in WAL mode with full sync and a busy timeout, so several processes (two
daemons, say) may open the same file: readers never block, and writers (``BEGIN IMMEDIATE``)
queue for up to five seconds before the call fails with
:class:`~wfstore.errors.UnavailableError`.

The file is checked before every call and after every commit: if it was removed while open (a
connection would go on writing into the deleted file, and acknowledged records would be lost),
calls fail with :class:`~wfstore.errors.UnavailableError` until it is restored; a file replaced
by another (restored from a backup, say) is reopened.
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
import weakref
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from wfstore.errors import DataCorruptedError, StoreClosedError, UnavailableError

from wfstored.storage.shared.os_errors import storage_error
from wfstored.storage.shared.private_files import create_private_file, make_private_dirs
from wfstored.storage.shared.record_rows import Row, lenient_text
from wfstored.storage.sqlite.errors import (
    BUSY_TIMEOUT_MS,
    is_undecodable_text,
    translate_sqlite_error,
)
from wfstored.storage.sqlite.schema import (
    BACKFILL_STATEMENTS,
    SCHEMA_STATEMENTS,
    SCHEMA_VERSION,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["SQLiteDatabase"]

_T = TypeVar("_T")
_UPGRADABLE = frozenset({1})
"""Schema versions brought up to date on opening (1: before the roll-ups, filled from rows)."""


@dataclass(frozen=True, slots=True, weakref_slot=True)
class _Reader:
    """One thread's read connection and the lock that keeps close() from racing a query."""

    conn: sqlite3.Connection
    lock: threading.Lock
    generation: int
    """The database's file generation the connection was opened on."""


class SQLiteDatabase:
    """The history database at one path; thread-safe, and shared safely with other processes.

    Writes go through one connection (callers serialise nothing: :meth:`write` holds the
    write lock); each thread reads on a connection of its own.
    """

    def __init__(self, path: Path) -> None:
        """Open (creating if needed, 0600 in 0700 directories) the database at ``path``.

        Raises ``OSError`` if the file cannot be created, :class:`UnavailableError` if it is
        locked or unreadable and :class:`DataCorruptedError` if it is not a history database.
        """
        self._path = path
        self.name = str(path)
        """The path, as messages show it."""
        self._write_lock = threading.Lock()  # the writer connection, and closing
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._local = threading.local()  # each thread reads on a connection of its own
        # Weak, so that a thread's connection goes away with the thread.
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._generation = 0  # how many times the file was found replaced and reopened
        make_private_dirs(path.parent)
        create_private_file(path)
        self._identity = self._file_identity("opening")
        self._conn = self._open_initialized()

    # --- What the store uses -------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise :class:`StoreClosedError` once the database is closed."""
        if self._closed:
            raise StoreClosedError(f"the history store {self.name} is closed")

    def write(self, action: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one transaction in the file the path names, before and after it."""
        with self._write_lock, self._sqlite_errors(action):
            self._follow_file(action)
            try:
                result = self._transaction(self._writer(), work)
            except BaseException:
                self._drop_writer_if_stuck()
                raise
            if self._file_identity(action) != self._identity:
                raise UnavailableError(
                    f"history database {self.name} was replaced while {action}; the change "
                    "went to the old file: retry"
                )
            return result

    def fetch(self, action: str, sql: str, params: list[object]) -> list[Row]:
        """Run a query on this thread's read connection (WAL: readers never wait for writers).

        Text that is not UTF-8 comes back as :class:`~wfstored.storage.shared.record_rows.NotUTF8`
        rather than failing the query, so that the row codec can name the record and column.
        The connection's own lock is only ever contended by :meth:`close`, which must not
        close a connection in the middle of a query.
        """
        reader = self._reader()
        with reader.lock, self._sqlite_errors(action):
            if self._closed:
                raise StoreClosedError(f"the history store {self.name} is closed")
            try:
                return list(reader.conn.execute(sql, params).fetchall())
            except sqlite3.OperationalError as exc:
                if not is_undecodable_text(exc):
                    raise
            # Some row holds text that is not UTF-8. Read again, keeping such text as bytes.
            reader.conn.text_factory = lenient_text
            try:
                return list(reader.conn.execute(sql, params).fetchall())
            finally:
                reader.conn.text_factory = str

    def close(self) -> None:
        """Close every connection; idempotent. Later calls raise :class:`StoreClosedError`."""
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

    # --- Connections ---------------------------------------------------------------------------

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
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self.name, "opening") from exc
        return conn

    def _initialize(self, conn: sqlite3.Connection) -> None:
        with self._sqlite_errors("opening"):
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UnavailableError(
                    f"history database {self.name}: cannot switch to WAL mode (got {mode!r})"
                )
            # FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so a commit we
            # have acknowledged could vanish on power loss. FULL syncs the WAL on every commit.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("PRAGMA trusted_schema = OFF")
            # Only a new or older file needs the write lock: opening an up-to-date database
            # must not queue behind another process's writes.
            if self._schema_version(conn) != SCHEMA_VERSION:
                self._transaction(conn, self._create_schema)

    def _schema_version(self, conn: sqlite3.Connection) -> int:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in {0, *_UPGRADABLE, SCHEMA_VERSION}:
            raise DataCorruptedError(
                f"history database {self.name} has schema version {version}; this wfstored "
                f"reads version {SCHEMA_VERSION}"
            )
        return int(version)

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        # Read again under the write lock: another process may have created it meanwhile.
        found = self._schema_version(conn)
        if found == SCHEMA_VERSION:
            return
        for statement in SCHEMA_STATEMENTS:
            conn.execute(statement)
        if found in _UPGRADABLE:  # rows written before the roll-ups: count them, atomically
            for statement in BACKFILL_STATEMENTS:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate_sqlite_error(exc, self.name, action) from exc

    @staticmethod
    def _transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
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

    def _writer(self) -> sqlite3.Connection:
        """Return the write connection, reopening a dropped one; call with the write lock."""
        self.check_open()
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

    def _reader(self) -> _Reader:
        """Return this thread's read connection on the current file, opening it if needed."""
        if self._file_identity("reading") != self._identity:
            with self._write_lock:
                self.check_open()
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
                    raise StoreClosedError(f"the history store {self.name} is closed")
                self._readers.add(reader)
            self._local.reader = reader
        return reader

    # --- The file ------------------------------------------------------------------------------

    def _file_identity(self, action: str) -> tuple[int, int]:
        """Return (device, inode) of the file the path names; UnavailableError if it is gone."""
        try:
            info = self._path.stat()
        except FileNotFoundError:
            raise UnavailableError(
                f"history database {self.name} was removed while in use ({action}); restore "
                "it, or restart wfstored to start a new one"
            ) from None
        except OSError as exc:
            raise storage_error(exc, f"{action} in history database {self.name}") from exc
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
