"""Runs operations over a channel: deadlines, retries and error mapping, for both clients.

:class:`Attempts` holds the whole policy and is shared; :class:`Invoker` (blocking) and
:class:`AsyncInvoker` (asyncio) only differ in how they wait. Every ``grpc.RpcError`` leaves
here as a :class:`~wfstore.errors.StoreError`; callers never see gRPC's exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

from wfstore._operations import Operation
from wfstore._retry import RetryPolicy
from wfstore.errors import DeadlineExceededError
from wfstore.status import error_for_status

__all__ = ["AsyncInvoker", "Attempts", "Invoker", "status_of", "trailers_of"]

_log = logging.getLogger("wfstore.client")
ResultT = TypeVar("ResultT")
ChannelT = TypeVar("ChannelT", grpc.Channel, grpc.aio.Channel)


class _NotFound(Exception):  # noqa: N818 (a signal, never seen by users)
    """NOT_FOUND for an operation where it means ``None``."""


class Attempts:
    """The attempts of one call: how long each may take, and what a failure leads to."""

    def __init__(self, op: Operation[Any], timeout: float | None, retry: RetryPolicy) -> None:
        """Allow ``timeout`` seconds over all attempts (None: no deadline)."""
        self._op = op
        self._timeout = timeout
        self._retry = retry
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._limit = retry.max_attempts if op.idempotent else 1
        self.number = 1

    def remaining(self) -> float | None:
        """Return the seconds left for the next attempt; raise if there are none."""
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceededError(f"{self._op.name}: deadline of {self._timeout}s exceeded")
        return left

    def failed(self, exc: grpc.RpcError) -> float:
        """Return how long to wait before retrying, or raise the error the caller must see."""
        code, details = status_of(exc)
        if code is grpc.StatusCode.NOT_FOUND and self._op.none_if_not_found:
            raise _NotFound(details) from None
        if code not in _RETRYABLE or self.number >= self._limit:
            if code is grpc.StatusCode.DEADLINE_EXCEEDED:
                raise DeadlineExceededError(f"{self._op.name}: {details}") from None
            raise error_for_status(code, details, trailers_of(exc)) from None
        pause = self._retry.backoff(self.number)
        if self._deadline is not None:
            pause = min(pause, max(0.0, self._deadline - time.monotonic()))
        _log.info(
            "%s: %s (%s); retry %d in %.3fs", self._op.name, code.name, details, self.number, pause
        )
        self.number += 1
        return pause


_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
"""Codes worth another attempt of an idempotent call. The clients never cancel a call
themselves, so CANCELLED comes from a daemon that is stopping, like UNAVAILABLE."""


def status_of(exc: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """Return a failed call's status code and details."""
    if isinstance(exc, grpc.Call | grpc.aio.AioRpcError):
        return exc.code(), exc.details() or exc.code().name
    return grpc.StatusCode.UNKNOWN, str(exc)


def trailers_of(exc: grpc.RpcError) -> Sequence[tuple[str, str | bytes]] | None:
    """Return a failed call's trailing metadata, as pairs."""
    if isinstance(exc, grpc.Call | grpc.aio.AioRpcError):
        items: Any = exc.trailing_metadata() or ()  # sync: _Metadatum tuples; aio: Metadata
        return [(str(item[0]), item[1]) for item in items]
    return None


def _method(channel: Any, cache: dict[str, Any], op: Operation[Any]) -> Any:  # noqa: ANN401
    """Return the channel's callable for ``op`` (sync or aio), made once per channel."""
    method = cache.get(op.path)
    if method is None:
        method = cache[op.path] = channel.unary_unary(
            op.path,
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=op.reply_type.FromString,
        )
    return method


class _Settings(Generic[ChannelT]):
    """What both invokers hold: the channel, the call settings and the method cache."""

    def __init__(
        self,
        channel: ChannelT,
        *,
        timeout: float | None,
        retry: RetryPolicy,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Call over ``channel`` with a per-call ``timeout`` (s), ``retry`` and ``metadata``."""
        self._channel: ChannelT = channel
        self._timeout = timeout
        self._retry = retry
        self._metadata = tuple(metadata) or None
        self._methods: dict[str, Any] = {}

    @property
    def timeout(self) -> float | None:
        """The per-call deadline in seconds, or None."""
        return self._timeout

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of idempotent calls."""
        return self._retry

    @property
    def metadata(self) -> tuple[tuple[str, str], ...] | None:
        """The metadata every call carries (the token), or None."""
        return self._metadata

    def streaming(self, path: str, reply_type: Any) -> Any:  # noqa: ANN401 (sync or aio callable)
        """Return the channel's server-streaming callable for ``path``, made once."""
        method = self._methods.get(path)
        if method is None:
            method = self._methods[path] = self._channel.unary_stream(
                path,
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=reply_type.FromString,
            )
        return method


class Invoker(_Settings[grpc.Channel]):
    """Runs operations on a blocking channel."""

    def call(self, op: Operation[ResultT], *args: object) -> ResultT:
        """Validate ``args``, run ``op`` and return its result."""
        request = op.build(*args)
        method = _method(self._channel, self._methods, op)
        attempts = Attempts(op, self._timeout, self._retry)
        while True:
            try:
                return op.read(
                    method(request, timeout=attempts.remaining(), metadata=self._metadata)
                )
            except grpc.RpcError as exc:
                try:
                    pause = attempts.failed(exc)
                except _NotFound:
                    return None  # type: ignore[return-value]  # only ops that allow None
            time.sleep(pause)


class AsyncInvoker(_Settings[grpc.aio.Channel]):
    """Runs operations on an asyncio channel."""

    async def call(self, op: Operation[ResultT], *args: object) -> ResultT:
        """Validate ``args``, run ``op`` and return its result."""
        request = op.build(*args)
        method = _method(self._channel, self._methods, op)
        attempts = Attempts(op, self._timeout, self._retry)
        while True:
            try:
                reply = await method(request, timeout=attempts.remaining(), metadata=self._metadata)
                return op.read(reply)
            except grpc.RpcError as exc:
                try:
                    pause = attempts.failed(exc)
                except _NotFound:
                    return None  # type: ignore[return-value]  # only ops that allow None
            await asyncio.sleep(pause)
