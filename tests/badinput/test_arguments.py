"""Arbitrary ids, filters, page tokens and durations: a precise answer, never a crash.

Requests are built as another language would send them (raw protobuf, no client-side checks),
so the daemon's own validation is what is tested; the embedded stores get the same values.
Each answer is compared with an oracle written here from the contract, so a value wrongly
accepted fails as surely as one wrongly refused. The module's daemon must end with no
traceback, no INTERNAL, and no file outside its data directory (see conftest.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from hypothesis import event, given, settings
from hypothesis import strategies as st
from raw_calls import Answer, call, unexpected_files
from wfstore import HistoryFilter, InvalidArgumentError, wire
from wfstore.v1 import history_pb2, state_pb2
from wfstored import JSONStateStore, SQLiteHistoryStore
from wfstored.storage.shared.page_tokens import encode_page_token

from tests.support.daemon import Daemon
from tests.support.factories import T0, record

Code = grpc.StatusCode
ID_EXAMPLES = 150
RECORD_ID_EXAMPLES = 50
TOKEN_EXAMPLES = 150
FILTER_EXAMPLES = 150
DURATION_EXAMPLES = 100

MAX_DURATION_SECONDS = 315_576_000_000
FIRST_SECOND = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JSONStateStore, Path]]:
    """An embedded state store, in a directory of its own inside an otherwise empty one."""
    state_dir = tmp_path_factory.mktemp("embedded") / "data" / "state"
    store = JSONStateStore(state_dir)
    yield store, state_dir
    store.close()


# --- workflow ids ----------------------------------------------------------------------------


def valid_workflow_id(text: str) -> bool:
    """The contract's rule, written again independently of wfstore.validation."""
    return (
        0 < len(text.encode()) <= 250
        and not any(ord(c) < 0x20 or c in "/\\\x7f" for c in text)
        and text not in {".", ".."}
    )


_PATHISH = st.lists(
    st.sampled_from([".", "..", "/", "\\", "a", "\x00", "\n", "é", " ", "~", "%2e", ".json"]),
    min_size=1,
    max_size=8,
).map("".join)
workflow_ids = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=20),
    _PATHISH,
    st.sampled_from(
        ["../outside", "/etc/passwd", "..", ".", ".wfstore-locks", "a" * 251, "é" * 125]
    ),
    st.integers(240, 260).map(lambda n: "x" * n),
)


@settings(max_examples=ID_EXAMPLES)
@given(workflow_id=workflow_ids)
def test_any_workflow_id_is_served_or_invalid_argument(
    channel: grpc.Channel,
    daemon: Daemon,
    embedded: tuple[JSONStateStore, Path],
    workflow_id: str,
) -> None:
    valid = valid_workflow_id(workflow_id)
    event("valid" if valid else "invalid")
    state = state_pb2.ExecutionContext(workflow_id=workflow_id)
    answers = [
        call(
            channel, "/wfstore.v1.StateService/Save", state_pb2.StateServiceSaveRequest(state=state)
        ),
        call(
            channel,
            "/wfstore.v1.StateService/Load",
            state_pb2.StateServiceLoadRequest(workflow_id=workflow_id),
        ),
        call(
            channel,
            "/wfstore.v1.StateService/Delete",
            state_pb2.StateServiceDeleteRequest(workflow_id=workflow_id),
        ),
    ]
    for answer in answers:
        if valid:
            assert answer.code is Code.OK, answer
        else:
            assert answer.code is Code.INVALID_ARGUMENT, answer
            assert "workflow id" in answer.details, answer
    store, state_dir = embedded
    if valid:
        store.save(wire.context_from_proto(state))
        assert (state_dir / f"{workflow_id}.json").is_file()
        store.delete(workflow_id)
    else:
        for action in (store.load, store.delete):
            with pytest.raises(InvalidArgumentError, match="workflow id"):
                action(workflow_id)
    assert unexpected_files(state_dir.parent) == []
    assert unexpected_files(daemon.data_dir) == []


@settings(max_examples=RECORD_ID_EXAMPLES)
@given(
    record_id=st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(["", "é" * 126])
)
def test_any_record_id_is_recorded_or_invalid_argument(
    channel: grpc.Channel, record_id: str
) -> None:
    message = history_pb2.ExecutionRecord(
        id=record_id, completed_at=timestamp_pb2.Timestamp(seconds=1)
    )
    answer = call(
        channel,
        "/wfstore.v1.HistoryService/Record",
        history_pb2.HistoryServiceRecordRequest(record=message),
    )
    if 0 < len(record_id.encode()) <= 250:
        assert answer.code is Code.OK, answer
    else:
        assert answer.code is Code.INVALID_ARGUMENT, answer
        assert "record id" in answer.details, answer


# --- filters ---------------------------------------------------------------------------------

timestamps = st.builds(
    timestamp_pb2.Timestamp,
    seconds=st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from([FIRST_SECOND, FIRST_SECOND - 1, LAST_SECOND, LAST_SECOND + 1, 0]),
    ),
    nanos=st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 999_999_999, 10**9, -1])),
)


def valid_time(stamp: timestamp_pb2.Timestamp | None) -> bool:
    """A set time is valid from one nanosecond after 0001-01-01T00:00:00Z to the end of 9999."""
    if stamp is None:
        return True
    if not 0 <= stamp.nanos <= 999_999_999:
        return False
    return FIRST_SECOND <= stamp.seconds <= LAST_SECOND and (stamp.seconds, stamp.nanos) != (
        FIRST_SECOND,
        0,
    )


@st.composite
def filters(draw: st.DrawFn) -> tuple[history_pb2.HistoryFilter, bool]:
    """A wire filter of any content, and whether the contract says it is valid."""
    since = draw(st.none() | timestamps)
    until = draw(st.none() | timestamps)
    limit = draw(st.integers(-(2**31), 2**31 - 1) | st.sampled_from([-1, 0, 1, 20]))
    message = history_pb2.HistoryFilter(
        workflow_name=draw(st.text(max_size=10)), status=draw(st.text(max_size=10)), limit=limit
    )
    if since is not None:
        message.since.CopyFrom(since)
    if until is not None:
        message.until.CopyFrom(until)
    return message, valid_time(since) and valid_time(until) and limit >= 0


@settings(max_examples=FILTER_EXAMPLES)
@given(case=filters(), page_size=st.integers(-(2**31), 2**31 - 1) | st.sampled_from([-1, 0, 1]))
def test_any_filter_is_served_or_invalid_argument(
    channel: grpc.Channel, case: tuple[history_pb2.HistoryFilter, bool], page_size: int
) -> None:
    wire_filter, valid = case
    event("valid" if valid else "invalid")
    listing = call(
        channel,
        "/wfstore.v1.HistoryService/List",
        history_pb2.HistoryServiceListRequest(filter=wire_filter, page_size=page_size),
    )
    stats = call(
        channel,
        "/wfstore.v1.HistoryService/GetStats",
        history_pb2.HistoryServiceGetStatsRequest(filter=wire_filter),
    )
    _expect(stats, valid=valid)
    _expect(listing, valid=valid and page_size >= 0)


def _expect(answer: Answer, *, valid: bool) -> None:
    assert answer.code is (Code.OK if valid else Code.INVALID_ARGUMENT), answer


@pytest.mark.parametrize("group_by", [2, 7, -1, 2**31 - 1])
def test_an_unknown_group_by_is_invalid_argument(channel: grpc.Channel, group_by: int) -> None:
    # Proto3 enums are open: a newer client may send a value this daemon does not know.
    request = history_pb2.HistoryServiceGetStatsRequest(group_by=group_by)  # type: ignore[arg-type]
    answer = call(channel, "/wfstore.v1.HistoryService/GetStats", request)
    assert answer.code is Code.INVALID_ARGUMENT, answer
    assert f"unknown group_by {group_by}" in answer.details
    assert "HISTORY_GROUPING_WORKFLOW_NAME (1)" in answer.details


def test_a_known_group_by_is_served(channel: grpc.Channel) -> None:
    for group_by in (
        history_pb2.HISTORY_GROUPING_UNSPECIFIED,
        history_pb2.HISTORY_GROUPING_WORKFLOW_NAME,
    ):
        request = history_pb2.HistoryServiceGetStatsRequest(group_by=group_by)
        answer = call(channel, "/wfstore.v1.HistoryService/GetStats", request)
        assert answer.code is Code.OK, answer


# --- page tokens -----------------------------------------------------------------------------

_HISTORY_BINDING = (
    'history.list:{"limit":20,"since":null,"status":"","until":null,"workflow_name":""}'
)
_positions = st.dictionaries(
    st.sampled_from(["after", "c", "i", "n", "x"]),
    st.one_of(
        st.text(max_size=12),
        st.integers(-5, 30),
        st.sampled_from(["2025-06-02T12:05:07.123456000Z", "9999-99-99T99:99:99.999999999Z"]),
        st.none(),
        st.booleans(),
    ),
)
# Text with lone surrogates too: JSON escapes them, and a forged token may carry them.
_any_text = st.text(st.characters(codec=None, categories=["L", "N", "Cc", "Cs"]), max_size=8)
_well_formed = st.one_of(
    st.fixed_dictionaries({"after": _any_text}),
    st.fixed_dictionaries(
        {
            "c": st.sampled_from(["2025-06-02T12:05:07.123456000Z", "2025-06-02T12:05:07Z"]),
            "i": _any_text,
            "n": st.integers(-2, 25),
        }
    ),
)
tokens = st.one_of(
    st.builds(encode_page_token, _well_formed, st.sampled_from(["state", _HISTORY_BINDING])),
    st.text(max_size=40),
    st.binary(max_size=60).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.builds(encode_page_token, _positions, st.sampled_from(["state", _HISTORY_BINDING])),
    st.builds(
        lambda payload: base64.urlsafe_b64encode(json.dumps(payload).encode()).decode(),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=5),
            lambda c: st.lists(c) | st.dictionaries(st.text(max_size=3), c),
        ),
    ),
    st.integers(1, 5000).map(lambda n: base64.urlsafe_b64encode(b"[" * n).decode()),
)


@settings(max_examples=TOKEN_EXAMPLES)
@given(token=tokens)
def test_any_page_token_is_served_or_invalid_argument(channel: grpc.Channel, token: str) -> None:
    for method, request in (
        ("/wfstore.v1.StateService/List", state_pb2.StateServiceListRequest(page_token=token)),
        (
            "/wfstore.v1.HistoryService/List",
            history_pb2.HistoryServiceListRequest(page_token=token),
        ),
    ):
        answer = call(channel, method, request)
        event(f"{method.rsplit('.', 1)[1]}: {answer.code.name}")
        assert answer.code in {Code.OK, Code.INVALID_ARGUMENT}, answer
        if answer.code is Code.INVALID_ARGUMENT:
            assert answer.details.startswith("invalid page_token"), answer


def test_stale_and_foreign_page_tokens(tmp_path: Path) -> None:
    now = T0 + timedelta(seconds=10)
    with SQLiteHistoryStore(tmp_path / "history.db", clock=lambda: now) as history:
        history.record_batch(
            [record(f"r{i}", completed_at=T0 + timedelta(seconds=i)) for i in range(5)]
        )
        deploy = HistoryFilter(workflow_name="deploy", limit=5)
        token = history.list_page(deploy, page_size=2).next_page_token
        assert token
        for other, message in (
            (HistoryFilter(workflow_name="other", limit=5), "issued for a different request"),
            (HistoryFilter(workflow_name="deploy", limit=4), "issued for a different request"),
        ):
            with pytest.raises(InvalidArgumentError, match=message):
                history.list_page(other, page_size=2, page_token=token)
        state = JSONStateStore(tmp_path / "state")
        with pytest.raises(InvalidArgumentError, match="issued for a different request"):
            state.list_page(page_token=token)  # a history token is no state token
        old_version = encode_page_token({"after": "x"}, "state").replace("1", "0", 1)
        with pytest.raises(InvalidArgumentError, match="invalid page_token"):
            state.list_page(page_token=old_version)
        # Stale but genuine: records of its next page are gone; the listing goes on without them.
        assert history.cleanup(timedelta(seconds=8.5)) == 2  # r0 and r1
        assert [r.id for r in history.list_page(deploy, 2, token).items] == ["r2"]


# --- durations -------------------------------------------------------------------------------


def valid_duration(message: duration_pb2.Duration) -> bool:
    """duration.proto's rule: ±10000 years, nanos within ±999999999 and of the same sign."""
    seconds, nanos = message.seconds, message.nanos
    return (
        abs(seconds) <= MAX_DURATION_SECONDS
        and abs(nanos) <= 999_999_999
        and not (seconds > 0 > nanos or seconds < 0 < nanos)
    )


durations = st.builds(
    duration_pb2.Duration,
    seconds=st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from([0, 1, -1, MAX_DURATION_SECONDS, MAX_DURATION_SECONDS + 1]),
    ),
    nanos=st.one_of(
        st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 10**9 - 1, 10**9])
    ),
)


@settings(max_examples=DURATION_EXAMPLES)
@given(older_than=durations)
def test_any_duration_is_served_or_invalid_argument(
    channel: grpc.Channel, older_than: duration_pb2.Duration
) -> None:
    valid = valid_duration(older_than)
    event("valid" if valid else "invalid")
    answer = call(
        channel,
        "/wfstore.v1.HistoryService/Cleanup",
        history_pb2.HistoryServiceCleanupRequest(older_than=older_than),
    )
    _expect(answer, valid=valid)
    if not valid:
        assert answer.details.startswith("older_than:"), answer
