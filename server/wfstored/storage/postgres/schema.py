"""The wfstore schema in PostgreSQL: versioned migrations, safe when daemons start together.

``wfstore_schema`` holds one row, the version applied. Every daemon, at start, locks that row
(``SELECT ... FOR UPDATE``), applies the migrations past it in the same transaction and
commits; a daemon that starts meanwhile waits on the row lock, then finds nothing to do. A row
lock rather than an advisory lock and no ``xmin`` tricks: CockroachDB and YugabyteDB have
row locks but not PostgreSQL's advisory locks.

Text columns use ``COLLATE "C"``: byte order, so that ids and the nanosecond time text sort
as in SQLite, and keyset pages resume at the same place on every backend.
"""

from __future__ import annotations

import psycopg
from wfstore.errors import DataCorruptedError

from wfstored.storage.postgres.database import PostgresDatabase
from wfstored.storage.postgres.rollups import ROLLUP_MIGRATION
from wfstored.storage.shared.history_schema import ColumnKind, create_statements

__all__ = [
    "CHANGES_TABLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STATE_TABLE",
    "WATCH_TABLE",
    "migrate",
    "open_migrated",
]

_TYPES: dict[ColumnKind, str] = {"text": 'TEXT COLLATE "C"', "int32": "INTEGER", "int64": "BIGINT"}

STATE_TABLE = "workflow_states"
"""The table of execution states: one row per workflow id, the awf document as jsonb."""
CHANGES_TABLE = "wfstore_state_changes"
"""The change log Watch reads: one row per save or delete, written by a trigger."""
WATCH_TABLE = "wfstore_watch"
"""One row: the change log's epoch (tokens name it) and how far it has been compacted."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: execution history, the table and indexes every history backend shares.
    create_statements(_TYPES, if_not_exists=True),
    # 2: execution state. The columns beside the document serve the queries operators ask
    # ("which runs of deploy are failed", "what changed since"); updated_at is time text.
    (
        f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    workflow_id TEXT COLLATE "C" PRIMARY KEY,
    workflow_name TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C",
    document JSONB NOT NULL
)""",
        (
            f"CREATE INDEX IF NOT EXISTS {STATE_TABLE}_by_name"
            f" ON {STATE_TABLE} (workflow_name, status, updated_at)"
        ),
        f"CREATE INDEX IF NOT EXISTS {STATE_TABLE}_by_status ON {STATE_TABLE} (status, updated_at)",
        f"CREATE INDEX IF NOT EXISTS {STATE_TABLE}_by_updated ON {STATE_TABLE} (updated_at)",
    ),
    # 3: versions. Every row has one; a deleted state keeps its row with a NULL document (a
    # tombstone), so that saving the id again goes on from its last version instead of 1.
    (
        f"ALTER TABLE {STATE_TABLE} ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 1",
        f"ALTER TABLE {STATE_TABLE} ALTER COLUMN document DROP NOT NULL",
    ),
    # 4: the change log. A trigger writes it, in the writer's own transaction and after the
    # row (so the writer already has its transaction id when it draws a sequence number):
    # every writer, old or new, daemon or embedded or psql, is logged.
    (
        f"""CREATE TABLE IF NOT EXISTS {CHANGES_TABLE} (
    seq BIGSERIAL PRIMARY KEY,
    workflow_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
)""",
        f"CREATE INDEX IF NOT EXISTS {CHANGES_TABLE}_by_time ON {CHANGES_TABLE} (changed_at)",
        f"""CREATE TABLE IF NOT EXISTS {WATCH_TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BYTEA NOT NULL,
    compacted_through BIGINT NOT NULL DEFAULT 0
)""",
        (
            f"INSERT INTO {WATCH_TABLE} (id, epoch) VALUES"  # noqa: S608 (constants)
            " (1, substring(uuid_send(gen_random_uuid()) FROM 1 FOR 8)) ON CONFLICT DO NOTHING"
        ),
        f"""CREATE OR REPLACE FUNCTION wfstore_log_state_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CHANGES_TABLE} (workflow_id, kind, version) VALUES (
        NEW.workflow_id,
        CASE WHEN NEW.document IS NULL THEN 'deleted' ELSE 'saved' END,
        NEW.version);
    RETURN NULL;
END $$""",  # noqa: S608 (constants)
        f"DROP TRIGGER IF EXISTS wfstore_state_changes ON {STATE_TABLE}",
        (
            f"CREATE TRIGGER wfstore_state_changes AFTER INSERT OR UPDATE ON {STATE_TABLE}"
            " FOR EACH ROW EXECUTE FUNCTION wfstore_log_state_change()"
        ),
    ),
    # 5: the history roll-ups (runs, duration sums and bounds per name, status, day and hour),
    # kept by statement-level triggers in every writer's transaction, filled from the rows.
    ROLLUP_MIGRATION,
)
"""The statements of each schema version, in order; version N is ``MIGRATIONS[N - 1]``."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The version this wfstored creates and reads."""

_CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS wfstore_schema ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
)
_ATTEMPTS = 5


def migrate(conn: psycopg.Connection, database: str) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; return the version found before.

    Raises :class:`DataCorruptedError` if the database has a newer schema than this wfstored
    knows. Safe to call from many processes at once.
    """
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with conn.transaction():
                return _migrate_locked(conn, database)
        except psycopg.errors.UniqueViolation:
            # Two first starts raced on CREATE TABLE IF NOT EXISTS (the catalog's unique
            # index): the other one created it; now it exists, so go again.
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError  # pragma: no cover


def _migrate_locked(conn: psycopg.Connection, database: str) -> int:
    conn.execute(_CREATE_VERSION_TABLE)
    conn.execute("INSERT INTO wfstore_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING")
    row = conn.execute("SELECT version FROM wfstore_schema WHERE id = 1 FOR UPDATE").fetchone()
    found = int(row[0]) if row else 0
    if found > SCHEMA_VERSION:
        raise DataCorruptedError(
            f"database {database} has wfstore schema version {found}; this wfstored reads "
            f"version {SCHEMA_VERSION} (upgrade wfstored)"
        )
    for statements in MIGRATIONS[found:]:
        for statement in statements:
            conn.execute(statement)
    if found < SCHEMA_VERSION:
        conn.execute("UPDATE wfstore_schema SET version = %s WHERE id = 1", (SCHEMA_VERSION,))
    return found


def open_migrated(url: str, pool_size: int, connect_timeout: float) -> PostgresDatabase:
    """Open a pool on ``url`` and bring the schema up to date; close it again if that fails."""
    database = PostgresDatabase(url, pool_size=pool_size, connect_timeout=connect_timeout)
    try:
        database.transaction("migrating", lambda conn: migrate(conn, database.name))
    except BaseException:
        database.close()
        raise
    return database
