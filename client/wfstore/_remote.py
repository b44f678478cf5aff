"""The two ports implemented over the wire: what ``Client.state`` and ``Client.history`` are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import grpc

from wfstore import _wire
from wfstore._invoker import Invoker, NotFound
from wfstore._types import ExecutionContext, ExecutionRecord, HistoryFilter, HistoryStats, Page
from wfstore._validation import (
    check_context,
    check_duration,
    check_filter,
    check_page_size,
    check_record,
    check_records,
    check_workflow_id,
)
from wfstore.errors import StoreClosedError
from wfstore.v1 import history_pb2, history_pb2_grpc, state_pb2, state_pb2_grpc

__all__ = ["RemoteHistoryStore", "RemoteStateStore"]


class _Handle:
    """A client-side handle that can be closed without touching the daemon."""

    _what = "store"

    def __init__(self) -> None:
        self._closed = False

    def close(self) -> None:
        """End this handle only; the daemon and other handles are unaffected. Idempotent."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this client's {self._what} handle is closed")


class RemoteStateStore(_Handle):
    """A :class:`~wfstore.StateStore` served by a wfstored daemon."""

    _what = "state"

    def __init__(self, channel: grpc.Channel, invoker: Invoker) -> None:
        """Use ``channel`` for calls and ``invoker`` for deadlines, retries and errors."""
        super().__init__()
        self._stub = state_pb2_grpc.StateServiceStub(channel)
        self._invoker = invoker

    def save(self, state: ExecutionContext) -> None:
        """Store ``state`` durably under its workflow id, replacing any previous state."""
        self._check_open()
        check_context(state)
        request = state_pb2.StateServiceSaveRequest(state=_wire.context_to_proto(state))
        self._invoker.call(self._stub.Save, request, name="StateService.Save", idempotent=True)

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or ``None`` if there is none."""
        self._check_open()
        check_workflow_id(workflow_id)
        request = state_pb2.StateServiceLoadRequest(workflow_id=workflow_id)
        try:
            reply = self._invoker.call(
                self._stub.Load, request, name="StateService.Load", idempotent=True
            )
        except NotFound:
            return None
        return _wire.context_from_proto(reply.state)

    def delete(self, workflow_id: str) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error."""
        self._check_open()
        check_workflow_id(workflow_id)
        request = state_pb2.StateServiceDeleteRequest(workflow_id=workflow_id)
        self._invoker.call(self._stub.Delete, request, name="StateService.Delete", idempotent=True)

    def list(self) -> list[str]:
        """Return every workflow id that has a stored state, sorted (follows all pages)."""
        ids: list[str] = []
        page = self.list_page()
        ids.extend(page.items)
        while page.next_page_token:
            page = self.list_page(page_token=page.next_page_token)
            ids.extend(page.items)
        return ids

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting where ``page_token`` left off."""
        self._check_open()
        check_page_size(page_size)
        request = state_pb2.StateServiceListRequest(page_size=page_size, page_token=page_token)
        reply = self._invoker.call(
            self._stub.List, request, name="StateService.List", idempotent=True
        )
        return Page(items=list(reply.workflow_ids), next_page_token=reply.next_page_token)


class RemoteHistoryStore(_Handle):
    """A :class:`~wfstore.HistoryStore` served by a wfstored daemon."""

    _what = "history"

    def __init__(self, channel: grpc.Channel, invoker: Invoker) -> None:
        """Use ``channel`` for calls and ``invoker`` for deadlines, retries and errors."""
        super().__init__()
        self._stub = history_pb2_grpc.HistoryServiceStub(channel)
        self._invoker = invoker

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id with identical content again is a no-op (retry-safe)."""
        self._check_open()
        check_record(record)
        request = history_pb2.HistoryServiceRecordRequest(record=_wire.record_to_proto(record))
        self._invoker.call(
            self._stub.Record, request, name="HistoryService.Record", idempotent=True
        )

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` (at most 10000) in one transaction, or none of them."""
        self._check_open()
        check_records(records)
        request = history_pb2.HistoryServiceRecordBatchRequest(
            records=[_wire.record_to_proto(record) for record in records]
        )
        self._invoker.call(
            self._stub.RecordBatch, request, name="HistoryService.RecordBatch", idempotent=True
        )

    def list(self, history_filter: HistoryFilter) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first."""
        records: list[ExecutionRecord] = []
        page = self.list_page(history_filter)
        records.extend(page.items)
        while page.next_page_token:
            page = self.list_page(history_filter, page_token=page.next_page_token)
            records.extend(page.items)
        return records

    def list_page(
        self, history_filter: HistoryFilter, page_size: int = 0, page_token: str = ""
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off."""
        self._check_open()
        check_filter(history_filter)
        check_page_size(page_size)
        request = history_pb2.HistoryServiceListRequest(
            filter=_wire.filter_to_proto(history_filter),
            page_size=page_size,
            page_token=page_token,
        )
        reply = self._invoker.call(
            self._stub.List, request, name="HistoryService.List", idempotent=True
        )
        return Page(
            items=[_wire.record_from_proto(r) for r in reply.records],
            next_page_token=reply.next_page_token,
        )

    def get_stats(self, history_filter: HistoryFilter) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored)."""
        self._check_open()
        check_filter(history_filter)
        request = history_pb2.HistoryServiceGetStatsRequest(
            filter=_wire.filter_to_proto(history_filter)
        )
        reply = self._invoker.call(
            self._stub.GetStats, request, name="HistoryService.GetStats", idempotent=True
        )
        return _wire.stats_from_proto(reply.stats)

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed before ``now - older_than``; return how many.

        Not retried on UNAVAILABLE: a retry could report 0 for records the first try deleted.
        """
        self._check_open()
        check_duration("older_than", older_than)
        request = history_pb2.HistoryServiceCleanupRequest(
            older_than=_wire.duration_to_proto(older_than)
        )
        reply = self._invoker.call(
            self._stub.Cleanup, request, name="HistoryService.Cleanup", idempotent=False
        )
        return reply.deleted_count
