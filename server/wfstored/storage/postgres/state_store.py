"""A StateStore in a PostgreSQL database: one row per workflow id, the document as jsonb.

The document is awf's own (:mod:`wfstore.awf_state`), so a state reads back
exactly as from the file backend, and SQL can look inside it. Name, status and update time
are columns of their own, indexed. Each row has a version; a deleted state leaves its row as a
tombstone (document NULL) so that its versions never start over. Ids list in byte order with
the same page tokens as the file backend (:mod:`wfstored.storage.shared.state_pages`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, TypeVar

import psycopg
from wfstore.awf_state import decode_state, encode_state
from wfstore.domain import ExecutionContext, Page, StoredState, StoreInfo
from wfstore.errors import ConflictError
from wfstore.validation import (
    check_context,
    check_expected_version,
    check_page_size,
    check_workflow_id,
)

from wfstored.storage.postgres.change_feed import POLL_SECONDS, Notifier, PostgresChangeFeed
from wfstored.storage.postgres.database import DEFAULT_POOL_SIZE
from wfstored.storage.postgres.figures import STATE_COUNT_SQL, table_figures
from wfstored.storage.postgres.nul_escape import escape_json, escape_text, unescape_json
from wfstored.storage.postgres.schema import STATE_TABLE, open_migrated
from wfstored.storage.shared.closing import ClosingStore
from wfstored.storage.shared.projection_cache import DEFAULT_CACHE_BYTES, ProjectionCache
from wfstored.storage.shared.state_pages import page_of_ids, resume_after, state_page_size
from wfstored.storage.shared.store_info import DESCRIBE_SECONDS, measured
from wfstored.storage.shared.time_text import format_time
from wfstored.storage.shared.watch_hub import Watcher, WatchHub

T = TypeVar("T")

__all__ = ["PostgresStateStore"]

_UPSERT: Final = (
    f"INSERT INTO {STATE_TABLE} AS s"  # noqa: S608 (constants)
    " (workflow_id, workflow_name, status, updated_at, document, version)"
    " VALUES (%s, %s, %s, %s, %s::jsonb, 1) ON CONFLICT (workflow_id) DO UPDATE SET"
    " workflow_name = EXCLUDED.workflow_name, status = EXCLUDED.status,"
    " updated_at = EXCLUDED.updated_at, document = EXCLUDED.document, version = s.version + 1"
)
_SAVE: Final = _UPSERT + " RETURNING s.version"
"""Save whatever is stored: a new id (or a tombstone) gets its next version."""
_SAVE_IF_ABSENT: Final = _UPSERT + " WHERE s.document IS NULL RETURNING s.version"
"""Save only if no state is stored: no row, or a tombstone."""
_SAVE_IF_VERSION: Final = (
    f"UPDATE {STATE_TABLE} SET workflow_name = %s, status = %s, updated_at = %s,"  # noqa: S608
    " document = %s::jsonb, version = version + 1"
    " WHERE workflow_id = %s AND version = %s AND document IS NOT NULL RETURNING version"
)
"""Save only if the stored version is the one given."""
_VERSION: Final = (
    f"SELECT version FROM {STATE_TABLE} WHERE workflow_id = %s AND document IS NOT NULL"  # noqa: S608
)
_LOAD: Final = (
    f"SELECT document::text, version FROM {STATE_TABLE}"  # noqa: S608
    " WHERE workflow_id = %s AND document IS NOT NULL"
)
_DELETE: Final = (
    f"UPDATE {STATE_TABLE} SET document = NULL, version = version + 1"  # noqa: S608
    " WHERE workflow_id = %s AND document IS NOT NULL"
)
"""Delete a state, leaving its tombstone (the row, its last version, no document)."""
_DELETE_IF_VERSION: Final = _DELETE + " AND version = %s RETURNING version"
_IDS: Final = (
    f"SELECT workflow_id FROM {STATE_TABLE} WHERE document IS NOT NULL"  # noqa: S608
    " ORDER BY workflow_id"
)
_IDS_AFTER: Final = (
    f"SELECT workflow_id FROM {STATE_TABLE} WHERE workflow_id > %s"  # noqa: S608
    " AND document IS NOT NULL ORDER BY workflow_id LIMIT %s"
)
_FIRST_IDS: Final = (
    f"SELECT workflow_id FROM {STATE_TABLE} WHERE document IS NOT NULL"  # noqa: S608
    " ORDER BY workflow_id LIMIT %s"
)


class PostgresStateStore(ClosingStore):
    """A :class:`~wfstore.StateStore` in a PostgreSQL database; thread-safe.

    ``url`` is a libpq URL or connection string. The schema is created or migrated when the
    store opens. A save replaces the row in one statement: readers see the old state or the
    new one, never a mix.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: float = 10.0,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        """Connect (waiting up to ``connect_timeout`` s) and bring the schema up to date.

        ``cache_bytes`` bounds what :meth:`get_projected` keeps (0: nothing).
        """
        self._db = open_migrated(url, pool_size, connect_timeout)
        self._projections: ProjectionCache[object] = ProjectionCache(cache_bytes)
        self._notifier = Notifier(self._db)
        self._hub: WatchHub | None = None
        self._hub_guard = threading.Lock()

    def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Store ``state`` durably under its workflow id; return its new version.

        With ``expected_version`` (0: nothing stored), only if the stored version is that
        one; otherwise :class:`~wfstore.errors.ConflictError` and nothing changes. One
        statement checks and writes, under the row's lock, so concurrent writers on any
        number of daemons see exactly one of them win.
        """
        self._db.check_open()
        check_context(state)
        check_expected_version(expected_version)
        workflow_id = state.workflow_id
        columns = (
            escape_text(state.workflow_name),
            str(state.status),
            None if state.updated_at is None else format_time(state.updated_at),
            escape_json(encode_state(state)),
        )

        def write(conn: psycopg.Connection) -> int:
            if expected_version is None:
                row = conn.execute(_SAVE, (workflow_id, *columns)).fetchone()
            elif expected_version == 0:
                row = conn.execute(_SAVE_IF_ABSENT, (workflow_id, *columns)).fetchone()
            else:
                params = (*columns, workflow_id, expected_version)
                row = conn.execute(_SAVE_IF_VERSION, params).fetchone()
            if row is None:
                assert expected_version is not None  # noqa: S101 (an upsert returns its row)
                raise ConflictError.for_versions(
                    workflow_id, expected_version, _current(conn, workflow_id)
                )
            return int(row[0])

        version = self._db.transaction(f"saving the state of {workflow_id!r}", write)
        self._notifier.poke()
        return version

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or None if there is none.

        Raises :class:`~wfstore.errors.DataCorruptedError` when the document is not a state.
        """
        stored = self.get(workflow_id)
        return None if stored is None else stored.state

    def get(self, workflow_id: str) -> StoredState | None:
        """Return the state stored under ``workflow_id`` and its version (one query), or None.

        Raises :class:`~wfstore.errors.DataCorruptedError` when the document is not a state.
        """
        row = self._fetch_document(workflow_id)
        return None if row is None else _stored(*row, workflow_id)

    def get_projected(self, workflow_id: str, project: Callable[[StoredState], T]) -> T | None:
        """Return ``project`` of what :meth:`get` returns, or None if nothing is stored.

        The row is read on every call; the value may be one ``project`` made before from the
        same document and version (see
        :class:`~wfstored.storage.shared.projection_cache.ProjectionCache`), so it is never
        stale. ``project`` must depend on nothing but the stored state, and be the same object
        on every call.
        """
        row = self._fetch_document(workflow_id)
        if row is None:
            return None
        document, version = row
        key = (workflow_id, project)
        return self._projections.get(  # type: ignore[return-value] # made by this project
            key, document, version, lambda: project(_stored(document, version, workflow_id))
        )

    def _fetch_document(self, workflow_id: str) -> tuple[str, int] | None:
        """Check the store and the id, then return the id's document text and version, or None."""
        self._db.check_open()
        check_workflow_id(workflow_id)
        rows = self._db.fetch(f"loading the state of {workflow_id!r}", _LOAD, [workflow_id])
        if not rows:
            return None
        document, version = rows[0]
        assert isinstance(document, str)  # noqa: S101 (document::text)
        return document, int(str(version))

    def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error.

        With ``expected_version``, only if the stored version is that one (a missing id is
        then a conflict too); otherwise :class:`~wfstore.errors.ConflictError`. The row stays
        as a tombstone with its last version, so the id's versions never start over.
        """
        self._db.check_open()
        check_workflow_id(workflow_id)
        check_expected_version(expected_version)

        def remove(conn: psycopg.Connection) -> None:
            if expected_version is None:
                conn.execute(_DELETE, (workflow_id,))
                return
            row = conn.execute(_DELETE_IF_VERSION, (workflow_id, expected_version)).fetchone()
            if row is None:
                raise ConflictError.for_versions(
                    workflow_id, expected_version, _current(conn, workflow_id)
                )

        self._db.transaction(f"deleting the state of {workflow_id!r}", remove)
        self._notifier.poke()

    def list(self) -> list[str]:
        """Return every workflow id that has a stored state, in ascending code-point order."""
        self._db.check_open()
        return [str(row[0]) for row in self._db.fetch("listing the states", _IDS, [])]

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting after ``page_token``'s position.

        ``page_size`` 0 means 1000 and larger sizes are capped at 10000; the tokens are the
        file backend's.
        """
        self._db.check_open()
        check_page_size(page_size)
        size = state_page_size(page_size)
        after = resume_after(page_token)
        if after is None:
            rows = self._db.fetch("listing the states", _FIRST_IDS, [size + 1])
        else:
            rows = self._db.fetch("listing the states", _IDS_AFTER, [after, size + 1])
        ids = [str(row[0]) for row in rows]
        return page_of_ids(ids[:size], more=len(ids) > size)

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> Watcher:
        """Watch the saves and deletes of ids starting with ``prefix`` (or of one id).

        Changes made through any store or daemon on this database are seen (see
        :mod:`wfstored.storage.postgres.change_feed`). See :class:`wfstore.StateStore`.
        """
        self._db.check_open()
        with self._hub_guard:
            if self._hub is None:
                feed = PostgresChangeFeed(self._db, _decode)
                self._hub = WatchHub(
                    feed, poll_interval=POLL_SECONDS, name=f"database {self._db.name}"
                )
            hub = self._hub
        return hub.watch(
            prefix,
            workflow_id=workflow_id,
            resume_token=resume_token,
            include_state=include_state,
        )

    def ping(self) -> None:
        """Return if the database answers now; raise UnavailableError if it does not."""
        self._db.ping()

    def describe(self, timeout: float = DESCRIBE_SECONDS) -> StoreInfo:
        """Return the URL (no password), the state count and its tables' size with indexes.

        Counts the stored states (deleted ids keep a row without a document, not counted) and
        sizes the state table, its change log and the watch table. Every statement is bounded
        by ``timeout`` seconds. Never raises: a failure is the returned info's ``error``.
        """
        info = StoreInfo(role="state", backend="postgres", location=self._db.name)
        return measured(
            info, lambda deadline: table_figures(self._db, deadline, STATE_COUNT_SQL), timeout
        )

    def close(self) -> None:
        """Close the pool; idempotent. Later calls raise :class:`StoreClosedError`."""
        with self._hub_guard:
            hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()
        self._notifier.close()
        self._db.close()


def _decode(document: str, workflow_id: str) -> ExecutionContext:
    return decode_state(unescape_json(document), workflow_id)


def _current(conn: psycopg.Connection, workflow_id: str) -> int | None:
    """Return the version stored now under ``workflow_id``, None if no state is stored."""
    row = conn.execute(_VERSION, (workflow_id,)).fetchone()
    return None if row is None else int(row[0])


def _stored(document: str, version: int, workflow_id: str) -> StoredState:
    """Decode a row's document (NULs unescaped) into the stored state with its version."""
    return StoredState(state=decode_state(unescape_json(document), workflow_id), version=version)
