"""The JSON documents the commands write: history records with awf's keys, states, stats, info.

History records use the keys awf writes (its SQLite columns, the fields of
:class:`~wfstore.ExecutionRecord`), times as RFC 3339 UTC with their nanoseconds. A state is
the JSON form of ``wfstore.v1.ExecutionContext`` (protobuf's JSON mapping, field names as in
the proto: what ``grpcurl`` shows), which ``wfstore state put`` reads back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from wfstore.cli.formatting import iso_time
from wfstore.domain import ExecutionContext, ExecutionRecord, HistoryStats, ServerInfo, StateEvent

__all__ = [
    "event_json",
    "record_json",
    "server_info_json",
    "state_from_json",
    "state_json",
    "stats_json",
]


def record_json(record: ExecutionRecord) -> dict[str, Any]:
    """Return a history record as awf writes it: its columns, in order."""
    return {
        "id": record.id,
        "workflow_id": record.workflow_id,
        "workflow_name": record.workflow_name,
        "status": record.status,
        "exit_code": record.exit_code,
        "started_at": iso_time(record.started_at),
        "completed_at": iso_time(record.completed_at),
        "duration_ms": record.duration_ms,
        "error_message": record.error_message,
    }


def stats_json(stats: HistoryStats) -> dict[str, Any]:
    """Return statistics with their field names (every field the client knows)."""
    return {
        field.name: dict(value) if isinstance(value := getattr(stats, field.name), dict) else value
        for field in dataclasses.fields(stats)
    }


def server_info_json(info: ServerInfo) -> dict[str, Any]:
    """Return a daemon's description; ``uptime_seconds`` a number, times in RFC 3339."""
    return {
        "version": info.version,
        "hostname": info.hostname,
        "pid": info.pid,
        "started_at": iso_time(info.started_at),
        "uptime_seconds": round(info.uptime.total_seconds(), 3),
        "listeners": list(info.listeners),
        "open_watches": info.open_watches,
        "stores": [dataclasses.asdict(store) for store in info.stores],
    }


def state_json(state: ExecutionContext) -> dict[str, Any]:
    """Return a state as the JSON mapping of ``wfstore.v1.ExecutionContext``."""
    from google.protobuf import json_format  # noqa: PLC0415 (loaded with the client anyway)

    from wfstore import wire  # noqa: PLC0415

    document: dict[str, Any] = json_format.MessageToDict(
        wire.context_to_proto(state), preserving_proto_field_name=True
    )
    return document


def state_from_json(text: str) -> ExecutionContext:
    """Parse what :func:`state_json` writes; ValueError says what is wrong with it."""
    from google.protobuf import json_format  # noqa: PLC0415

    from wfstore import wire  # noqa: PLC0415
    from wfstore.v1 import state_pb2  # noqa: PLC0415

    try:
        message = json_format.Parse(text, state_pb2.ExecutionContext())
    except json_format.ParseError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None
    return wire.context_from_proto(message)


def event_json(event: StateEvent) -> dict[str, Any]:
    """Return a watch event: kind, workflow id, version, and the state's status if known."""
    document: dict[str, Any] = {
        "kind": event.kind,
        "workflow_id": event.workflow_id,
        "version": event.version,
    }
    if event.state is not None:
        document["status"] = str(event.state.status)
        document["updated_at"] = iso_time(event.state.updated_at)
    document["resume_token"] = event.resume_token
    return document
