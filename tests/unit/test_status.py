"""The one table between status codes and wfstore errors, read in both directions."""

from __future__ import annotations

import grpc
import pytest
import wfstore.errors
from wfstore.errors import ConflictError, ResourceExhaustedError, StoreError, UnavailableError
from wfstore.status import (
    DETAILS_KEY,
    conflict_details,
    conflict_from_metadata,
    error_for_status,
    status_for_error,
)


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in wfstore.errors.__all__
        # see below; WatchLaggedError travels as UNAVAILABLE: clients resume rather than raise it
        if n not in {"StoreError", "StoreClosedError", "ConflictError", "WatchLaggedError"}
    ],
)
def test_every_error_survives_the_wire_as_itself(name: str) -> None:
    cls = getattr(wfstore.errors, name)
    error = error_for_status(status_for_error(cls("why")), "why")
    assert type(error) is cls
    assert error.message == "why"


def test_a_closed_store_in_the_daemon_is_unavailable_to_its_callers() -> None:
    code = status_for_error(wfstore.errors.StoreClosedError("closing"))
    assert code is grpc.StatusCode.UNAVAILABLE


def test_cancelled_by_a_stopping_daemon_is_unavailable() -> None:
    error = error_for_status(grpc.StatusCode.CANCELLED, "CANCELLED")
    assert isinstance(error, UnavailableError)
    assert "stopping" in error.message


def test_codes_without_a_class_keep_their_name() -> None:
    error = error_for_status(grpc.StatusCode.PERMISSION_DENIED, "no")
    assert type(error) is StoreError
    assert error.message == "PERMISSION_DENIED: no"
    assert status_for_error(StoreError("x")) is grpc.StatusCode.INTERNAL


@pytest.mark.parametrize("current", [None, 0, 7, 2**63 - 1])
def test_a_conflict_travels_in_the_status_details(current: int | None) -> None:
    error = ConflictError("stale", workflow_id="run-\u00e9", current_version=current)
    assert status_for_error(error) is grpc.StatusCode.ABORTED
    trailers = [("other", "x"), *conflict_details(error)]
    back = conflict_from_metadata("stale", trailers)
    assert back is not None
    assert back.workflow_id == "run-\u00e9"
    assert (back.current_version, back.message) == (current, "stale")


def test_aborted_without_a_version_conflict_is_not_a_conflict() -> None:
    assert conflict_from_metadata("x", None) is None
    assert conflict_from_metadata("x", [("other", b"")]) is None
    assert conflict_from_metadata("x", [(DETAILS_KEY, b"")]) is None  # a Status with no details


@pytest.mark.parametrize(
    ("details", "named"),
    [
        ("SERVER: Received message larger than max (9 vs. 8)", "wfstored --max-message-bytes"),
        ("CLIENT: Sent message larger than max (9 vs. 8)", "Client(..., max_message_bytes=N)"),
        ("Received message larger than max (9 vs. 8)", "or the client's max_message_bytes="),
    ],
)
def test_an_oversized_message_names_the_setting_that_raises_the_limit(
    details: str, named: str
) -> None:
    error = error_for_status(grpc.StatusCode.RESOURCE_EXHAUSTED, details)
    assert isinstance(error, ResourceExhaustedError)
    assert error.message.startswith(details)
    assert named in error.message


def test_other_resource_exhaustion_is_left_as_it_is() -> None:
    error = error_for_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "disk full")
    assert error.message == "disk full"
