"""The bytes the plain gRPC ceiling moves: each RPC's request and reply, serialised once.

The plain ceiling (:mod:`scripts.bench._plain_ceiling`) and its client send and answer bytes
without any protobuf work, so the bytes must be the real ones: every request is built as
``wfstore.Client`` builds it for the benchmark's call, every reply as wfstored's servicers build
it from what the benchmark's stores hold (the 4 KiB state, 100 ids, 20 history records, the
stats), through the same ``wfstore.wire`` conversions.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from google.protobuf.message import Message
from wfstore import HistoryFilter, wire
from wfstore.v1 import history_pb2, state_pb2

from scripts.bench._payloads import (
    CANNED_STATS,
    LIST_NAME,
    STATE_IDS,
    canned_records,
    make_record,
    make_state,
)

STATE = "/wfstore.v1.StateService/"
HISTORY = "/wfstore.v1.HistoryService/"
PATHS = {
    "Save": f"{STATE}Save",
    "SaveIf": f"{STATE}Save",
    "Load": f"{STATE}Load",
    "List": f"{STATE}List",
    "Delete": f"{STATE}Delete",
    "Record": f"{HISTORY}Record",
    "RecordBatch": f"{HISTORY}RecordBatch",
    "HistoryList": f"{HISTORY}List",
    "GetStats": f"{HISTORY}GetStats",
    "Cleanup": f"{HISTORY}Cleanup",
}
"""The method path each benchmark operation calls."""
SAVED_VERSION = 1000
"""The version a Save reply carries: the order of what a benchmark run's saves reach."""
CLEANUP_AGE = timedelta(days=365)
"""The Cleanup cell's ``older_than`` (as in :mod:`scripts.bench._ops`)."""


def _history_filter(limit: int = 0) -> history_pb2.HistoryFilter:
    return wire.filter_to_proto(HistoryFilter(workflow_name=LIST_NAME, limit=limit))


def _request(op: str, batch: int) -> Message:
    """Return the request message ``wfstore.Client`` sends for one call of ``op``."""
    record_id = "r-r0c100-3-1234"  # as long as the Record cell's ids: r-<tag>-<thread>-<n>
    requests: dict[str, Message] = {
        "Save": state_pb2.StateServiceSaveRequest(
            state=wire.context_to_proto(make_state(STATE_IDS[0]))
        ),
        "SaveIf": state_pb2.StateServiceSaveRequest(
            state=wire.context_to_proto(make_state(STATE_IDS[0])), expected_version=SAVED_VERSION
        ),
        "Load": state_pb2.StateServiceLoadRequest(workflow_id=STATE_IDS[0]),
        "List": state_pb2.StateServiceListRequest(),
        "Delete": state_pb2.StateServiceDeleteRequest(workflow_id="del-r0c100-1234"),
        "Record": history_pb2.HistoryServiceRecordRequest(
            record=wire.record_to_proto(make_record(record_id))
        ),
        "RecordBatch": history_pb2.HistoryServiceRecordBatchRequest(
            records=[wire.record_to_proto(make_record(f"b-r0c100-3-12-{k}")) for k in range(batch)]
        ),
        "HistoryList": history_pb2.HistoryServiceListRequest(filter=_history_filter(20)),
        "GetStats": history_pb2.HistoryServiceGetStatsRequest(filter=_history_filter()),
        "Cleanup": history_pb2.HistoryServiceCleanupRequest(
            older_than=wire.duration_to_proto(CLEANUP_AGE)
        ),
    }
    return requests[op]


@cache
def request_bytes(op: str, batch: int = 1) -> bytes:
    """Return the serialised request of one call of ``op`` (``batch`` records for RecordBatch)."""
    return _request(op, batch).SerializeToString()


def reply_bytes() -> dict[str, bytes]:
    """Return the serialised reply of every method path, as wfstored answers the benchmark."""
    replies: dict[str, Message] = {
        f"{STATE}Save": state_pb2.StateServiceSaveResponse(version=SAVED_VERSION),
        f"{STATE}Load": state_pb2.StateServiceLoadResponse(
            state=wire.context_to_proto(make_state(STATE_IDS[0])), version=1
        ),
        f"{STATE}List": state_pb2.StateServiceListResponse(workflow_ids=STATE_IDS),
        f"{STATE}Delete": state_pb2.StateServiceDeleteResponse(),
        f"{HISTORY}Record": history_pb2.HistoryServiceRecordResponse(),
        f"{HISTORY}RecordBatch": history_pb2.HistoryServiceRecordBatchResponse(),
        f"{HISTORY}List": history_pb2.HistoryServiceListResponse(
            records=[wire.record_to_proto(record) for record in canned_records(20)]
        ),
        f"{HISTORY}GetStats": history_pb2.HistoryServiceGetStatsResponse(
            stats=wire.stats_to_proto(CANNED_STATS)
        ),
        f"{HISTORY}Cleanup": history_pb2.HistoryServiceCleanupResponse(),
    }
    return {path: message.SerializeToString() for path, message in replies.items()}
