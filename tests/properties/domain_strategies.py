"""Hypothesis strategies for every valid domain value, at the edges of what is valid.

"Valid" is what :mod:`wfstore.validation` accepts: any Unicode text but lone surrogates, JSON
nested up to 20 levels with integers within ±2^53 and finite floats, loops nested up to 16
levels, int32 and int64 fields over their whole range, and times from one nanosecond after
0001-01-01T00:00:00Z (which means "not set") to 9999-12-31T23:59:59.999999999Z.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from wfstore import (
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    LoopContext,
    StepState,
    Turn,
)
from wfstore.timestamps import from_unix_nanos, to_unix_nanos
from wfstore.validation import MAX_ID_BYTES, MAX_JSON_DEPTH, MAX_LOOP_DEPTH, MAX_SAFE_INTEGER

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
FIRST_NANOS = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC)) + 1
LAST_NANOS = to_unix_nanos(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) + 999

# Any code point but lone surrogates, NUL and other control characters included.
texts = st.text(st.characters(codec="utf-8"), max_size=12)
"""Short text in any script, with control characters, NUL and astral code points."""
keys = st.text(st.characters(codec="utf-8"), max_size=6)
"""Map keys: short text, the empty string included."""


def ids(characters: st.SearchStrategy[str], max_bytes: int) -> st.SearchStrategy[str]:
    """Ids of 1 to ``max_bytes`` UTF-8 bytes: short ones, and ones of exactly ``max_bytes``."""
    longest = st.sampled_from(["a", "é", "€", "😀"]).map(
        lambda c: c * (max_bytes // len(c.encode())) + "x" * (max_bytes % len(c.encode()))
    )
    short = st.text(characters, min_size=1, max_size=24)
    return st.one_of(short, longest).filter(lambda text: 0 < len(text.encode()) <= max_bytes)


# Workflow ids exclude C0 controls, DEL, '/' and '\\' (they must make one file name).
_ID_CHARACTERS = st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="/\\\x7f")
workflow_ids = ids(_ID_CHARACTERS, MAX_ID_BYTES).filter(lambda text: text not in {".", ".."})
"""Every kind of valid workflow id, up to the 250-byte limit."""


def record_ids(max_bytes: int = MAX_ID_BYTES) -> st.SearchStrategy[str]:
    """Valid history record ids: any non-empty text up to ``max_bytes`` UTF-8 bytes."""
    return ids(st.characters(codec="utf-8"), max_bytes)


_edge_nanos = st.sampled_from(
    [FIRST_NANOS, FIRST_NANOS + 999, 0, -1, 1, LAST_NANOS - 999, LAST_NANOS]
)
_offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=30))]
)


def _at_offset(nanos: int, zone: timezone) -> datetime:
    """Return the instant ``nanos`` in ``zone`` (in UTC where ``zone`` would leave years 1-9999)."""
    value = from_unix_nanos(nanos)
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value


datetimes = st.builds(
    _at_offset, st.one_of(_edge_nanos, st.integers(FIRST_NANOS, LAST_NANOS)), _offsets
)
"""Aware datetimes over the whole supported range, with nanoseconds, in several zones."""
optional_datetimes = st.none() | datetimes

json_numbers = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 2**31, -(2**63)]).map(float),
    st.floats(allow_nan=False, allow_infinity=False),
)
"""Numbers: every int within ±2^53 and every finite float (subnormals, -0.0, ±max)."""
json_scalars = st.one_of(st.none(), st.booleans(), json_numbers, texts)


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values holding at most ``depth`` levels of objects and arrays (``depth`` >= 0)."""
    if depth == 0:
        return json_scalars
    nested = json_values(depth - 1)
    return st.one_of(
        json_scalars,
        st.lists(nested, max_size=3),
        st.dictionaries(keys, nested, max_size=3),
        _chain(depth),
    )


def _chain(depth: int) -> st.SearchStrategy[Any]:
    """Single-child objects and arrays nested exactly ``depth`` levels: the depth limit."""

    def build(leaf: object, kinds: list[bool]) -> object:
        value = leaf
        for as_list in kinds:
            value = [value] if as_list else {"k": value}
        return value

    return st.builds(build, json_scalars, st.lists(st.booleans(), min_size=depth, max_size=depth))


def large_maps(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with hundreds of keys."""
    return st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=200, max_size=400)


# The top-level object is one level; so is each object or array inside it.
_INNER = MAX_JSON_DEPTH - 1
json_objects = st.one_of(
    st.dictionaries(keys, json_values(_INNER), max_size=4),
    large_maps(json_scalars),
)
"""JSON objects (inputs, step response and data) up to the nesting and size limits."""


def loops(depth: int = MAX_LOOP_DEPTH) -> st.SearchStrategy[LoopContext | None]:
    """Loop contexts nested at most ``depth`` levels (the parent chain), or None."""
    if depth == 0:
        return st.none()
    return st.none() | st.builds(
        LoopContext,
        item=json_values(MAX_JSON_DEPTH),
        index=INT32,
        first=st.booleans(),
        last=st.booleans(),
        length=INT32,
        parent=st.deferred(lambda: loops(depth - 1)),
    )


def _deepest_loop(item: object) -> LoopContext:
    loop = LoopContext(item=item, index=MAX_LOOP_DEPTH - 1)
    for level in range(MAX_LOOP_DEPTH - 1):
        loop = LoopContext(index=level, parent=loop)
    return loop


statuses = st.sampled_from(ExecutionStatus)
conversations = st.none() | st.builds(
    ConversationState,
    session_id=texts,
    turns=st.lists(st.builds(Turn, role=texts, content=texts, tokens=INT64), max_size=3),
    total_turns=INT32,
    total_tokens=INT64,
    stopped_by=texts,
)
steps = st.builds(
    StepState,
    name=texts,
    status=statuses,
    output=texts,
    stderr=texts,
    exit_code=INT32,
    attempt=INT32,
    error=texts,
    started_at=optional_datetimes,
    completed_at=optional_datetimes,
    response=st.none() | json_objects,
    json=json_values(MAX_JSON_DEPTH),
    conversation=conversations,
    tokens_used=INT64,
    tokens_input=INT64,
    tokens_output=INT64,
    tokens_estimated=st.booleans(),
    output_path=texts,
    stderr_path=texts,
    truncated=st.booleans(),
    data=st.none() | json_objects,
)
contexts = st.builds(
    ExecutionContext,
    workflow_id=workflow_ids,
    workflow_name=texts,
    parent_run_id=texts,
    status=statuses,
    current_step=texts,
    exit_code=INT32,
    inputs=json_objects,
    states=st.dictionaries(keys, steps, max_size=3),
    env=st.dictionaries(keys, texts, max_size=4),
    started_at=optional_datetimes,
    updated_at=optional_datetimes,
    completed_at=optional_datetimes,
    current_loop=loops() | st.builds(_deepest_loop, json_scalars),
    call_stack=st.lists(texts, max_size=4),
)
"""Every kind of valid execution state."""


def records(max_id_bytes: int = MAX_ID_BYTES) -> st.SearchStrategy[ExecutionRecord]:
    """Every kind of valid history record, with ids of at most ``max_id_bytes``."""
    return st.builds(
        ExecutionRecord,
        id=record_ids(max_id_bytes),
        workflow_id=texts,
        workflow_name=texts,
        status=st.sampled_from(["success", "completed", "failed", "cancelled"]) | texts,
        exit_code=INT32,
        started_at=optional_datetimes,
        completed_at=datetimes,
        duration_ms=st.integers(0, 2**63 - 1),
        error_message=texts,
    )
