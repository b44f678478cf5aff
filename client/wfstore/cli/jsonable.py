"""The JSON documents the commands write: history records with awf's keys, states, stats, info.

History records use the keys awf writes (its SQLite columns, the fields of
:class:`~wfstore.ExecutionRecord`), times as RFC 3339 UTC with their nanoseconds. A state is
awf's own state file (:mod:`wfstore.awf_state`, the bytes the Go tool writes) or, with
``--format proto``, the JSON form of ``wfstore.v1.ExecutionContext`` (protobuf's JSON mapping,
field names as in the proto: what ``grpcurl`` shows); ``wfstore state put`` reads either back.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, TypeAlias

from wfstore.cli.formatting import iso_time
from wfstore.domain import ExecutionContext, ExecutionRecord, HistoryStats, ServerInfo, StateEvent

__all__ = [
    "StateFormat",
    "event_json",
    "record_json",
    "server_info_json",
    "state_from_json",
    "state_json",
    "state_text",
    "stats_json",
]


StateFormat: TypeAlias = Literal["awf", "proto"]
"""How a state is written as JSON: awf's state file, or protobuf's JSON mapping."""


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


def state_text(state: ExecutionContext, form: StateFormat) -> str:
    """Return a state as indented JSON text: awf's exact file bytes, or the proto mapping."""
    if form == "awf":
        from wfstore.awf_state import encode_state  # noqa: PLC0415

        return encode_state(state).decode()
    import orjson  # noqa: PLC0415

    return orjson.dumps(state_json(state, form), option=orjson.OPT_INDENT_2).decode()


def state_json(state: ExecutionContext, form: StateFormat) -> dict[str, Any]:
    """Return a state as a JSON object: awf's state file, or ``wfstore.v1.ExecutionContext``."""
    if form == "awf":
        import orjson  # noqa: PLC0415

        from wfstore.awf_state import encode_state  # noqa: PLC0415

        awf_document: dict[str, Any] = orjson.loads(encode_state(state))
        return awf_document
    from google.protobuf import json_format  # noqa: PLC0415 (loaded with the client anyway)

    from wfstore import wire  # noqa: PLC0415

    document: dict[str, Any] = json_format.MessageToDict(
        wire.context_to_proto(state), preserving_proto_field_name=True
    )
    return document


def state_from_json(text: str, workflow_id: str, form: StateFormat) -> ExecutionContext:
    """Parse what :func:`state_text` writes, as the state of ``workflow_id``.

    A document naming another workflow id, or none (proto form: ``""``), is refused unless
    it names none: then it takes ``workflow_id``. ValueError says what is wrong with it.
    """
    if form == "awf":
        from wfstore.awf_state import decode_state  # noqa: PLC0415
        from wfstore.errors import DataCorruptedError  # noqa: PLC0415

        try:
            return decode_state(text.encode(), workflow_id)
        except DataCorruptedError as exc:
            problem = str(exc).partition(" is corrupted: ")[2] or str(exc)
            raise ValueError(f"not an awf state file of {workflow_id!r}: {problem}") from None
    from google.protobuf import json_format  # noqa: PLC0415

    from wfstore import wire  # noqa: PLC0415
    from wfstore.v1 import state_pb2  # noqa: PLC0415

    try:
        message = json_format.Parse(text, state_pb2.ExecutionContext())
    except json_format.ParseError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None
    state = wire.context_from_proto(message)
    if state.workflow_id and state.workflow_id != workflow_id:
        msg = f"the document is the state of {state.workflow_id!r}, not of {workflow_id!r}"
        raise ValueError(msg)
    state.workflow_id = workflow_id
    return state


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
