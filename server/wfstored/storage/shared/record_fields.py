"""History records in the shape the wire carries them: the fast path of Record and List.

:data:`RecordFields` is a record as a flat tuple of built-in values with its times as
``(seconds since the Unix epoch, nanoseconds)`` pairs, which is what a protobuf ``Timestamp``
holds. The RPC layer turns a request's record into one and a page of them into a reply,
field by field, without the domain objects in between (see
:meth:`~wfstored.storage.shared.table_history_store.TableHistoryStore.record_fields` and
``list_page_fields``). Both conversions here are exact: a row read this way gives the fields
that ``wire.record_to_proto(row_record(row))`` would, and the same errors; fields stored this
way give the row ``record_row(record_from_proto(...))`` would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, TypeAlias

from wfstore.domain import ExecutionRecord
from wfstore.ids import MAX_ID_BYTES
from wfstore.timestamps import NANOS_PER_SECOND, to_unix_nanos
from wfstore.validation import INT32_RANGE, INT64_RANGE

from wfstored.storage.shared.record_rows import Row, row_record
from wfstored.storage.shared.time_text import text_of_parts, time_parts

__all__ = ["RecordFields", "fields_of_row", "row_of_fields"]

RecordFields: TypeAlias = tuple[str, str, str, str, int, int | None, int, int | None, int, int, str]
"""A record as ``(id, workflow_id, workflow_name, status, exit_code, started_seconds,
started_nanos, completed_seconds, completed_nanos, duration_ms, error_message)``.

A time's seconds are None when it is not set (its nanoseconds are then 0). A page read from a
store always has ``completed_seconds``; a record to store may lack it (and is then refused).
"""

# The times the port accepts: after 0001-01-01T00:00:00Z (which means "not set") and up to
# 9999-12-31T23:59:59.999999999Z. Anything else takes the full path.
_FIRST_SECONDS: Final = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC)) // NANOS_PER_SECOND
_LAST_SECONDS: Final = to_unix_nanos(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) // (
    NANOS_PER_SECOND
)
_INT32_LOW, _INT32_HIGH = INT32_RANGE
_INT64_HIGH: Final = INT64_RANGE[1]
_STRING_FIELDS: Final = (0, 1, 2, 3, 10)


def fields_of_row(row: Row, database: str) -> RecordFields:
    """Return the fields of the record a stored row holds.

    A row that :func:`~wfstored.storage.shared.record_rows.row_record` would refuse raises
    the same :class:`~wfstore.errors.DataCorruptedError` (it is that function which decides).
    """
    try:
        record_id, workflow_id, name, status, exit_code, started, completed, duration, error = row
        if (
            type(record_id) is str
            and type(workflow_id) is str
            and type(name) is str
            and type(status) is str
            and type(error) is str
            and type(exit_code) is int
            and type(duration) is int
            and type(completed) is str
            and (started is None or type(started) is str)
        ):
            completed_seconds, completed_nanos = time_parts(completed)
            started_seconds, started_nanos = (None, 0) if started is None else time_parts(started)
            return (
                record_id,
                workflow_id,
                name,
                status,
                exit_code,
                started_seconds,
                started_nanos,
                completed_seconds,
                completed_nanos,
                duration,
                error,
            )
    except ValueError:  # a bad time, or not nine columns: row_record names what is wrong
        pass
    return _fields_of_record(row_record(row, database))


def _fields_of_record(record: ExecutionRecord) -> RecordFields:
    """Return the fields of a record that the row codec read (the rare, slow way)."""
    started = record.started_at
    completed = record.completed_at
    started_seconds, started_nanos = (
        (None, 0) if started is None else divmod(to_unix_nanos(started), NANOS_PER_SECOND)
    )
    completed_seconds, completed_nanos = (
        (None, 0) if completed is None else divmod(to_unix_nanos(completed), NANOS_PER_SECOND)
    )
    return (
        record.id,
        record.workflow_id,
        record.workflow_name,
        record.status,
        record.exit_code,
        started_seconds,
        started_nanos,
        completed_seconds,
        completed_nanos,
        record.duration_ms,
        record.error_message,
    )


def row_of_fields(fields: RecordFields) -> Row | None:
    """Return the row that stores the record ``fields`` describe, if it is plainly valid.

    Returns None for exactly what the full path (``wire.record_from_proto``, then the store's
    ``record``) refuses: a missing ``completed_at``, a time outside years 1-9999 or its
    nanoseconds outside 0-999999999, an empty id or one over 250 UTF-8 bytes, a negative
    duration, a value of the wrong type. The caller then takes that path, which raises the
    error such a record deserves, worded as it always is.
    """
    (
        record_id,
        workflow_id,
        name,
        status,
        exit_code,
        started_seconds,
        started_nanos,
        completed_seconds,
        completed_nanos,
        duration,
        error,
    ) = fields
    if not (
        all(type(fields[index]) is str for index in _STRING_FIELDS)
        and type(exit_code) is int
        and type(duration) is int
        and _INT32_LOW <= exit_code <= _INT32_HIGH
        and 0 <= duration <= _INT64_HIGH
        and _plain_time(completed_seconds, completed_nanos)
        and (
            (started_seconds is None and started_nanos == 0)
            or _plain_time(started_seconds, started_nanos)
        )
        and record_id
        and _id_fits(record_id)
    ):
        return None
    assert completed_seconds is not None  # noqa: S101 (checked just above)
    return (
        record_id,
        workflow_id,
        name,
        status,
        exit_code,
        None if started_seconds is None else text_of_parts(started_seconds, started_nanos),
        text_of_parts(completed_seconds, completed_nanos),
        duration,
        error,
    )


def _plain_time(seconds: int | None, nanos: int) -> bool:
    return (
        type(seconds) is int
        and type(nanos) is int
        and 0 <= nanos < NANOS_PER_SECOND
        and (_FIRST_SECONDS < seconds <= _LAST_SECONDS or (seconds == _FIRST_SECONDS and nanos > 0))
    )


def _id_fits(record_id: str) -> bool:
    try:
        return len(record_id.encode()) <= MAX_ID_BYTES
    except UnicodeEncodeError:  # a lone surrogate: the full path says so
        return False
