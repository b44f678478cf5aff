"""A StateStore in a PostgreSQL database: one row per workflow id, the document as jsonb.

The document is awf's own (:mod:`wfstored.storage.files.awf_codec`), so a state reads back
exactly as from the file backend, and SQL can look inside it. Name, status and update time
are columns of their own, indexed. Ids list in byte order with the same page tokens as the
file backend (:mod:`wfstored.storage.shared.state_pages`).
"""

from __future__ import annotations

from typing import Final

import psycopg
from wfstore.domain import ExecutionContext, Page
from wfstore.validation import check_context, check_page_size, check_workflow_id

from wfstored.storage.files.awf_codec import decode_state, encode_state
from wfstored.storage.postgres.database import DEFAULT_POOL_SIZE
from wfstored.storage.postgres.nul_escape import escape_json, escape_text, unescape_json
from wfstored.storage.postgres.schema import STATE_TABLE, open_migrated
from wfstored.storage.shared.closing import ClosingStore
from wfstored.storage.shared.state_pages import page_of_ids, resume_after, state_page_size
from wfstored.storage.shared.time_text import format_time

__all__ = ["PostgresStateStore"]

_UPSERT: Final = (
    f"INSERT INTO {STATE_TABLE} (workflow_id, workflow_name, status, updated_at, document)"  # noqa: S608 (constants)
    " VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (workflow_id) DO UPDATE SET"
    " workflow_name = EXCLUDED.workflow_name, status = EXCLUDED.status,"
    " updated_at = EXCLUDED.updated_at, document = EXCLUDED.document"
)
_LOAD: Final = f"SELECT document::text FROM {STATE_TABLE} WHERE workflow_id = %s"  # noqa: S608
_DELETE: Final = f"DELETE FROM {STATE_TABLE} WHERE workflow_id = %s"  # noqa: S608
_IDS: Final = f"SELECT workflow_id FROM {STATE_TABLE} ORDER BY workflow_id"  # noqa: S608
_IDS_AFTER: Final = (
    f"SELECT workflow_id FROM {STATE_TABLE} WHERE workflow_id > %s"  # noqa: S608
    " ORDER BY workflow_id LIMIT %s"
)
_FIRST_IDS: Final = f"SELECT workflow_id FROM {STATE_TABLE} ORDER BY workflow_id LIMIT %s"  # noqa: S608


class PostgresStateStore(ClosingStore):
    """A :class:`~wfstore.StateStore` in a PostgreSQL database; thread-safe.

    ``url`` is a libpq URL or connection string. The schema is created or migrated when the
    store opens. A save replaces the row in one statement: readers see the old state or the
    new one, never a mix.
    """

    def __init__(
        self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, connect_timeout: float = 10.0
    ) -> None:
        """Connect (waiting up to ``connect_timeout`` s) and bring the schema up to date."""
        self._db = open_migrated(url, pool_size, connect_timeout)

    def save(self, state: ExecutionContext) -> None:
        """Store ``state`` durably under its workflow id, replacing any previous state."""
        self._db.check_open()
        check_context(state)
        document = escape_json(encode_state(state))
        updated = None if state.updated_at is None else format_time(state.updated_at)
        row = (
            state.workflow_id,
            escape_text(state.workflow_name),
            str(state.status),
            updated,
            document,
        )

        def upsert(conn: psycopg.Connection) -> None:
            conn.execute(_UPSERT, row)

        self._db.transaction(f"saving the state of {state.workflow_id!r}", upsert)

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or None if there is none.

        Raises :class:`~wfstore.errors.DataCorruptedError` when the document is not a state.
        """
        self._db.check_open()
        check_workflow_id(workflow_id)
        rows = self._db.fetch(f"loading the state of {workflow_id!r}", _LOAD, [workflow_id])
        if not rows:
            return None
        stored = rows[0][0]
        assert isinstance(stored, str)  # noqa: S101 (document::text)
        return decode_state(unescape_json(stored), workflow_id)

    def delete(self, workflow_id: str) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error."""
        self._db.check_open()
        check_workflow_id(workflow_id)

        def remove(conn: psycopg.Connection) -> None:
            conn.execute(_DELETE, (workflow_id,))

        self._db.transaction(f"deleting the state of {workflow_id!r}", remove)

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

    def ping(self) -> None:
        """Return if the database answers now; raise UnavailableError if it does not."""
        self._db.ping()

    def close(self) -> None:
        """Close the pool; idempotent. Later calls raise :class:`StoreClosedError`."""
        self._db.close()
