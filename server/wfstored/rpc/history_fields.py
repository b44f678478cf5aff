"""History records between messages and a store's wire-shaped fields: Record's and List's fast path.

A store that has the two methods of :class:`FieldStore` (every SQL history store does: see
``wfstored.storage.shared.record_fields``) takes a record to write, and gives a page of
records read, as flat tuples of built-in values whose times are ``(seconds, nanoseconds)``
pairs, just what a protobuf ``Timestamp`` holds. The servicer then goes from message to row,
and from row to message, without building domain objects and datetimes in between; that was
most of the Python work of both calls. Any other store is served through ``wfstore.wire``.

The layers stay apart: the storage side knows no protobuf, this side no SQL nor time text; the
tuple below is the whole contract, and tests hold both paths to the same results.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias, runtime_checkable

from wfstore.domain import HistoryFilter, Page
from wfstore.v1 import history_pb2

__all__ = ["FieldStore", "RecordFields", "fields_of_message", "list_reply"]

RecordFields: TypeAlias = tuple[str, str, str, str, int, int | None, int, int | None, int, int, str]
"""``(id, workflow_id, workflow_name, status, exit_code, started_seconds, started_nanos,
completed_seconds, completed_nanos, duration_ms, error_message)``; an unset time has seconds
None and nanoseconds 0 (the storage side declares the same alias)."""


@runtime_checkable
class FieldStore(Protocol):
    """The fast path's hook into a history store: records as :data:`RecordFields`."""

    def record_fields(self, fields: RecordFields) -> bool:
        """Store the record if it is plainly valid and return True; else do nothing, False."""
        ...

    def list_page_fields(
        self, history_filter: HistoryFilter | None, page_size: int, page_token: str
    ) -> Page[RecordFields]:
        """Return what ``list_page`` returns, each record as its fields."""
        ...


def fields_of_message(message: history_pb2.ExecutionRecord) -> RecordFields:
    """Return the fields of a record message, times as they came (checked by the store)."""
    started = message.started_at if message.HasField("started_at") else None
    completed = message.completed_at if message.HasField("completed_at") else None
    return (
        message.id,
        message.workflow_id,
        message.workflow_name,
        message.status,
        message.exit_code,
        None if started is None else started.seconds,
        0 if started is None else started.nanos,
        None if completed is None else completed.seconds,
        0 if completed is None else completed.nanos,
        message.duration_ms,
        message.error_message,
    )


def list_reply(page: Page[RecordFields]) -> history_pb2.HistoryServiceListResponse:
    """Return the List reply of a page of records read as fields.

    Fields are set one by one on messages added in place: measured faster with upb than
    keyword arguments or building each record apart and copying it into the reply.
    """
    reply = history_pb2.HistoryServiceListResponse(next_page_token=page.next_page_token)
    add = reply.records.add
    for (
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
    ) in page.items:
        message = add()
        message.id = record_id
        message.workflow_id = workflow_id
        message.workflow_name = name
        message.status = status
        message.exit_code = exit_code
        message.duration_ms = duration
        message.error_message = error
        if started_seconds is not None:
            started = message.started_at
            started.seconds = started_seconds
            started.nanos = started_nanos
        if completed_seconds is not None:
            completed = message.completed_at
            completed.seconds = completed_seconds
            completed.nanos = completed_nanos
    return reply
