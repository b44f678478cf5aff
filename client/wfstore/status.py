"""The one table between wfstore errors and gRPC status codes, used by both ends of the wire.

Part of the kernel that the client and the daemon share: public and stable within the
``wfstore`` distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped]

from wfstore.errors import (
    AlreadyExistsError,
    ConflictError,
    DataCorruptedError,
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    StoreClosedError,
    StoreError,
    UnauthenticatedError,
    UnavailableError,
    WatchExpiredError,
)
from wfstore.v1 import state_pb2

__all__ = [
    "DETAILS_KEY",
    "conflict_details",
    "conflict_from_metadata",
    "error_for_status",
    "status_for_error",
]

DETAILS_KEY = "grpc-status-details-bin"
"""The trailer that carries a failed call's ``google.rpc.Status`` (gRPC's rich error model)."""

_STATUS_BY_ERROR: dict[type[StoreError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    ConflictError: grpc.StatusCode.ABORTED,
    DataCorruptedError: grpc.StatusCode.DATA_LOSS,
    # A store closed inside the daemon means it is shutting down: retry elsewhere or later.
    StoreClosedError: grpc.StatusCode.UNAVAILABLE,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    WatchExpiredError: grpc.StatusCode.OUT_OF_RANGE,
}

_ERROR_BY_STATUS: dict[grpc.StatusCode, type[StoreError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: WatchExpiredError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.DATA_LOSS: DataCorruptedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    # The clients never cancel a call themselves (asyncio cancellation raises CancelledError),
    # so CANCELLED comes from the daemon: gRPC answers so calls that reach a stopping server.
    grpc.StatusCode.CANCELLED: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


_TOO_LARGE: Final = "message larger than max"
_DAEMON_LIMIT: Final = (
    "the daemon's message size limit: raise wfstored --max-message-bytes "
    "(WFSTORE_MAX_MESSAGE_BYTES, default 16 MiB), or send or ask for less at once"
)
_CLIENT_LIMIT: Final = (
    "this client's message size limit: raise Client(..., max_message_bytes=N) "
    "(default 16 MiB), or send or ask for less at once"
)
_EITHER_LIMIT: Final = (
    "a message size limit: raise wfstored --max-message-bytes or the client's "
    "max_message_bytes= (both default to 16 MiB), or send or ask for less at once"
)


def _size_hint(details: str) -> str:
    """Name the setting that raises the limit a message went over (gRPC says which end)."""
    if "SERVER:" in details:
        return _DAEMON_LIMIT
    if "CLIENT:" in details:
        return _CLIENT_LIMIT
    return _EITHER_LIMIT


def status_for_error(error: StoreError) -> grpc.StatusCode:
    """Return the status code the daemon answers with for a domain error."""
    for cls in type(error).__mro__:
        code = _STATUS_BY_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def error_for_status(
    code: grpc.StatusCode,
    details: str,
    trailers: Sequence[tuple[str, str | bytes]] | None = None,
) -> StoreError:
    """Return the domain error a client raises for a failed call's status, details, trailers.

    An ABORTED call whose trailers hold a VersionConflict is a :class:`ConflictError`.
    """
    if code is grpc.StatusCode.ABORTED:
        conflict = conflict_from_metadata(details, trailers)
        if conflict is not None:
            return conflict
    cls = _ERROR_BY_STATUS.get(code)
    if code is grpc.StatusCode.CANCELLED:
        return UnavailableError(f"wfstored cancelled the call (is it stopping?): {details}")
    if cls is None:
        return StoreError(f"{code.name}: {details}")
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and _TOO_LARGE in details:
        details = f"{details}; over {_size_hint(details)}"
    return cls(details)


def conflict_details(error: ConflictError) -> tuple[tuple[str, bytes]]:
    """Return the trailer of an ABORTED reply: a google.rpc.Status holding a VersionConflict."""
    conflict = state_pb2.VersionConflict(workflow_id=error.workflow_id)
    if error.current_version is not None:
        conflict.current_version = error.current_version
    detail = any_pb2.Any()
    detail.Pack(conflict)
    status = status_pb2.Status(code=code_pb2.ABORTED, message=error.message, details=[detail])
    return ((DETAILS_KEY, status.SerializeToString()),)


def conflict_from_metadata(
    details: str, trailers: Sequence[tuple[str, str | bytes]] | None
) -> ConflictError | None:
    """Return the ConflictError an ABORTED reply's trailers describe, or None if they do not."""
    for key, value in trailers or ():
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            conflict = state_pb2.VersionConflict()
            if detail.Unpack(conflict):
                current = conflict.current_version if conflict.HasField("current_version") else None
                return ConflictError(
                    details, workflow_id=conflict.workflow_id, current_version=current
                )
    return None
