"""The history roll-ups in PostgreSQL: tables, plpgsql triggers, and the migration that adds them.

Statement-level triggers with transition tables: a statement's rows are summed per bucket in
one query, so a batch of a thousand records updates each of its buckets once. Every writer
takes bucket row locks in one global order, ``(workflow_name, status, day)`` with a day's row
before its hours' rows, and the store sorts each group of records the same way before
inserting it, so concurrent batches from several daemons queue on a hot bucket but never
deadlock. A removal makes an hour read its bounds again from its rows when it removed one of
them, and a day read them from its hours (the day's row lock, held by every writer of its
hours, keeps those still).
"""

# Every statement here is built from constants only (table names, bit widths, OLD/NEW).
# ruff: noqa: S608

from __future__ import annotations

from typing import Final

from wfstored.storage.shared.history_rollups import (
    DAILY,
    HOURLY,
    ROLLUP_COLUMNS,
    backfill_statements,
    rollup_create_statements,
)
from wfstored.storage.shared.history_schema import TABLE, ColumnKind
from wfstored.storage.shared.history_stats import DURATION_LOW_BITS, DURATION_LOW_MASK

__all__ = ["ROLLUP_MIGRATION"]

_TYPES: Final[dict[ColumnKind, str]] = {
    "text": 'TEXT COLLATE "C"',
    "int32": "INTEGER",
    "int64": "BIGINT",
}
_COLUMNS: Final = ", ".join(ROLLUP_COLUMNS)
_KEY: Final = "workflow_name = w AND bucket = b AND status = s"


def _buckets(rows: str) -> str:
    """Return the per-bucket sums of a transition table, days before their hours, in lock order."""
    selects = " UNION ALL ".join(
        f"SELECT workflow_name AS w, status AS s, substr(completed_at, 1, {length}) AS b,"
        f" count(*) AS n, sum(duration_ms >> {DURATION_LOW_BITS})::bigint AS hi,"
        f" sum(duration_ms & {DURATION_LOW_MASK})::bigint AS lo,"
        f" min(duration_ms) AS mn, max(duration_ms) AS mx FROM {rows} GROUP BY 1, 2, 3"
        for length in (10, 13)
    )
    return f"SELECT * FROM ({selects}) AS buckets ORDER BY w, s, substr(b, 1, 10), length(b), b"


def _upsert(table: str) -> str:
    return (
        f"INSERT INTO {table} AS t ({_COLUMNS}) VALUES (w, b, s, n, hi, lo, mn, mx)"
        " ON CONFLICT (workflow_name, bucket, status) DO UPDATE SET runs = t.runs + excluded.runs,"
        " sum_high = t.sum_high + excluded.sum_high, sum_low = t.sum_low + excluded.sum_low,"
        " min_ms = least(t.min_ms, excluded.min_ms), max_ms = greatest(t.max_ms, excluded.max_ms);"
    )


_ARGS: Final = "w text, s text, b text, n bigint, hi bigint, lo bigint, mn bigint, mx bigint"
_ADD_BUCKET: Final = f"""CREATE OR REPLACE FUNCTION wfstore_rollup_add({_ARGS}) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF length(b) = 13 THEN
        {_upsert(HOURLY)}
    ELSE
        {_upsert(DAILY)}
    END IF;
END $$"""
_HOUR_BOUNDS: Final = (
    f"SELECT min(e.duration_ms), max(e.duration_ms) FROM {TABLE} AS e"
    " WHERE e.workflow_name = w AND e.status = s"
    " AND e.completed_at >= b || ':00:00.000000000Z' AND e.completed_at <= b || ':59:59.999999999Z'"
)
_DAY_BOUNDS: Final = (
    f"SELECT min(h.min_ms), max(h.max_ms) FROM {HOURLY} AS h"
    " WHERE h.workflow_name = w AND h.status = s"
    " AND h.bucket >= b || 'T00' AND h.bucket <= b || 'T23'"
)
_REMOVE_BUCKET: Final = f"""CREATE OR REPLACE FUNCTION wfstore_rollup_remove({_ARGS}) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    left_runs bigint;
    lowest bigint;
    highest bigint;
BEGIN
    IF length(b) = 13 THEN
        UPDATE {HOURLY} SET runs = runs - n, sum_high = sum_high - hi, sum_low = sum_low - lo
            WHERE {_KEY} RETURNING runs, min_ms, max_ms INTO left_runs, lowest, highest;
        IF left_runs <= 0 THEN
            DELETE FROM {HOURLY} WHERE {_KEY};
        ELSIF mn <= lowest OR mx >= highest THEN
            UPDATE {HOURLY} SET (min_ms, max_ms) = ({_HOUR_BOUNDS}) WHERE {_KEY};
        END IF;
    ELSE
        UPDATE {DAILY} SET runs = runs - n, sum_high = sum_high - hi, sum_low = sum_low - lo
            WHERE {_KEY} RETURNING runs INTO left_runs;
        IF left_runs <= 0 THEN
            DELETE FROM {DAILY} WHERE {_KEY};
        END IF;
    END IF;
END $$"""
_RESCAN_DAY: Final = f"""CREATE OR REPLACE FUNCTION
wfstore_rollup_rescan_day(w text, s text, b text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {DAILY} SET (min_ms, max_ms) = ({_DAY_BOUNDS}) WHERE {_KEY};
END $$"""


def _trigger_function(name: str, *, removed: bool, added: bool) -> str:
    """Return a statement-level trigger function: remove ``old_rows``, then add ``new_rows``."""
    body = ""
    if removed:
        body += f"""
    FOR r IN {_buckets("old_rows")} LOOP
        PERFORM wfstore_rollup_remove(r.w, r.s, r.b, r.n, r.hi, r.lo, r.mn, r.mx);
    END LOOP;
    FOR r IN SELECT DISTINCT workflow_name AS w, status AS s, substr(completed_at, 1, 10) AS b
            FROM old_rows ORDER BY 1, 2, 3 LOOP
        PERFORM wfstore_rollup_rescan_day(r.w, r.s, r.b);
    END LOOP;"""
    if added:
        body += f"""
    FOR r IN {_buckets("new_rows")} LOOP
        PERFORM wfstore_rollup_add(r.w, r.s, r.b, r.n, r.hi, r.lo, r.mn, r.mx);
    END LOOP;"""
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN{body}
    RETURN NULL;
END $$"""


def _trigger(event: str, function: str, transition: str) -> tuple[str, str]:
    name = f"{TABLE}_rollup_{event.lower()}"
    return (
        f"DROP TRIGGER IF EXISTS {name} ON {TABLE}",
        (
            f"CREATE TRIGGER {name} AFTER {event} ON {TABLE} REFERENCING {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
    )


ROLLUP_MIGRATION: Final = (
    *rollup_create_statements(_TYPES),
    _ADD_BUCKET,
    _REMOVE_BUCKET,
    _RESCAN_DAY,
    _trigger_function("wfstore_rollup_inserted", removed=False, added=True),
    _trigger_function("wfstore_rollup_deleted", removed=True, added=False),
    _trigger_function("wfstore_rollup_updated", removed=True, added=True),
    *_trigger("INSERT", "wfstore_rollup_inserted", "NEW TABLE AS new_rows"),
    *_trigger("DELETE", "wfstore_rollup_deleted", "OLD TABLE AS old_rows"),
    *_trigger("UPDATE", "wfstore_rollup_updated", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    *backfill_statements(),
)
"""Schema version 5: the roll-up tables, their triggers, and the roll-ups filled from the rows."""
