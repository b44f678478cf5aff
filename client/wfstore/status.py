"""The one table between wfstore errors and gRPC status codes, used by both ends of the wire.

Part of the kernel that the client and the daemon share: public and stable within the
``wfstore`` distribution.
"""

from __future__ import annotations

import grpc

from wfstore.errors import (
    AlreadyExistsError,
    DataCorruptedError,
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    StoreClosedError,
    StoreError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = ["error_for_status", "status_for_error"]

_STATUS_BY_ERROR: dict[type[StoreError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    DataCorruptedError: grpc.StatusCode.DATA_LOSS,
    # A store closed inside the daemon means it is shutting down: retry elsewhere or later.
    StoreClosedError: grpc.StatusCode.UNAVAILABLE,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
}

_ERROR_BY_STATUS: dict[grpc.StatusCode, type[StoreError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
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


def status_for_error(error: StoreError) -> grpc.StatusCode:
    """Return the status code the daemon answers with for a domain error."""
    for cls in type(error).__mro__:
        code = _STATUS_BY_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def error_for_status(code: grpc.StatusCode, details: str) -> StoreError:
    """Return the domain error a client raises for a failed call's status and details."""
    cls = _ERROR_BY_STATUS.get(code)
    if code is grpc.StatusCode.CANCELLED:
        return UnavailableError(f"wfstored cancelled the call (is it stopping?): {details}")
    if cls is None:
        return StoreError(f"{code.name}: {details}")
    return cls(details)
