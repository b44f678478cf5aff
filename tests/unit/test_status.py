"""The one table between status codes and wfstore errors, read in both directions."""

from __future__ import annotations

import grpc
import pytest
import wfstore.errors
from wfstore.errors import StoreError, UnavailableError
from wfstore.status import error_for_status, status_for_error


@pytest.mark.parametrize(
    "name", [n for n in wfstore.errors.__all__ if n not in {"StoreError", "StoreClosedError"}]
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
