"""Raw bytes sent to every method of both services: malformed, random, and mutated requests.

The daemon decodes requests itself (wfstored.rpc.registration), so bytes that are not a request
message get INVALID_ARGUMENT naming the method, never gRPC's INTERNAL "Exception
deserializing request!"; bytes that decode to a message go through the same validation as
any client's call.
"""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import event, given, settings
from hypothesis import strategies as st
from raw_calls import METHODS, SERVICES, Answer, call
from wfstore import HistoryFilter
from wfstore import _operations as ops
from wfstore.v1 import state_pb2

from tests.support.factories import full_context, record

Code = grpc.StatusCode
RANDOM_EXAMPLES = 150
MUTATED_EXAMPLES = 250


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _bad_utf8_path(message: Descriptor, depth: int = 0) -> bytes | None:
    """Return bytes that put invalid UTF-8 in the first string field reachable in ``message``."""
    for field in message.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            return _tag(field.number, 2) + b"\x03a\xff\xfe"
    if depth < 3:
        for field in message.fields:
            if (
                field.type == FieldDescriptor.TYPE_MESSAGE
                and not field.message_type.GetOptions().map_entry
            ):
                inner = _bad_utf8_path(field.message_type, depth + 1)
                if inner is not None:
                    return _tag(field.number, 2) + _varint(len(inner)) + inner
    return None


_UNKNOWN_GROUP = 1000
MALFORMED = {
    "truncated varint": b"\x08\xff",
    "length past the end": b"\x0a\x05abc",
    "field number 0": b"\x00\x01",
    "end-group with no start": b"\x0c",
    "wire type 6": b"\x0e",
    "wire type 7": b"\x0f",
    "101 nested groups (limit 100)": _tag(_UNKNOWN_GROUP, 3) * 101 + _tag(_UNKNOWN_GROUP, 4) * 101,
    "garbage": bytes(range(256)),
}
_REQUEST_TYPES = {
    f"/{service.full_name}/{method.name}": method.input_type
    for service in SERVICES
    for method in service.methods
}
BAD_UTF8 = {
    method: payload
    for method, kind in _REQUEST_TYPES.items()
    if (payload := _bad_utf8_path(kind)) is not None
}
CASES = [
    pytest.param(method, payload, id=f"{method.rsplit('.', 1)[1]}-{name}")
    for method in METHODS
    for name, payload in MALFORMED.items()
] + [
    pytest.param(method, payload, id=f"{method.rsplit('.', 1)[1]}-invalid UTF-8 in a string")
    for method, payload in BAD_UTF8.items()
]

# What each method may answer to bytes that happen to decode into a request.
ALLOWED = {method: {Code.OK, Code.INVALID_ARGUMENT} for method in METHODS}
ALLOWED["/wfstore.v1.StateService/Load"].add(Code.NOT_FOUND)
ALLOWED["/wfstore.v1.HistoryService/Record"].add(Code.ALREADY_EXISTS)
ALLOWED["/wfstore.v1.HistoryService/RecordBatch"].add(Code.ALREADY_EXISTS)
ALLOWED["/wfstore.v1.StateService/Watch"].add(Code.OUT_OF_RANGE)  # a token of another log

VALID_REQUESTS = {
    "/wfstore.v1.StateService/Save": ops.SAVE.build(full_context("mutated")),
    "/wfstore.v1.StateService/Load": ops.LOAD.build("mutated"),
    "/wfstore.v1.StateService/List": ops.LIST_STATES.build(5, ""),
    "/wfstore.v1.StateService/Delete": ops.DELETE.build("mutated"),
    "/wfstore.v1.StateService/Watch": state_pb2.StateServiceWatchRequest(
        prefix="mutated", ids_only=True
    ),
    "/wfstore.v1.HistoryService/Record": ops.RECORD.build(record("r-1")),
    "/wfstore.v1.HistoryService/RecordBatch": ops.RECORD_BATCH.build(
        [record("r-2"), record("r-3", status="failed")]
    ),
    "/wfstore.v1.HistoryService/List": ops.LIST_HISTORY.build(
        HistoryFilter(workflow_name="deploy", status="failed", limit=5), 2, ""
    ),
    "/wfstore.v1.HistoryService/GetStats": ops.GET_STATS.build(HistoryFilter(status="success")),
    "/wfstore.v1.HistoryService/Cleanup": ops.CLEANUP.build(timedelta(days=36500)),
}


def test_every_method_has_a_valid_request_to_mutate() -> None:
    assert set(VALID_REQUESTS) == set(METHODS)
    assert len(METHODS) == 10
    assert set(BAD_UTF8) == set(METHODS) - {"/wfstore.v1.HistoryService/Cleanup"}


def _assert_still_serving(channel: grpc.Channel) -> None:
    answer = call(channel, "/wfstore.v1.StateService/List", state_pb2.StateServiceListRequest())
    assert answer.code is Code.OK, answer


@pytest.mark.parametrize(("method", "payload"), CASES)
def test_malformed_bytes_are_invalid_argument_naming_the_method(
    channel: grpc.Channel, method: str, payload: bytes
) -> None:
    answer = call(channel, method, payload)
    assert answer.code is Code.INVALID_ARGUMENT, answer
    assert answer.details.startswith(f"{method[1:]}: the request is not a valid protobuf message")
    assert "Error parsing message with type" in answer.details
    _assert_still_serving(channel)


def _check(answer: Answer, method: str) -> None:
    assert answer.code in ALLOWED[method], (method, answer)
    if answer.code is Code.INVALID_ARGUMENT:
        assert answer.details, answer


@settings(max_examples=RANDOM_EXAMPLES)
@given(method=st.sampled_from(METHODS), payload=st.binary(max_size=300))
def test_random_bytes_get_a_precise_answer(
    channel: grpc.Channel, method: str, payload: bytes
) -> None:
    answer = call(channel, method, payload)
    event(f"{method.rsplit('/', 1)[1]}: {answer.code.name}")
    _check(answer, method)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid request of some method with a few bytes replaced, inserted, or cut off."""
    method = draw(st.sampled_from(METHODS))
    data = bytearray(VALID_REQUESTS[method].SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "cut"]))
        byte = draw(st.integers(0, 255))
        if action == "replace" and at < len(data):
            data[at] = byte
        elif action == "insert":
            data.insert(at, byte)
        else:
            del data[at:]
    return method, bytes(data)


@settings(max_examples=MUTATED_EXAMPLES)
@given(case=_mutated())
def test_mutated_requests_get_a_precise_answer(
    channel: grpc.Channel, case: tuple[str, bytes]
) -> None:
    method, payload = case
    answer = call(channel, method, payload)
    event(f"{method.rsplit('/', 1)[1]}: {answer.code.name}")
    _check(answer, method)
