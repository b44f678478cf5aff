"""A pool of connections to one PostgreSQL database, shared by the stores that use it.

Connections are checked before use (one that came back to the pool within the last second is
taken as it is, which saves a round trip per call under load) and recycled after 30 minutes.
Reads run in autocommit, one round trip; writes run in a transaction; a transaction that
fails with a serialization failure or a deadlock runs again, up to a few times; every other
failure becomes a wfstore error (see :mod:`wfstored.storage.postgres.errors`). Opening waits
for the first connection, so an unreachable database is one clear
:class:`~wfstore.errors.UnavailableError` at start, not later.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

import psycopg
import psycopg.conninfo
import psycopg_pool
from wfstore.deadlines import check_deadline, remaining_seconds
from wfstore.errors import DeadlineExceededError, StoreClosedError, StoreError

from wfstored.storage.postgres.errors import is_retryable, translate_postgres_error

__all__ = ["CONNECTION_WAIT_SECONDS", "DEFAULT_POOL_SIZE", "PostgresDatabase", "redact"]

_log = logging.getLogger("wfstored.postgres")
_T = TypeVar("_T")

DEFAULT_POOL_SIZE: Final = 10
"""Connections a store keeps at most."""
CONNECTION_WAIT_SECONDS: Final = 2.0
"""How long a call waits for a pooled connection before failing with UNAVAILABLE."""
_ATTEMPTS: Final = 5
_MAX_LIFETIME_SECONDS: Final = 30 * 60.0
_FRESH_SECONDS: Final = 1.0
_HIDDEN: Final = "***"  # what a password is shown as


def redact(url: str) -> str:
    """Return ``url`` without its password, for messages and logs.

    Both forms libpq takes are covered: a URL (``postgresql://u:secret@h/db``, and a
    ``password=`` query parameter) and a ``key=value`` connection string.
    """
    if "://" not in url:
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            return "(a connection string that cannot be parsed)"
        if "password" not in params:
            return url
        params["password"] = _HIDDEN
        return psycopg.conninfo.make_conninfo("", **params)
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        shown = [(key, _HIDDEN if key == "password" else value) for key, value in query]
        parts = parts._replace(query=urllib.parse.urlencode(shown, safe="*"))
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username}:{_HIDDEN}@{host}")
    return urllib.parse.urlunsplit(parts)


def _power_of_two_ms(seconds: float) -> int:
    """Return ``seconds`` in milliseconds, rounded down to a power of two (at least 1)."""
    milliseconds = int(seconds * 1000)
    return 1 << (milliseconds.bit_length() - 1) if milliseconds >= 1 else 1


def _why(url: str, timeout: BaseException) -> BaseException:
    """Return the error of one direct connection attempt: it says why the pool has none."""
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as exc:
        return exc
    return timeout


class PostgresDatabase:
    """One database: a connection pool, transactions with retries, and error translation."""

    def __init__(
        self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, connect_timeout: float = 10.0
    ) -> None:
        """Open a pool on ``url`` and wait up to ``connect_timeout`` s for a connection.

        Raises :class:`~wfstore.errors.UnavailableError` if none can be had by then.
        """
        self.name = redact(url)
        """The URL without its password, as messages show it."""
        self._url = url
        self._closed = False
        self._returned: weakref.WeakKeyDictionary[psycopg.Connection, float] = (
            weakref.WeakKeyDictionary()
        )
        self._timeouts: weakref.WeakKeyDictionary[psycopg.Connection, int] = (
            weakref.WeakKeyDictionary()
        )
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            check=self._check,
            reset=self._note_return,
            max_lifetime=_MAX_LIFETIME_SECONDS,
            timeout=CONNECTION_WAIT_SECONDS,
            name="wfstore",
            kwargs={"connect_timeout": max(1, int(connect_timeout)), "autocommit": True},
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except (psycopg_pool.PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise translate_postgres_error(_why(url, exc), self.name, "connecting") from None

    def check_open(self) -> None:
        """Raise :class:`StoreClosedError` once the database is closed."""
        if self._closed:
            raise StoreClosedError(f"the store on database {self.name} is closed")

    def transaction(self, action: str, work: Callable[[psycopg.Connection], _T]) -> _T:
        """Run ``work`` in one transaction; again on a serialization failure or deadlock.

        Under a call deadline (:mod:`wfstore.deadlines`), the wait for a connection and every
        statement are bounded by the time left: past it, DeadlineExceededError.
        """

        def run(conn: psycopg.Connection) -> _T:
            with conn.transaction():
                return work(conn)

        return self._attempts(action, run)

    def fetch(self, action: str, sql: str, params: list[object]) -> list[tuple[object, ...]]:
        """Run one query, in autocommit: one round trip."""

        def run(conn: psycopg.Connection) -> list[tuple[object, ...]]:
            return list(conn.execute(sql, params).fetchall())

        return self._attempts(action, run)

    def connect(self, action: str) -> psycopg.Connection:
        """Open a connection of its own (autocommit), outside the pool: for LISTEN."""
        self.check_open()
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=2)
        except psycopg.Error as exc:
            raise translate_postgres_error(exc, self.name, action) from None

    def _attempts(self, action: str, run: Callable[[psycopg.Connection], _T]) -> _T:
        for attempt in range(1, _ATTEMPTS + 1):
            self.check_open()
            left = check_deadline(action)
            wait = CONNECTION_WAIT_SECONDS if left is None else min(left, CONNECTION_WAIT_SECONDS)
            try:
                with self._pool.connection(timeout=wait) as conn:
                    self._bound_statements(conn, left)
                    return run(conn)
            except StoreError:
                raise
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                if left is not None and remaining_seconds() == 0:
                    raise DeadlineExceededError(
                        f"{action} on database {self.name}: the call's deadline passed ({exc})"
                    ) from exc
                if is_retryable(exc) and attempt < _ATTEMPTS:
                    _log.info("%s on %s: %s; retrying", action, self.name, exc.__class__.__name__)
                    time.sleep(0.005 * attempt)
                    continue
                raise translate_postgres_error(exc, self.name, action) from exc
        raise AssertionError  # pragma: no cover (the last attempt returns or raises)

    def _bound_statements(self, conn: psycopg.Connection, left: float | None) -> None:
        """Make the connection's ``statement_timeout`` end statements by the call's deadline.

        The timeout is the deadline's time left rounded down to a power of two milliseconds,
        so a statement never outlives its caller, yet a connection's setting changes (one
        round trip, outside any transaction) only when a call's deadline falls in another
        bucket: steady traffic with one client timeout pays nothing per call.
        """
        wanted = 0 if left is None else _power_of_two_ms(left)
        if self._timeouts.get(conn, 0) != wanted:
            conn.execute(f"SET statement_timeout = {wanted}")  # an int: nothing to quote
            self._timeouts[conn] = wanted

    def _note_return(self, conn: psycopg.Connection) -> None:
        """Remember when ``conn`` came back to the pool (the pool's reset callback)."""
        self._returned[conn] = time.monotonic()

    def _check(self, conn: psycopg.Connection) -> None:
        """Check a connection before lending it, unless it was in use a moment ago."""
        returned = self._returned.get(conn)
        if returned is not None and time.monotonic() - returned < _FRESH_SECONDS:
            return
        psycopg_pool.ConnectionPool.check_connection(conn)

    @contextmanager
    def advisory_lock(self, action: str, key: int) -> Iterator[psycopg.Connection | None]:
        """Hold session advisory lock ``key`` on a pooled connection, or yield None if taken.

        The connection (autocommit, no statement timeout) is the caller's until the block
        ends; the lock is released then, or by the server if the session dies first.
        """
        self.check_open()
        try:
            with self._pool.connection(timeout=CONNECTION_WAIT_SECONDS) as conn:
                self._bound_statements(conn, None)
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not (row and row[0]):
                    yield None
                    return
                try:
                    yield conn
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise translate_postgres_error(exc, self.name, action) from None

    def ping(self, timeout: float = 1.0) -> None:
        """Return if a connection answers ``SELECT 1`` within ``timeout`` s; raise otherwise."""
        self.check_open()
        try:
            with self._pool.connection(timeout=timeout) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise translate_postgres_error(exc, self.name, "checking health") from None

    def close(self) -> None:
        """Close the pool; idempotent. Later calls raise :class:`StoreClosedError`."""
        self._closed = True
        self._pool.close()
