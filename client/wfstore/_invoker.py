"""Runs one unary RPC: deadline, retries and error mapping, in one place for every call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from wfstore._retry import RetryPolicy
from wfstore._status import error_for_status
from wfstore.errors import DeadlineExceededError, StoreError

__all__ = ["Invoker", "NotFound"]

_log = logging.getLogger("wfstore.client")
ResponseT = TypeVar("ResponseT")


class NotFound(Exception):  # noqa: N818 (a signal, not an error users see)
    """Raised by :meth:`Invoker.call` for NOT_FOUND so the caller can map it to ``None``."""


class Invoker:
    """Calls stub methods with the client's deadline and retry policy.

    Every ``grpc.RpcError`` leaves here as a :class:`~wfstore.errors.StoreError` (or
    :class:`NotFound`); callers never see gRPC's exceptions.
    """

    def __init__(self, *, timeout: float | None, retry: RetryPolicy) -> None:
        """Use ``timeout`` seconds per call (all attempts together; None: no deadline)."""
        self._timeout = timeout
        self._retry = retry

    def call(
        self,
        method: Callable[..., ResponseT],
        request: Any,  # noqa: ANN401 (any request message)
        *,
        name: str,
        idempotent: bool,
    ) -> ResponseT:
        """Return ``method(request)``'s response, retrying UNAVAILABLE if ``idempotent``."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        attempts = self._retry.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError(f"{name}: deadline of {self._timeout}s exceeded")
            try:
                return method(request, timeout=remaining)
            except grpc.RpcError as exc:
                code, details = _status_of(exc)
                if code is grpc.StatusCode.NOT_FOUND:
                    raise NotFound(details) from None
                if code is not grpc.StatusCode.UNAVAILABLE or attempt == attempts:
                    raise _error(name, code, details) from None
                pause = self._retry.backoff(attempt)
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                _log.info("%s: UNAVAILABLE (%s); retry %d in %.3fs", name, details, attempt, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


def _status_of(exc: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else None) or str(exc)
    return code, details


def _error(name: str, code: grpc.StatusCode, details: str) -> StoreError:
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceededError(f"{name}: {details}")
    return error_for_status(code, details)
