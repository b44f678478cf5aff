"""History records as table rows, and back: the row codec every history backend shares.

A row is the nine columns of the ``executions`` table in their declared order (see
:mod:`wfstored.storage.shared.history_schema`), times as nanosecond text (see
:mod:`wfstored.storage.shared.time_text`). Reading checks every column, so a row another tool
wrote wrongly is :class:`~wfstore.errors.DataCorruptedError` naming the record, never a crash.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from wfstore.domain import ExecutionRecord
from wfstore.errors import DataCorruptedError

from wfstored.storage.shared.history_schema import COLUMN_NAMES
from wfstored.storage.shared.time_text import format_time, parse_time

__all__ = [
    "COMPLETED_AT",
    "RECORD_ID",
    "NotUTF8",
    "Row",
    "lenient_text",
    "record_row",
    "row_record",
]

Row: TypeAlias = tuple[Any, ...]
"""One row of the ``executions`` table, in column order."""
RECORD_ID: Final = COLUMN_NAMES.index("id")
"""The position of ``id`` in a row."""
COMPLETED_AT: Final = COLUMN_NAMES.index("completed_at")
"""The position of ``completed_at`` in a row."""


def record_row(record: ExecutionRecord) -> Row:
    """Return the row that stores ``record`` (already validated: it has ``completed_at``)."""
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


class NotUTF8(bytes):
    """Text a row holds that is not valid UTF-8 (written by another tool), as its bytes."""


def lenient_text(data: bytes) -> str | NotUTF8:
    """Decode stored text, keeping what is not UTF-8 as :class:`NotUTF8` instead of failing."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return NotUTF8(data)


def row_record(row: Row, database: str) -> ExecutionRecord:
    """Return the record a row holds; DataCorruptedError naming ``database`` if it is wrong."""
    if len(row) != len(COLUMN_NAMES):
        raise DataCorruptedError(f"history database {database}: a row has {len(row)} columns")
    record_id, workflow_id, name, status, exit_code, started, completed, duration, error = row
    not_utf8 = [c for c, v in zip(COLUMN_NAMES, row, strict=True) if isinstance(v, NotUTF8)]
    if not_utf8:
        shown = repr(bytes(record_id)) if isinstance(record_id, NotUTF8) else repr(record_id)
        raise DataCorruptedError(
            f"history database {database}: record {shown} has text that is not UTF-8 in "
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
            f"history database {database}: record {record_id!r} has a column of the wrong type"
        )
    try:
        started_at = None if started is None else parse_time(started)
        completed_at = parse_time(completed)
    except ValueError as exc:
        raise DataCorruptedError(
            f"history database {database}: record {record_id!r} has a bad time: {exc}"
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
