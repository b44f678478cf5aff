"""Validation of everything a caller hands to a store, shared by every implementation.

The embedded adapters, the daemon and the client call the same checks, so the same input is
rejected everywhere with the same :class:`~wfstore.errors.InvalidArgumentError` message. Part
of the kernel that the client and the daemon share: public and stable within the ``wfstore``
distribution (the id rules live in :mod:`wfstore.ids` and are re-exported here).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from wfstore.domain import (
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    HistoryFilter,
    HistoryGrouping,
    LoopContext,
    StepState,
    Turn,
)
from wfstore.errors import InvalidArgumentError
from wfstore.ids import MAX_ID_BYTES, check_record_id, check_workflow_id, utf8_bytes
from wfstore.timestamps import Timestamp, to_unix_nanos

__all__ = [
    "INT32_RANGE",
    "INT64_RANGE",
    "MAX_BATCH_RECORDS",
    "MAX_ID_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LOOP_DEPTH",
    "MAX_SAFE_INTEGER",
    "NestedValueError",
    "check_context",
    "check_datetime",
    "check_duration",
    "check_expected_version",
    "check_filter",
    "check_grouping",
    "check_json",
    "check_page_size",
    "check_record",
    "check_record_id",
    "check_records",
    "check_watch_selector",
    "check_workflow_id",
    "filter_or_default",
    "normalize_json",
]

MAX_JSON_DEPTH = 20
"""Deepest nesting of JSON objects and arrays, so every protobuf decoder accepts the message."""
MAX_LOOP_DEPTH = 16
"""Deepest nesting of loop contexts."""
MAX_BATCH_RECORDS = 10_000
"""Most records one ``record_batch`` call may carry."""
MAX_SAFE_INTEGER = 2**53
"""Largest integer magnitude a JSON number (an IEEE-754 double) holds exactly."""

INT32_RANGE = (-(2**31), 2**31 - 1)
"""The values a protobuf ``int32`` (and a Go ``int`` field awf writes as one) holds."""
INT64_RANGE = (-(2**63), 2**63 - 1)
"""The values a protobuf ``int64`` holds."""
_ZERO_TIME_NANOS = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC))
_MAX_NANOS = to_unix_nanos(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) + 999


def check_datetime(path: str, value: object, *, optional: bool = True) -> None:
    """Reject a value that is not a timezone-aware datetime in years 1-9999 (UTC)."""
    if value is None:
        if optional:
            return
        raise InvalidArgumentError(f"{path}: a datetime is required")
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{path}: expected a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{path}: naive datetime {value.isoformat()}; give it a timezone (e.g. UTC)"
        )
    nanos = to_unix_nanos(value)
    if nanos <= _ZERO_TIME_NANOS or nanos > _MAX_NANOS:
        raise InvalidArgumentError(
            f"{path}: {value.isoformat()} is outside 0001-01-01T00:00:00Z (exclusive, it means "
            "'not set') to 9999-12-31T23:59:59.999999999Z"
        )


def check_page_size(page_size: object) -> None:
    """Reject a page size that is not a non-negative int."""
    _check_int("page_size", page_size, (0, INT32_RANGE[1]))


def check_expected_version(expected_version: object) -> None:
    """Reject an ``expected_version`` that is neither None nor an int in 0..2**63-1."""
    if expected_version is not None:
        _check_int("expected_version", expected_version, (0, INT64_RANGE[1]))


def check_watch_selector(prefix: object, workflow_id: object, resume_token: object) -> None:
    """Reject a watch's prefix, id or token that is not text, or a prefix beside an id."""
    _check_str("prefix", prefix)
    assert isinstance(prefix, str)  # noqa: S101 (narrowing for the type checker)
    if len(utf8_bytes("prefix", prefix)) > MAX_ID_BYTES:
        raise InvalidArgumentError(f"invalid prefix: longer than {MAX_ID_BYTES} UTF-8 bytes")
    if workflow_id is not None:
        check_workflow_id(workflow_id)
        if prefix:
            raise InvalidArgumentError("watch either a prefix or one workflow id, not both")
    if resume_token is not None:
        _check_str("resume_token", resume_token)


def _check_int(path: str, value: object, bounds: tuple[int, int]) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError(f"{path}: expected an int, got {type(value).__name__}")
    low, high = bounds
    if not low <= value <= high:
        raise InvalidArgumentError(f"{path}: {value} is outside {low}..{high}")


def _check_bool(path: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{path}: expected a bool, got {type(value).__name__}")


def _check_str(path: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{path}: expected a str, got {type(value).__name__}")
    if not value.isascii():
        utf8_bytes(path, value)


def _check_status(path: str, value: object) -> None:
    if not isinstance(value, ExecutionStatus):
        try:
            ExecutionStatus(value)  # type: ignore[arg-type]
        except ValueError:
            allowed = ", ".join(repr(s.value) for s in ExecutionStatus)
            raise InvalidArgumentError(f"{path}: {value!r} is not one of {allowed}") from None


class NestedValueError(Exception):
    """A problem found inside a nested value; the path to it is collected as the error unwinds.

    Building every element's path on the way down would cost more than the check itself, so
    the checker raises this without a path and each container that passes it on adds its own
    step (``[3]``, ``['key']``, ``.Key``) with :meth:`within`.
    """

    def __init__(self, problem: str, step: str = "") -> None:
        """Report ``problem``, found at ``step`` below the place that raises it."""
        super().__init__(problem)
        self.problem = problem
        self.steps = [step] if step else []

    def within(self, step: str) -> None:
        """Record that the problem lies under ``step``."""
        self.steps.append(step)

    def path(self) -> str:
        """Return the steps from the outermost container down to the problem."""
        return "".join(reversed(self.steps))


def check_json(path: str, value: object, depth: int = 0) -> None:
    """Reject anything that is not a JSON value that survives every wire and file format."""
    try:
        _check_json_value(value, depth)
    except NestedValueError as exc:
        where = path + exc.path()
        raise InvalidArgumentError(f"{where}: {exc.problem}") from None


def _check_json_value(value: object, depth: int) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if not value.isascii():
            _check_json_text(value, "")
    elif isinstance(value, int | float):
        _check_json_number(value)
    elif isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            raise NestedValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, list):
            _check_json_items(value, depth + 1)
        else:
            _check_json_members(value, depth + 1)
    else:
        raise NestedValueError(f"{type(value).__name__} is not a JSON value")


def _check_json_number(value: float) -> None:
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NestedValueError(
                f"{value} is beyond ±2^53, which a JSON number cannot hold exactly"
            )
    elif not math.isfinite(value):
        raise NestedValueError(f"{value} is not a JSON number")


def _check_json_items(items: list[Any], depth: int) -> None:
    for index, item in enumerate(items):
        try:
            _check_json_value(item, depth)
        except NestedValueError as exc:
            exc.within(f"[{index}]")
            raise


def _check_json_members(members: dict[Any, Any], depth: int) -> None:
    for key, item in members.items():
        if not isinstance(key, str):
            raise NestedValueError(f"key {key!r} is not a str")
        if not key.isascii():
            _check_json_text(key, f" key {key!r}")
        try:
            _check_json_value(item, depth)
        except NestedValueError as exc:
            exc.within(f"[{key!r}]")
            raise


def _check_json_text(text: str, step: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise NestedValueError(f"not valid Unicode text ({exc.reason})", step) from None


def _check_json_dict(path: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{path}: expected a dict, got {type(value).__name__}")
    check_json(path, value)


def normalize_json(value: Any) -> Any:  # noqa: ANN401 (any JSON value)
    """Return ``value`` with numbers in their canonical Python type.

    JSON numbers are doubles. A whole number within ±2^53 becomes an ``int``; any other number
    becomes a ``float``. Every reader (files and wire) applies this, so all stores return the
    same values for the same saved state.
    """
    kind = type(value)  # the exact JSON types first; strings, the commonest, need no call
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {
            key: item if type(item) is str else normalize_json(item) for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) is str else normalize_json(item) for item in value]
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(value)
    return _normalize_other(value)


def _normalize_other(value: Any) -> Any:  # noqa: ANN401 (any JSON value)
    """Return :func:`normalize_json` of a float, or of a subclass of a JSON type."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        whole = isinstance(value, int) or value.is_integer()
        return int(value) if whole and abs(value) <= MAX_SAFE_INTEGER else float(value)
    if isinstance(value, list):
        return [normalize_json(item) for item in value]
    if isinstance(value, dict):
        return {key: normalize_json(item) for key, item in value.items()}
    return value


def check_context(state: object) -> None:
    """Reject an execution state that any store could not save and return unchanged."""
    if not _context_passes(state):
        _check_context_in_full(state)


def _check_context_in_full(state: object) -> None:
    """Check ``state`` field by field, raising for the first problem with its path."""
    if not isinstance(state, ExecutionContext):
        raise InvalidArgumentError(f"expected an ExecutionContext, got {type(state).__name__}")
    check_workflow_id(state.workflow_id)
    for name in ("workflow_name", "parent_run_id", "current_step"):
        _check_str(name, getattr(state, name))
    _check_status("status", state.status)
    _check_int("exit_code", state.exit_code, INT32_RANGE)
    _check_json_dict("inputs", state.inputs, optional=False)
    if not isinstance(state.states, dict):
        raise InvalidArgumentError(f"states: expected a dict, got {type(state.states).__name__}")
    for key, step in state.states.items():
        _check_str("states key", key)
        _check_step(f"states[{key!r}]", step)
    if not isinstance(state.env, dict):
        raise InvalidArgumentError(f"env: expected a dict, got {type(state.env).__name__}")
    for key, item in state.env.items():
        _check_str("env key", key)
        _check_str(f"env[{key!r}]", item)
    for name in ("started_at", "updated_at", "completed_at"):
        check_datetime(name, getattr(state, name))
    _check_loop("current_loop", state.current_loop, 0)
    if not isinstance(state.call_stack, list):
        raise InvalidArgumentError("call_stack: expected a list of str")
    for index, item in enumerate(state.call_stack):
        _check_str(f"call_stack[{index}]", item)


def _check_step(path: str, step: object) -> None:
    if not isinstance(step, StepState):
        raise InvalidArgumentError(f"{path}: expected a StepState, got {type(step).__name__}")
    for name in ("name", "output", "stderr", "error", "output_path", "stderr_path"):
        _check_str(f"{path}.{name}", getattr(step, name))
    _check_status(f"{path}.status", step.status)
    _check_int(f"{path}.exit_code", step.exit_code, INT32_RANGE)
    _check_int(f"{path}.attempt", step.attempt, INT32_RANGE)
    for name in ("tokens_used", "tokens_input", "tokens_output"):
        _check_int(f"{path}.{name}", getattr(step, name), INT64_RANGE)
    for name in ("tokens_estimated", "truncated"):
        _check_bool(f"{path}.{name}", getattr(step, name))
    check_datetime(f"{path}.started_at", step.started_at)
    check_datetime(f"{path}.completed_at", step.completed_at)
    _check_json_dict(f"{path}.response", step.response, optional=True)
    _check_json_dict(f"{path}.data", step.data, optional=True)
    check_json(f"{path}.json", step.json)
    if step.conversation is not None:
        _check_conversation(f"{path}.conversation", step.conversation)


def _check_conversation(path: str, conversation: object) -> None:
    if not isinstance(conversation, ConversationState):
        raise InvalidArgumentError(f"{path}: expected a ConversationState")
    _check_str(f"{path}.session_id", conversation.session_id)
    _check_str(f"{path}.stopped_by", conversation.stopped_by)
    _check_int(f"{path}.total_turns", conversation.total_turns, INT32_RANGE)
    _check_int(f"{path}.total_tokens", conversation.total_tokens, INT64_RANGE)
    if not isinstance(conversation.turns, list):
        raise InvalidArgumentError(f"{path}.turns: expected a list of Turn")
    for index, turn in enumerate(conversation.turns):
        _check_str(f"{path}.turns[{index}].role", getattr(turn, "role", None))
        _check_str(f"{path}.turns[{index}].content", getattr(turn, "content", None))
        _check_int(f"{path}.turns[{index}].tokens", getattr(turn, "tokens", None), INT64_RANGE)


def _check_loop(path: str, loop: object, depth: int) -> None:
    if loop is None:
        return
    if not isinstance(loop, LoopContext):
        raise InvalidArgumentError(f"{path}: expected a LoopContext, got {type(loop).__name__}")
    if depth >= MAX_LOOP_DEPTH:
        raise InvalidArgumentError(f"{path}: loops nest deeper than {MAX_LOOP_DEPTH} levels")
    check_json(f"{path}.item", loop.item)
    _check_int(f"{path}.index", loop.index, INT32_RANGE)
    _check_int(f"{path}.length", loop.length, INT32_RANGE)
    _check_bool(f"{path}.first", loop.first)
    _check_bool(f"{path}.last", loop.last)
    _check_loop(f"{path}.parent", loop.parent, depth + 1)


# --- The fast path ---------------------------------------------------------------------------
#
# Most states are valid and made of exactly the expected types, so check_context first runs a
# check that builds no paths, dispatches on exact types and answers only "certainly valid" or
# "maybe not". On "maybe not" (a problem, a subclass, a time zone other than a fixed offset)
# the full check runs, and it alone decides and words the error. The fast path may therefore
# refuse valid values, but must never pass one the full check rejects; it never raises.

_ASCII_WORKFLOW_ID: Final = re.compile(rf"[\x20-\x2e\x30-\x5b\x5d-\x7e]{{1,{MAX_ID_BYTES}}}")
_STATUS_TEXTS: Final = frozenset(status.value for status in ExecutionStatus)
_INT32_LOW, _INT32_HIGH = INT32_RANGE
_INT64_LOW, _INT64_HIGH = INT64_RANGE


def _encodes(text: str) -> bool:
    """Tell whether ``text`` (not ASCII) is valid Unicode: no lone surrogates."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _is_text(value: object) -> bool:
    return type(value) is str and (value.isascii() or _encodes(value))


def _is_status(value: object) -> bool:
    kind = type(value)
    return kind is ExecutionStatus or (kind is str and value in _STATUS_TEXTS)


def _is_int32(value: object) -> bool:
    return type(value) is int and _INT32_LOW <= value <= _INT32_HIGH


def _is_int64(value: object) -> bool:
    return type(value) is int and _INT64_LOW <= value <= _INT64_HIGH


def _is_time(value: object) -> bool:
    """Tell whether ``value`` is None or passes :func:`check_datetime` (fixed-offset zones)."""
    if value is None:
        return True
    if type(value) is not datetime and type(value) is not Timestamp:
        return False
    assert isinstance(value, datetime)  # noqa: S101 (narrowing for the type checker)
    zone = value.tzinfo
    if zone is UTC and value.year > 1:
        return True  # a UTC datetime cannot pass 9999-12-31T23:59:59.999999999Z
    if type(zone) is not timezone:  # no zone, or one whose offset could raise
        return False
    return _ZERO_TIME_NANOS < to_unix_nanos(value) <= _MAX_NANOS


def _is_json(value: object, depth: int) -> bool:  # noqa: PLR0911 (one answer per JSON type)
    """Tell whether :func:`check_json` passes ``value`` found at ``depth``."""
    if type(value) is str:
        return value.isascii() or _encodes(value)
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if type(value) is bool or value is None:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is dict:
        return depth < MAX_JSON_DEPTH and _is_json_object(value, depth + 1)
    if type(value) is list:
        return depth < MAX_JSON_DEPTH and all(_is_json(item, depth + 1) for item in value)
    return False


def _is_json_object(members: dict[Any, Any], depth: int) -> bool:
    for key, item in members.items():
        if type(key) is not str or not (key.isascii() or _encodes(key)):
            return False
        kind = type(item)
        if kind is str:
            if not item.isascii() and not _encodes(item):
                return False
        elif kind is not bool and item is not None and not _is_json(item, depth):
            return False
    return True


def _is_json_dict(value: object, *, optional: bool) -> bool:
    if value is None:
        return optional
    return type(value) is dict and _is_json_object(value, 1)


def _context_passes(state: object) -> bool:
    """Tell whether ``state`` certainly passes the full check (False: maybe not)."""
    if type(state) is not ExecutionContext:
        return False
    assert isinstance(state, ExecutionContext)  # noqa: S101 (narrowing for the type checker)
    workflow_id = state.workflow_id
    if (
        type(workflow_id) is not str
        or not _ASCII_WORKFLOW_ID.fullmatch(workflow_id)
        or workflow_id in {".", ".."}
    ):
        return False
    states, env, call_stack = state.states, state.env, state.call_stack
    if not (
        _is_text(state.workflow_name)
        and _is_text(state.parent_run_id)
        and _is_text(state.current_step)
        and _is_status(state.status)
        and _is_int32(state.exit_code)
        and _is_json_dict(state.inputs, optional=False)
        and type(states) is dict
        and type(env) is dict
        and _is_time(state.started_at)
        and _is_time(state.updated_at)
        and _is_time(state.completed_at)
        and _loop_passes(state.current_loop, 0)
        and type(call_stack) is list
    ):
        return False
    for key, step in states.items():
        if not _is_text(key) or not _step_passes(step):
            return False
    for key, item in env.items():
        if not _is_text(key) or not _is_text(item):
            return False
    return all(_is_text(item) for item in call_stack)


def _step_passes(step: object) -> bool:
    if type(step) is not StepState:
        return False
    assert isinstance(step, StepState)  # noqa: S101 (narrowing for the type checker)
    for text in (step.name, step.output, step.stderr, step.error, step.output_path):
        if type(text) is not str or not (text.isascii() or _encodes(text)):
            return False
    return (
        _is_text(step.stderr_path)
        and _is_status(step.status)
        and _is_int32(step.exit_code)
        and _is_int32(step.attempt)
        and _is_int64(step.tokens_used)
        and _is_int64(step.tokens_input)
        and _is_int64(step.tokens_output)
        and type(step.tokens_estimated) is bool
        and type(step.truncated) is bool
        and _is_time(step.started_at)
        and _is_time(step.completed_at)
        and _is_json_dict(step.response, optional=True)
        and _is_json_dict(step.data, optional=True)
        and _is_json(step.json, 0)
        and (step.conversation is None or _conversation_passes(step.conversation))
    )


def _conversation_passes(conversation: object) -> bool:
    if type(conversation) is not ConversationState:
        return False
    assert isinstance(conversation, ConversationState)  # noqa: S101 (narrowing)
    turns = conversation.turns
    if not (
        _is_text(conversation.session_id)
        and _is_text(conversation.stopped_by)
        and _is_int32(conversation.total_turns)
        and _is_int64(conversation.total_tokens)
        and type(turns) is list
    ):
        return False
    return all(
        type(turn) is Turn
        and _is_text(turn.role)
        and _is_text(turn.content)
        and _is_int64(turn.tokens)
        for turn in turns
    )


def _loop_passes(loop: object, depth: int) -> bool:
    if loop is None:
        return True
    if type(loop) is not LoopContext or depth >= MAX_LOOP_DEPTH:
        return False
    assert isinstance(loop, LoopContext)  # noqa: S101 (narrowing for the type checker)
    return (
        _is_json(loop.item, 0)
        and _is_int32(loop.index)
        and _is_int32(loop.length)
        and type(loop.first) is bool
        and type(loop.last) is bool
        and _loop_passes(loop.parent, depth + 1)
    )


def check_record(record: object) -> None:
    """Reject a history record that the history store cannot keep exactly."""
    if not isinstance(record, ExecutionRecord):
        raise InvalidArgumentError(f"expected an ExecutionRecord, got {type(record).__name__}")
    check_record_id(record.id)
    for name in ("workflow_id", "workflow_name", "status", "error_message"):
        _check_str(name, getattr(record, name))
    _check_int("exit_code", record.exit_code, INT32_RANGE)
    _check_int("duration_ms", record.duration_ms, (0, INT64_RANGE[1]))
    check_datetime("started_at", record.started_at)
    check_datetime("completed_at", record.completed_at, optional=False)


def check_records(records: object) -> None:
    """Reject a batch that is not a list or tuple of at most 10000 valid records."""
    if not isinstance(records, list | tuple):
        raise InvalidArgumentError(
            f"records: expected a list of ExecutionRecord, got {type(records).__name__}"
        )
    if len(records) > MAX_BATCH_RECORDS:
        raise InvalidArgumentError(
            f"records: {len(records)} records in one batch, the limit is {MAX_BATCH_RECORDS}"
        )
    for index, record in enumerate(records):
        try:
            check_record(record)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"records[{index}]: {exc.message}") from None


def check_filter(history_filter: object) -> None:
    """Reject a history filter with a wrong type, naive bounds or a negative limit."""
    if not isinstance(history_filter, HistoryFilter):
        raise InvalidArgumentError(f"expected a HistoryFilter, got {type(history_filter).__name__}")
    _check_str("workflow_name", history_filter.workflow_name)
    _check_str("status", history_filter.status)
    check_datetime("since", history_filter.since)
    check_datetime("until", history_filter.until)
    _check_int("limit", history_filter.limit, (0, INT32_RANGE[1]))


def check_grouping(group_by: object) -> HistoryGrouping:
    """Return ``group_by`` as a :class:`HistoryGrouping`, or reject anything else.

    A member or its string value (``"workflow_name"``) is accepted.
    """
    if isinstance(group_by, str):
        try:
            return HistoryGrouping(group_by)
        except ValueError:
            pass
    known = ", ".join(repr(member.value) for member in HistoryGrouping)
    raise InvalidArgumentError(f"group_by must be one of {known}, got {group_by!r}")


def filter_or_default(history_filter: object) -> HistoryFilter:
    """Return the filter to apply: ``None`` means no filter (every record, limit 20).

    Any other value is checked as by :func:`check_filter` and returned as it is, as the Go
    store accepts a nil filter.
    """
    if history_filter is None:
        return HistoryFilter()
    check_filter(history_filter)
    assert isinstance(history_filter, HistoryFilter)  # noqa: S101 (narrowing for the type checker)
    return history_filter


def check_duration(path: str, value: object) -> None:
    """Reject a value that is not a ``timedelta``."""
    if not isinstance(value, timedelta):
        raise InvalidArgumentError(f"{path}: expected a timedelta, got {type(value).__name__}")
