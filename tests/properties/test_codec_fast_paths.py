"""The codec's fast paths give exactly what the code they replaced gave.

``format_time``, ``json_tree``, ``normalize_json``, the status encoder and the wire's JSON
value writer and reader now dispatch on exact types first. The functions below are the
replaced versions, kept as the reference; the properties compare old and new on every kind of
value, including subclasses and odd values that take the remaining slow paths. (Whole states
round-trip in test_round_trip.py; drawing them here too would resolve the shared strategy's
deferred loops before that module runs, and Hypothesis then renders its huge repr when the
PostgreSQL pool's thread touches ``random`` during a draw, which can take over a minute.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import orjson
import pytest
from domain_strategies import datetimes, json_values
from exactly import exact
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from wfstore import ExecutionContext, ExecutionStatus
from wfstore.awf_state import _encode_status
from wfstore.go_json import ZERO_TIME, format_go_float, format_time, json_tree, render
from wfstore.timestamps import NANOS_PER_SECOND, Timestamp, to_unix_nanos
from wfstore.v1 import state_pb2
from wfstore.validation import MAX_JSON_DEPTH, MAX_SAFE_INTEGER, normalize_json
from wfstore.wire import context_from_proto, context_to_proto

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- The replaced versions ---------------------------------------------------------------


def reference_format_time(value: object) -> str:
    """format_time before the fast path."""
    if value is None:
        return ZERO_TIME
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    seconds, nanos = divmod(to_unix_nanos(value), NANOS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def reference_json_tree(value: object) -> object:
    """json_tree before the fast path."""
    if isinstance(value, float):
        return orjson.Fragment(format_go_float(value))
    if isinstance(value, list):
        return [reference_json_tree(item) for item in value]
    if isinstance(value, dict):
        return {key: reference_json_tree(value[key]) for key in sorted(value)}
    return value


def reference_normalize_json(value: Any) -> Any:
    """normalize_json before the fast path."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        whole = isinstance(value, int) or value.is_integer()
        return int(value) if whole and abs(value) <= MAX_SAFE_INTEGER else float(value)
    if isinstance(value, list):
        return [reference_normalize_json(item) for item in value]
    if isinstance(value, dict):
        return {key: reference_normalize_json(item) for key, item in value.items()}
    return value


def reference_set_value(target: struct_pb2.Value, value: Any) -> None:
    """The wire's JSON value writer before the fast path."""
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int | float):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        reference_set_struct(target.struct_value, value)
    else:
        target.list_value.SetInParent()
        items = target.list_value.values
        for item in value:
            reference_set_value(items.add(), item)


def reference_set_struct(target: struct_pb2.Struct, value: dict[str, Any]) -> None:
    """The wire's JSON object writer before the fast path."""
    target.SetInParent()
    for key, item in value.items():
        reference_set_value(target.fields[key], item)


def reference_value(message: struct_pb2.Value) -> Any:
    """The wire's JSON value reader before the fast path."""
    kind = message.WhichOneof("kind")
    if kind == "number_value":
        return reference_normalize_json(message.number_value)
    if kind == "string_value":
        return message.string_value
    if kind == "bool_value":
        return message.bool_value
    if kind == "struct_value":
        return {key: reference_value(item) for key, item in message.struct_value.fields.items()}
    if kind == "list_value":
        return [reference_value(item) for item in message.list_value.values]
    return None


def reference_encode_status(value: object) -> object:
    """The status encoder before the fast path."""
    return ExecutionStatus(str(value)).value


# --- Values that take the slow paths ------------------------------------------------------


class _Text(str):
    __slots__ = ()


class _Whole(int):
    pass


class _Real(float):
    pass


class _Colour(IntEnum):
    RED = 1


class _Mapping(dict[str, Any]):
    pass


class _Items(list[Any]):
    pass


_odd_scalars = st.sampled_from(
    [
        _Text("x"),
        _Whole(7),
        _Whole(2**60),
        _Real(2.5),
        _Real(4.0),
        _Colour.RED,
        2**53 + 1,
        -(2**53) - 1,
        2**70,
        1e300,
        -0.0,
        0.1,
        1e21,
        1e-7,
        True,
    ]
)
odd_json = st.recursive(
    st.one_of(json_values(2), _odd_scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(_Items),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        st.dictionaries(st.text(max_size=4), inner, max_size=3).map(_Mapping),
    ),
    max_leaves=12,
)
"""JSON values with subclasses of the JSON types and numbers at every edge, nested."""

plain_datetimes = st.datetimes(
    min_value=datetime(1, 1, 1, 0, 0, 1),  # noqa: DTZ001 (made aware below)
    timezones=st.just(UTC),
)
timestamps = st.builds(
    lambda moment, nanosecond: Timestamp(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        UTC,
        nanosecond=nanosecond,
    ),
    plain_datetimes,
    st.integers(0, 999),
)


# --- The properties -----------------------------------------------------------------------


def _outcome(call: Callable[[], object]) -> object:
    """Return what ``call`` returns, or the type and text of what it raises."""
    try:
        return call()
    except (TypeError, ValueError) as exc:  # e.g. an integer orjson cannot write
        return (type(exc), str(exc))


@given(st.one_of(st.none(), datetimes, plain_datetimes, timestamps))
def test_format_time_is_unchanged(value: datetime | None) -> None:
    """Every time, in any zone, with or without nanoseconds, is written as before."""
    assert format_time(value) == reference_format_time(value)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 6, 2, 12, 0, 0, 120000, tzinfo=UTC),
        Timestamp(2025, 6, 2, 12, 0, 0, 0, UTC, nanosecond=5),
        Timestamp(2025, 6, 2, 12, 0, 0, 0, UTC),
        Timestamp(999, 1, 2, 3, 4, 5, 100, UTC, nanosecond=900),
    ],
    ids=repr,
)
def test_format_time_edges_are_unchanged(value: datetime) -> None:
    """The first and last instants, short years and trimmed fractions are written as before."""
    assert format_time(value) == reference_format_time(value)


def test_format_time_still_rejects_what_is_not_a_time() -> None:
    """A value that is not a datetime is refused with the same TypeError."""
    with pytest.raises(TypeError, match="expected a datetime, got str"):
        format_time("2025-01-01T00:00:00Z")


@given(st.one_of(json_values(MAX_JSON_DEPTH), odd_json))
def test_json_tree_renders_as_before(value: object) -> None:
    """The rendered JSON of every value, subclasses included, is the same bytes as before."""
    assert _outcome(lambda: render(json_tree(value))) == _outcome(
        lambda: render(reference_json_tree(value))
    )


@given(st.one_of(json_values(MAX_JSON_DEPTH), odd_json))
def test_normalize_json_is_unchanged(value: object) -> None:
    """Numbers take the same canonical type and value; everything else is kept."""
    assert exact(normalize_json(value)) == exact(reference_normalize_json(value))


@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_normalize_json_still_overflows(value: int) -> None:
    """An integer too large for a double raises OverflowError, as before."""
    with pytest.raises(OverflowError):
        reference_normalize_json(value)
    with pytest.raises(OverflowError):
        normalize_json(value)


@pytest.mark.parametrize(
    "value",
    [*ExecutionStatus, *(status.value for status in ExecutionStatus), _Text("failed")],
    ids=repr,
)
def test_status_encoder_is_unchanged(value: object) -> None:
    """Members, their texts and str subclasses are written as before."""
    assert _encode_status(value) == reference_encode_status(value)
    assert type(_encode_status(value)) is type(reference_encode_status(value))


@pytest.mark.parametrize("value", ["bogus", 3, None, ["running"]], ids=repr)
def test_status_encoder_still_rejects_unknown_statuses(value: object) -> None:
    """What was refused is refused with the same error."""
    with pytest.raises(ValueError, match="is not a valid ExecutionStatus") as new:
        _encode_status(value)
    with pytest.raises(ValueError, match="is not a valid ExecutionStatus") as old:
        reference_encode_status(value)
    assert str(new.value) == str(old.value)


@given(st.one_of(json_values(MAX_JSON_DEPTH - 2), odd_json))
def test_wire_writes_and_reads_json_values_as_before(value: object) -> None:
    """A JSON value (subclasses included) is written and read back as before."""
    inputs = {"v": value, "w": [value, {"x": value}]}
    message = context_to_proto(ExecutionContext(workflow_id="wf", inputs=inputs))
    reference = struct_pb2.Value()
    reference_set_struct(reference.struct_value, inputs)
    assert message.inputs == reference.struct_value
    old = reference_value(reference)
    assert exact(context_from_proto(message).inputs) == exact(old)


def test_non_finite_floats_are_still_refused_by_the_encoder() -> None:
    """NaN inside a JSON value still raises ValueError when written."""
    with pytest.raises(ValueError, match="not a JSON number"):
        json_tree([math.nan])


@given(st.one_of(datetimes, plain_datetimes, timestamps))
def test_wire_writes_times_as_before(value: datetime) -> None:
    """Every time, in any zone and with nanoseconds, is the same protobuf Timestamp as before."""
    message = context_to_proto(ExecutionContext(workflow_id="wf", started_at=value))
    seconds, nanos = divmod(to_unix_nanos(value), NANOS_PER_SECOND)
    assert (message.started_at.seconds, message.started_at.nanos) == (seconds, nanos)


@pytest.mark.parametrize(
    "status",
    [*ExecutionStatus, *(status.value for status in ExecutionStatus), _Text("failed")],
    ids=repr,
)
def test_wire_writes_statuses_as_before(status: str) -> None:
    """A member, its text or a str subclass gives the member's number, as before."""
    state = ExecutionContext(workflow_id="wf", status=status)  # type: ignore[arg-type]
    number = state_pb2.ExecutionStatus.Value(
        "EXECUTION_STATUS_" + (status.upper() or "UNSPECIFIED")
    )
    assert context_to_proto(state).status == number


def test_wire_still_rejects_unknown_statuses() -> None:
    """An unknown status is refused with the same ValueError as before."""
    with pytest.raises(ValueError, match="'bogus' is not a valid ExecutionStatus"):
        context_to_proto(ExecutionContext(workflow_id="wf", status="bogus"))  # type: ignore[arg-type]
