"""Conversion between the domain types and the wfstore.v1 protobuf messages: its one home.

Decoding validates what only the wire can get wrong (timestamps out of range, unknown enum
numbers) and raises :class:`~wfstore.errors.InvalidArgumentError`; the domain checks in
:mod:`wfstore.validation` do the rest.

Part of the kernel that the client and the daemon share: public and stable within the
``wfstore`` distribution.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from wfstore.domain import (
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    HistoryStatsGroup,
    LoopContext,
    ServerInfo,
    StateEvent,
    StatsBreakdown,
    StepState,
    StoreInfo,
    Turn,
)
from wfstore.errors import InvalidArgumentError
from wfstore.timestamps import NANOS_PER_SECOND, from_unix_nanos, to_unix_nanos
from wfstore.v1 import daemon_pb2, history_pb2, state_pb2
from wfstore.validation import MAX_SAFE_INTEGER

__all__ = [
    "context_from_proto",
    "context_to_proto",
    "duration_from_proto",
    "duration_to_proto",
    "event_from_proto",
    "event_to_proto",
    "filter_from_proto",
    "filter_to_proto",
    "grouping_from_proto",
    "grouping_to_proto",
    "record_from_proto",
    "record_to_proto",
    "server_info_from_proto",
    "server_info_to_proto",
    "stats_from_proto",
    "stats_reply_from_proto",
    "stats_reply_to_proto",
    "stats_to_proto",
]

_MAX_DURATION_SECONDS = 315_576_000_000  # duration.proto: about 10000 years
_MAX_DURATION = timedelta(seconds=_MAX_DURATION_SECONDS)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_STATUS_TO_PROTO = {
    ExecutionStatus.UNSPECIFIED: state_pb2.EXECUTION_STATUS_UNSPECIFIED,
    ExecutionStatus.PENDING: state_pb2.EXECUTION_STATUS_PENDING,
    ExecutionStatus.RUNNING: state_pb2.EXECUTION_STATUS_RUNNING,
    ExecutionStatus.COMPLETED: state_pb2.EXECUTION_STATUS_COMPLETED,
    ExecutionStatus.FAILED: state_pb2.EXECUTION_STATUS_FAILED,
    ExecutionStatus.CANCELLED: state_pb2.EXECUTION_STATUS_CANCELLED,
}
_STATUS_FROM_PROTO = {number: status for status, number in _STATUS_TO_PROTO.items()}


# --- scalars -------------------------------------------------------------------------------


def _set_time(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    if type(value) is datetime:  # no nanoseconds below the microseconds: one subtraction
        delta = value - _EPOCH
        target.seconds = delta.days * 86_400 + delta.seconds
        target.nanos = delta.microseconds * 1000
        return
    target.seconds, target.nanos = divmod(to_unix_nanos(value), NANOS_PER_SECOND)


def _status_number(status: str) -> state_pb2.ExecutionStatus.ValueType:
    if type(status) is ExecutionStatus or type(status) is str:
        number = _STATUS_TO_PROTO.get(status)  # type: ignore[call-overload]
        if number is not None:
            return number  # type: ignore[no-any-return]
    return _STATUS_TO_PROTO[ExecutionStatus(status)]


def _time(message: Any, name: str) -> datetime | None:  # noqa: ANN401 (any message)
    if not message.HasField(name):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, name)
    if not 0 <= stamp.nanos < NANOS_PER_SECOND:
        raise InvalidArgumentError(f"{name}: nanos {stamp.nanos} is outside 0..999999999")
    try:
        return from_unix_nanos(stamp.seconds * NANOS_PER_SECOND + stamp.nanos)
    except OverflowError:
        raise InvalidArgumentError(f"{name}: {stamp.seconds}s is outside years 1-9999") from None


def _status(number: int, path: str) -> ExecutionStatus:
    try:
        return _STATUS_FROM_PROTO[number]  # type: ignore[index]
    except KeyError:
        raise InvalidArgumentError(f"{path}: unknown ExecutionStatus number {number}") from None


def _step_status(number: int, key: str) -> ExecutionStatus:
    status = _STATUS_FROM_PROTO.get(number)  # type: ignore[call-overload]
    return _status(number, f"states[{key!r}].status") if status is None else status


def duration_to_proto(value: timedelta) -> duration_pb2.Duration:
    """Return ``value`` as a protobuf Duration, saturated at the ±10000 years it can hold.

    A cleanup with an ``older_than`` that long, either way, deletes nothing, so saturating
    keeps the result of every call while the daemon can refuse invalid Durations.
    """
    message = duration_pb2.Duration()
    message.FromTimedelta(max(-_MAX_DURATION, min(value, _MAX_DURATION)))
    return message


def duration_from_proto(message: duration_pb2.Duration) -> timedelta:
    """Return a protobuf Duration as a ``timedelta``, rounding down to whole microseconds.

    Rounding down keeps the sign of a duration shorter than a microsecond. Raises
    :class:`~wfstore.errors.InvalidArgumentError` for what duration.proto calls invalid:
    seconds beyond ±10000 years, nanos beyond ±999999999, or nanos of the other sign.
    """
    seconds, nanos = message.seconds, message.nanos
    if not -_MAX_DURATION_SECONDS <= seconds <= _MAX_DURATION_SECONDS:
        raise InvalidArgumentError(
            f"older_than: {seconds}s is beyond ±{_MAX_DURATION_SECONDS}s (10000 years)"
        )
    if not -NANOS_PER_SECOND < nanos < NANOS_PER_SECOND or seconds * nanos < 0:
        raise InvalidArgumentError(
            f"older_than: nanos {nanos} must be within ±999999999 and of the sign of seconds "
            f"({seconds})"
        )
    return timedelta(seconds=seconds, microseconds=nanos // 1000)


# --- JSON values ---------------------------------------------------------------------------


def _set_value(target: struct_pb2.Value, value: Any) -> None:  # noqa: ANN401 (any JSON value)
    kind = type(value)  # the exact JSON types first, the commonest first
    if kind is str:
        target.string_value = value
    elif kind is dict:
        _set_struct(target.struct_value, value)
    elif kind is int or kind is float:
        target.number_value = value
    elif kind is bool:
        target.bool_value = value
    elif kind is list:
        target.list_value.SetInParent()  # an empty list is still a list, not null
        items = target.list_value.values
        for item in value:
            _set_value(items.add(), item)
    else:
        _set_other_value(target, value)


def _set_other_value(target: struct_pb2.Value, value: Any) -> None:  # noqa: ANN401
    """Set a null, or a value of a subclass of a JSON type (or any iterable: a list)."""
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int | float):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        _set_struct(target.struct_value, value)
    else:
        target.list_value.SetInParent()  # an empty list is still a list, not null
        items = target.list_value.values
        for item in value:
            _set_value(items.add(), item)


def _set_struct(target: struct_pb2.Struct, value: dict[str, Any]) -> None:
    target.SetInParent()  # an empty object is still an object, not null
    fields = target.fields
    for key, item in value.items():
        if type(item) is str:  # the commonest member, without a call
            fields[key].string_value = item
        else:
            _set_value(fields[key], item)


def _value(message: struct_pb2.Value) -> Any:  # noqa: ANN401, PLR0911 (any JSON value, by kind)
    kind = message.WhichOneof("kind")  # the likeliest kinds first
    if kind == "string_value":
        return message.string_value
    if kind == "number_value":
        number = message.number_value  # normalize_json's rule for a float, inline
        if number.is_integer() and -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
            return int(number)
        return number
    if kind == "bool_value":
        return message.bool_value
    if kind == "struct_value":
        return _struct(message.struct_value)
    if kind == "list_value":
        return [_value(item) for item in message.list_value.values]
    return None


def _struct(message: struct_pb2.Struct) -> dict[str, Any]:
    fields = message.fields  # indexing by key: the map's items() is iterated in Python
    return {key: _value(fields[key]) for key in fields}


def _optional_struct(message: Any, name: str) -> dict[str, Any] | None:  # noqa: ANN401
    return _struct(getattr(message, name)) if message.HasField(name) else None


# --- execution state -----------------------------------------------------------------------


def context_to_proto(state: ExecutionContext) -> state_pb2.ExecutionContext:
    """Return the wire form of a (validated) execution state."""
    message = state_pb2.ExecutionContext(
        workflow_id=state.workflow_id,
        workflow_name=state.workflow_name,
        parent_run_id=state.parent_run_id,
        status=_status_number(state.status),
        current_step=state.current_step,
        exit_code=state.exit_code,
        env=state.env,
        call_stack=state.call_stack,
    )
    _set_struct(message.inputs, state.inputs)
    for key, step in state.states.items():
        _step_to_proto(message.states[key], step)
    for name in ("started_at", "updated_at", "completed_at"):
        value = getattr(state, name)
        if value is not None:
            _set_time(getattr(message, name), value)
    if state.current_loop is not None:
        _loop_to_proto(message.current_loop, state.current_loop)
    return message


def _step_to_proto(target: state_pb2.StepState, step: StepState) -> None:
    target.name = step.name
    target.status = _status_number(step.status)
    target.output = step.output
    target.stderr = step.stderr
    target.exit_code = step.exit_code
    target.attempt = step.attempt
    target.error = step.error
    target.tokens_used = step.tokens_used
    target.tokens_input = step.tokens_input
    target.tokens_output = step.tokens_output
    target.tokens_estimated = step.tokens_estimated
    target.output_path = step.output_path
    target.stderr_path = step.stderr_path
    target.truncated = step.truncated
    if step.started_at is not None:
        _set_time(target.started_at, step.started_at)
    if step.completed_at is not None:
        _set_time(target.completed_at, step.completed_at)
    if step.response is not None:
        _set_struct(target.response, step.response)
    if step.json is not None:
        _set_value(target.json, step.json)
    if step.data is not None:
        _set_struct(target.data, step.data)
    if step.conversation is not None:
        conversation = step.conversation
        target.conversation.session_id = conversation.session_id
        target.conversation.total_turns = conversation.total_turns
        target.conversation.total_tokens = conversation.total_tokens
        target.conversation.stopped_by = conversation.stopped_by
        for turn in conversation.turns:
            target.conversation.turns.add(role=turn.role, content=turn.content, tokens=turn.tokens)


def _loop_to_proto(target: state_pb2.LoopContext, loop: LoopContext) -> None:
    if loop.item is not None:
        _set_value(target.item, loop.item)
    target.index = loop.index
    target.first = loop.first
    target.last = loop.last
    target.length = loop.length
    if loop.parent is not None:
        _loop_to_proto(target.parent, loop.parent)


def context_from_proto(message: state_pb2.ExecutionContext) -> ExecutionContext:
    """Return the domain form of a wire execution state."""
    return ExecutionContext(
        workflow_id=message.workflow_id,
        workflow_name=message.workflow_name,
        parent_run_id=message.parent_run_id,
        status=_status(message.status, "status"),
        current_step=message.current_step,
        exit_code=message.exit_code,
        inputs=_struct(message.inputs),
        states=_steps_from_proto(message.states),
        env=dict(message.env),
        started_at=_time(message, "started_at"),
        updated_at=_time(message, "updated_at"),
        completed_at=_time(message, "completed_at"),
        current_loop=_loop_from_proto(message.current_loop)
        if message.HasField("current_loop")
        else None,
        call_stack=list(message.call_stack),
    )


def _steps_from_proto(states: Any) -> dict[str, StepState]:  # noqa: ANN401 (a message map)
    # Indexing by key: the map's items() is iterated in Python.
    return {key: _step_from_proto(states[key], key) for key in states}


def _step_from_proto(message: state_pb2.StepState, key: str) -> StepState:
    conversation = None
    if message.HasField("conversation"):
        wire = message.conversation
        conversation = ConversationState(
            session_id=wire.session_id,
            turns=[Turn(role=t.role, content=t.content, tokens=t.tokens) for t in wire.turns],
            total_turns=wire.total_turns,
            total_tokens=wire.total_tokens,
            stopped_by=wire.stopped_by,
        )
    return StepState(
        name=message.name,
        status=_step_status(message.status, key),
        output=message.output,
        stderr=message.stderr,
        exit_code=message.exit_code,
        attempt=message.attempt,
        error=message.error,
        started_at=_time(message, "started_at"),
        completed_at=_time(message, "completed_at"),
        response=_optional_struct(message, "response"),
        json=_value(message.json) if message.HasField("json") else None,
        conversation=conversation,
        tokens_used=message.tokens_used,
        tokens_input=message.tokens_input,
        tokens_output=message.tokens_output,
        tokens_estimated=message.tokens_estimated,
        output_path=message.output_path,
        stderr_path=message.stderr_path,
        truncated=message.truncated,
        data=_optional_struct(message, "data"),
    )


def _loop_from_proto(message: state_pb2.LoopContext) -> LoopContext:
    return LoopContext(
        item=_value(message.item) if message.HasField("item") else None,
        index=message.index,
        first=message.first,
        last=message.last,
        length=message.length,
        parent=_loop_from_proto(message.parent) if message.HasField("parent") else None,
    )


# --- history -------------------------------------------------------------------------------


def record_to_proto(record: ExecutionRecord) -> history_pb2.ExecutionRecord:
    """Return the wire form of a (validated) history record."""
    message = history_pb2.ExecutionRecord(
        id=record.id,
        workflow_id=record.workflow_id,
        workflow_name=record.workflow_name,
        status=record.status,
        exit_code=record.exit_code,
        duration_ms=record.duration_ms,
        error_message=record.error_message,
    )
    if record.started_at is not None:
        _set_time(message.started_at, record.started_at)
    if record.completed_at is not None:
        _set_time(message.completed_at, record.completed_at)
    return message


def record_from_proto(message: history_pb2.ExecutionRecord) -> ExecutionRecord:
    """Return the domain form of a wire history record."""
    return ExecutionRecord(
        id=message.id,
        workflow_id=message.workflow_id,
        workflow_name=message.workflow_name,
        status=message.status,
        exit_code=message.exit_code,
        started_at=_time(message, "started_at"),
        completed_at=_time(message, "completed_at"),
        duration_ms=message.duration_ms,
        error_message=message.error_message,
    )


def filter_to_proto(history_filter: HistoryFilter) -> history_pb2.HistoryFilter:
    """Return the wire form of a (validated) history filter."""
    message = history_pb2.HistoryFilter(
        workflow_name=history_filter.workflow_name,
        status=history_filter.status,
        limit=history_filter.limit,
    )
    if history_filter.since is not None:
        _set_time(message.since, history_filter.since)
    if history_filter.until is not None:
        _set_time(message.until, history_filter.until)
    return message


def filter_from_proto(message: history_pb2.HistoryFilter) -> HistoryFilter:
    """Return the domain form of a wire history filter."""
    return HistoryFilter(
        workflow_name=message.workflow_name,
        status=message.status,
        since=_time(message, "since"),
        until=_time(message, "until"),
        limit=message.limit,
    )


def stats_to_proto(stats: HistoryStats) -> history_pb2.HistoryStats:
    """Return the wire form of history statistics."""
    return history_pb2.HistoryStats(
        total_executions=stats.total_executions,
        success_count=stats.success_count,
        failed_count=stats.failed_count,
        cancelled_count=stats.cancelled_count,
        avg_duration_ms=stats.avg_duration_ms,
        min_duration_ms=stats.min_duration_ms,
        max_duration_ms=stats.max_duration_ms,
        p50_duration_ms=stats.p50_duration_ms,
        p95_duration_ms=stats.p95_duration_ms,
        p99_duration_ms=stats.p99_duration_ms,
        status_counts=dict(stats.status_counts),
    )


def stats_from_proto(message: history_pb2.HistoryStats) -> HistoryStats:
    """Return the domain form of wire history statistics."""
    return HistoryStats(
        total_executions=message.total_executions,
        success_count=message.success_count,
        failed_count=message.failed_count,
        cancelled_count=message.cancelled_count,
        avg_duration_ms=message.avg_duration_ms,
        min_duration_ms=message.min_duration_ms,
        max_duration_ms=message.max_duration_ms,
        p50_duration_ms=message.p50_duration_ms,
        p95_duration_ms=message.p95_duration_ms,
        p99_duration_ms=message.p99_duration_ms,
        status_counts=dict(message.status_counts),
    )


_GROUPING_TO_PROTO: Final = {
    None: history_pb2.HISTORY_GROUPING_UNSPECIFIED,
    HistoryGrouping.WORKFLOW_NAME: history_pb2.HISTORY_GROUPING_WORKFLOW_NAME,
}
_GROUPING_FROM_PROTO: Final[dict[int, HistoryGrouping | None]] = {
    number: grouping for grouping, number in _GROUPING_TO_PROTO.items()
}


def grouping_to_proto(group_by: HistoryGrouping | None) -> history_pb2.HistoryGrouping.ValueType:
    """Return the wire number of a grouping; ``None`` (no breakdown) is UNSPECIFIED."""
    return _GROUPING_TO_PROTO[group_by]


def grouping_from_proto(number: int) -> HistoryGrouping | None:
    """Return the grouping a wire number names (``None`` for UNSPECIFIED), or reject it."""
    try:
        return _GROUPING_FROM_PROTO[number]
    except KeyError:
        known = ", ".join(
            f"{name} ({number})" for name, number in history_pb2.HistoryGrouping.items()
        )
        raise InvalidArgumentError(f"unknown group_by {number}; known values: {known}") from None


def stats_reply_to_proto(breakdown: StatsBreakdown) -> history_pb2.HistoryServiceGetStatsResponse:
    """Return the GetStats reply carrying a breakdown (its groups in their order)."""
    return history_pb2.HistoryServiceGetStatsResponse(
        stats=stats_to_proto(breakdown.total),
        groups=[
            history_pb2.HistoryStatsGroup(key=group.key, stats=stats_to_proto(group.stats))
            for group in breakdown.groups
        ],
    )


def stats_reply_from_proto(reply: history_pb2.HistoryServiceGetStatsResponse) -> StatsBreakdown:
    """Return the breakdown a GetStats reply carries."""
    return StatsBreakdown(
        total=stats_from_proto(reply.stats),
        groups=[
            HistoryStatsGroup(key=group.key, stats=stats_from_proto(group.stats))
            for group in reply.groups
        ],
    )


_KIND_TO_PROTO: Final = {
    "saved": state_pb2.STATE_EVENT_KIND_SAVED,
    "deleted": state_pb2.STATE_EVENT_KIND_DELETED,
}
_KIND_FROM_PROTO: Final[dict[int, Literal["saved", "deleted"]]] = {
    state_pb2.STATE_EVENT_KIND_SAVED: "saved",
    state_pb2.STATE_EVENT_KIND_DELETED: "deleted",
}


def event_to_proto(
    event: StateEvent, state: state_pb2.ExecutionContext | None = None
) -> state_pb2.StateEvent:
    """Return the message of a watch event; ``state``: its state, already a message."""
    message = state_pb2.StateEvent(
        kind=_KIND_TO_PROTO[event.kind],
        workflow_id=event.workflow_id,
        version=event.version,
        resume_token=event.resume_token,
    )
    if state is not None:
        message.state.CopyFrom(state)
    elif event.state is not None:
        message.state.CopyFrom(context_to_proto(event.state))
    return message


def event_from_proto(message: state_pb2.StateEvent) -> StateEvent:
    """Return the watch event a message holds; InvalidArgumentError for an unknown kind."""
    kind = _KIND_FROM_PROTO.get(message.kind)
    if kind is None:
        raise InvalidArgumentError(f"watch event of unknown kind {message.kind}")
    return StateEvent(
        kind=kind,
        workflow_id=message.workflow_id,
        version=message.version,
        state=context_from_proto(message.state) if message.HasField("state") else None,
        resume_token=message.resume_token,
    )


# --- the daemon ----------------------------------------------------------------------------


def _store_info_to_proto(info: StoreInfo) -> daemon_pb2.StoreInfo:
    return daemon_pb2.StoreInfo(
        role=info.role,
        backend=info.backend,
        location=info.location,
        item_count=info.item_count,
        size_bytes=info.size_bytes,
        error=info.error,
    )


def _store_info_from_proto(message: daemon_pb2.StoreInfo) -> StoreInfo:
    return StoreInfo(
        role=message.role,
        backend=message.backend,
        location=message.location,
        item_count=message.item_count if message.HasField("item_count") else None,
        size_bytes=message.size_bytes if message.HasField("size_bytes") else None,
        error=message.error,
    )


def server_info_to_proto(info: ServerInfo) -> daemon_pb2.DaemonServiceGetServerInfoResponse:
    """Return the wire form of a daemon's description."""
    message = daemon_pb2.DaemonServiceGetServerInfoResponse(
        version=info.version,
        listeners=info.listeners,
        stores=[_store_info_to_proto(store) for store in info.stores],
        hostname=info.hostname,
        pid=info.pid,
        open_watches=info.open_watches,
    )
    _set_time(message.started_at, info.started_at)
    message.uptime.FromTimedelta(info.uptime)
    return message


def server_info_from_proto(message: daemon_pb2.DaemonServiceGetServerInfoResponse) -> ServerInfo:
    """Return the domain form of a daemon's description."""
    started_at = _time(message, "started_at")
    if started_at is None:
        raise InvalidArgumentError("started_at: missing from the daemon's description")
    return ServerInfo(
        version=message.version,
        started_at=started_at,
        uptime=message.uptime.ToTimedelta(),
        listeners=list(message.listeners),
        stores=[_store_info_from_proto(store) for store in message.stores],
        hostname=message.hostname,
        pid=message.pid,
        open_watches=message.open_watches,
    )
