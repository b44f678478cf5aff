"""Every RPC the clients make, described once: validation, request, reply, retry safety.

The sync :class:`~wfstore.Client` and the asyncio :class:`wfstore.aio.Client` both run these
operations through their invoker; neither builds a message or reads a reply on its own, so the
two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from wfstore import wire
from wfstore.domain import (
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    ServerInfo,
    StatsBreakdown,
    StoredState,
)
from wfstore.v1 import daemon_pb2, history_pb2, state_pb2
from wfstore.validation import (
    check_context,
    check_duration,
    check_expected_version,
    check_grouping,
    check_page_size,
    check_record,
    check_records,
    check_workflow_id,
    filter_or_default,
)

__all__ = [
    "CLEANUP",
    "DELETE",
    "DELETE_IF",
    "GET",
    "GET_STATS",
    "GET_STATS_BREAKDOWN",
    "LIST_HISTORY",
    "LIST_STATES",
    "LOAD",
    "RECORD",
    "RECORD_BATCH",
    "SAVE",
    "SAVE_IF",
    "SERVER_INFO",
    "Operation",
]

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class Operation(Generic[ResultT]):
    """One RPC as the clients see it."""

    service: str
    """The service's short name, e.g. ``StateService``."""
    method: str
    """The RPC's name, e.g. ``Save``."""
    reply_type: type[Message]
    """The reply message class."""
    build: Callable[..., Message]
    """Validate the caller's arguments and return the request."""
    read: Callable[[Any], ResultT]
    """Return the result from the reply."""
    idempotent: bool
    """Whether UNAVAILABLE may be retried."""
    none_if_not_found: bool = False
    """Whether NOT_FOUND means "no such thing" (``None``) rather than an error."""

    @property
    def path(self) -> str:
        """The gRPC method path, e.g. ``/wfstore.v1.StateService/Save``."""
        return f"/wfstore.v1.{self.service}/{self.method}"

    @property
    def name(self) -> str:
        """A short name for messages and logs, e.g. ``StateService.Save``."""
        return f"{self.service}.{self.method}"


def _nothing(reply: object) -> None:
    del reply


def _save(state: ExecutionContext, expected_version: int | None = None) -> Message:
    check_context(state)
    check_expected_version(expected_version)
    return state_pb2.StateServiceSaveRequest(
        state=wire.context_to_proto(state), expected_version=expected_version
    )


def _delete(workflow_id: str, expected_version: int | None = None) -> Message:
    check_workflow_id(workflow_id)
    check_expected_version(expected_version)
    return state_pb2.StateServiceDeleteRequest(
        workflow_id=workflow_id, expected_version=expected_version
    )


def _version(reply: state_pb2.StateServiceSaveResponse) -> int:
    return reply.version


def _stored(reply: state_pb2.StateServiceLoadResponse) -> StoredState:
    return StoredState(state=wire.context_from_proto(reply.state), version=reply.version)


def _by_id(request_type: Callable[..., Message]) -> Callable[[str], Message]:
    def build(workflow_id: str) -> Message:
        check_workflow_id(workflow_id)
        return request_type(workflow_id=workflow_id)

    return build


def _list_states(page_size: int = 0, page_token: str = "") -> Message:
    check_page_size(page_size)
    return state_pb2.StateServiceListRequest(page_size=page_size, page_token=page_token)


def _state_page(reply: state_pb2.StateServiceListResponse) -> Page[str]:
    return Page(items=list(reply.workflow_ids), next_page_token=reply.next_page_token)


def _record(record: ExecutionRecord) -> Message:
    check_record(record)
    return history_pb2.HistoryServiceRecordRequest(record=wire.record_to_proto(record))


def _record_batch(records: Sequence[ExecutionRecord]) -> Message:
    check_records(records)
    return history_pb2.HistoryServiceRecordBatchRequest(
        records=[wire.record_to_proto(record) for record in records]
    )


def _list_history(
    history_filter: HistoryFilter | None = None, page_size: int = 0, page_token: str = ""
) -> Message:
    applied = filter_or_default(history_filter)
    check_page_size(page_size)
    return history_pb2.HistoryServiceListRequest(
        filter=wire.filter_to_proto(applied), page_size=page_size, page_token=page_token
    )


def _history_page(reply: history_pb2.HistoryServiceListResponse) -> Page[ExecutionRecord]:
    return Page(
        items=[wire.record_from_proto(r) for r in reply.records],
        next_page_token=reply.next_page_token,
    )


def _get_stats(history_filter: HistoryFilter | None = None, percentiles: bool = False) -> Message:
    applied = filter_or_default(history_filter)
    return history_pb2.HistoryServiceGetStatsRequest(
        filter=wire.filter_to_proto(applied), percentiles=percentiles
    )


def _get_stats_breakdown(
    history_filter: HistoryFilter | None = None,
    group_by: HistoryGrouping = HistoryGrouping.WORKFLOW_NAME,
    percentiles: bool = False,
) -> Message:
    applied = filter_or_default(history_filter)
    grouping = check_grouping(group_by)
    return history_pb2.HistoryServiceGetStatsRequest(
        filter=wire.filter_to_proto(applied),
        group_by=wire.grouping_to_proto(grouping),
        percentiles=percentiles,
    )


def _cleanup(older_than: timedelta) -> Message:
    check_duration("older_than", older_than)
    return history_pb2.HistoryServiceCleanupRequest(older_than=wire.duration_to_proto(older_than))


SAVE: Operation[int] = Operation(
    "StateService", "Save", state_pb2.StateServiceSaveResponse, _save, _version, idempotent=True
)
# A conditional save is not retried: if the first attempt was applied and its reply lost, the
# retry would fail on the version that attempt wrote. The caller sees UNAVAILABLE instead.
SAVE_IF: Operation[int] = Operation(
    "StateService", "Save", state_pb2.StateServiceSaveResponse, _save, _version, idempotent=False
)
GET: Operation[StoredState | None] = Operation(
    "StateService",
    "Load",
    state_pb2.StateServiceLoadResponse,
    _by_id(state_pb2.StateServiceLoadRequest),
    _stored,
    idempotent=True,
    none_if_not_found=True,
)
LOAD: Operation[ExecutionContext | None] = Operation(
    "StateService",
    "Load",
    state_pb2.StateServiceLoadResponse,
    _by_id(state_pb2.StateServiceLoadRequest),
    lambda reply: wire.context_from_proto(reply.state),
    idempotent=True,
    none_if_not_found=True,
)
LIST_STATES: Operation[Page[str]] = Operation(
    "StateService",
    "List",
    state_pb2.StateServiceListResponse,
    _list_states,
    _state_page,
    idempotent=True,
)
DELETE: Operation[None] = Operation(
    "StateService",
    "Delete",
    state_pb2.StateServiceDeleteResponse,
    _delete,
    _nothing,
    idempotent=True,
)
DELETE_IF: Operation[None] = Operation(
    "StateService",
    "Delete",
    state_pb2.StateServiceDeleteResponse,
    _delete,
    _nothing,
    idempotent=False,
)
# Record is idempotent by design: the same id with identical content succeeds again.
RECORD: Operation[None] = Operation(
    "HistoryService",
    "Record",
    history_pb2.HistoryServiceRecordResponse,
    _record,
    _nothing,
    idempotent=True,
)
RECORD_BATCH: Operation[None] = Operation(
    "HistoryService",
    "RecordBatch",
    history_pb2.HistoryServiceRecordBatchResponse,
    _record_batch,
    _nothing,
    idempotent=True,
)
LIST_HISTORY: Operation[Page[ExecutionRecord]] = Operation(
    "HistoryService",
    "List",
    history_pb2.HistoryServiceListResponse,
    _list_history,
    _history_page,
    idempotent=True,
)
GET_STATS: Operation[HistoryStats] = Operation(
    "HistoryService",
    "GetStats",
    history_pb2.HistoryServiceGetStatsResponse,
    _get_stats,
    lambda reply: wire.stats_from_proto(reply.stats),
    idempotent=True,
)
GET_STATS_BREAKDOWN: Operation[StatsBreakdown] = Operation(
    "HistoryService",
    "GetStats",
    history_pb2.HistoryServiceGetStatsResponse,
    _get_stats_breakdown,
    wire.stats_reply_from_proto,
    idempotent=True,
)
# Not retried: a retry could report 0 for records the first attempt deleted.
CLEANUP: Operation[int] = Operation(
    "HistoryService",
    "Cleanup",
    history_pb2.HistoryServiceCleanupResponse,
    _cleanup,
    lambda reply: int(reply.deleted_count),
    idempotent=False,
)
SERVER_INFO: Operation[ServerInfo] = Operation(
    "DaemonService",
    "GetServerInfo",
    daemon_pb2.DaemonServiceGetServerInfoResponse,
    daemon_pb2.DaemonServiceGetServerInfoRequest,
    wire.server_info_from_proto,
    idempotent=True,
)
