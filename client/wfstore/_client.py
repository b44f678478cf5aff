"""The wfstore client: one channel to a wfstored daemon, with ``.state`` and ``.history``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from wfstore import _operations as ops
from wfstore._invoker import Invoker
from wfstore._remote import RemoteHistoryStore, RemoteStateStore
from wfstore._retry import RetryPolicy
from wfstore._security import TLS, channel_security
from wfstore.domain import ServerInfo
from wfstore.errors import DeadlineExceededError

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "Client", "channel_settings"]

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest message sent or received, matching the daemon's default limit."""


def channel_settings(
    max_message_bytes: int, extra: Sequence[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """Return the channel options both clients use, then the caller's own.

    Message limits, and round-robin load balancing: a target with several addresses
    (``ipv4:a:1,b:2``, or a ``dns:///`` name with several records) spreads calls over every
    daemon, and a retried call goes to another one when its daemon has gone away.
    """
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.lb_policy_name", "round_robin"),
        *extra,
    ]


class Client:
    """A connection to a wfstored daemon.

    ``target`` is ``host:port``, ``unix:///path/to.sock``, or several daemons:
    ``ipv4:10.0.0.5:50551,10.0.0.6:50551`` or ``dns:///wfstore.internal:50551``, over which calls
    are spread round-robin (idempotent calls that get UNAVAILABLE are retried on another
    daemon). Connecting is lazy: nothing
    touches the network until the first call or :meth:`wait_until_ready`. Use it as a context
    manager, or call :meth:`close`.

    ``tls`` (a :class:`~wfstore.TLS`) makes the channel use TLS, with a client certificate
    for mutual TLS. ``token`` is sent as ``authorization: Bearer <token>`` with every call; it
    is refused on a plaintext channel to another machine unless ``allow_plaintext_token``.
    A malformed target (``http://...``, no port), bad settings or unreadable files raise
    :class:`~wfstore.errors.InvalidArgumentError` here.
    """

    state: RemoteStateStore
    """The execution-state store (a :class:`~wfstore.StateStore`)."""
    history: RemoteHistoryStore
    """The execution-history store (a :class:`~wfstore.HistoryStore`)."""

    def __init__(  # noqa: PLR0913 (keyword-only settings of a public constructor)
        self,
        target: str,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        channel_options: Sequence[tuple[str, Any]] = (),
        tls: TLS | None = None,
        token: str | None = None,
        allow_plaintext_token: bool = False,
    ) -> None:
        """Prepare a channel to ``target``; ``timeout`` is the per-call deadline in seconds."""
        self._target = target
        security = channel_security(target, tls, token, allow_plaintext_token=allow_plaintext_token)
        options = channel_settings(max_message_bytes, [*security.options, *channel_options])
        if security.credentials is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, security.credentials, options=options)
        invoker = Invoker(
            self._channel,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            metadata=security.metadata,
        )
        self._invoker = invoker
        self.state = RemoteStateStore(invoker)
        self.history = RemoteHistoryStore(invoker)

    @property
    def target(self) -> str:
        """The address this client talks to."""
        return self._target

    def server_info(self) -> ServerInfo:
        """Describe the daemon: version, uptime, listeners, and what each store holds.

        Counting a large store takes a while (see ``DaemonService.GetServerInfo``); a store
        that cannot be counted reports why in its ``error``.
        """
        return self._invoker.call(ops.SERVER_INFO)

    def wait_until_ready(self, timeout: float) -> None:
        """Block until the daemon answers its health check as SERVING, for up to ``timeout`` s.

        Raises :class:`~wfstore.errors.DeadlineExceededError` if it does not in time.
        """
        health = health_pb2_grpc.HealthStub(self._channel)
        deadline = time.monotonic() + timeout
        last = "no answer"
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                reply = health.Check(
                    health_pb2.HealthCheckRequest(), timeout=remaining, wait_for_ready=True
                )
            except grpc.RpcError as exc:
                last = exc.code().name if isinstance(exc, grpc.Call) else str(exc)
                if isinstance(exc, grpc.Call) and exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                    break
            else:
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        raise DeadlineExceededError(
            f"wfstored at {self._target} was not ready within {timeout}s ({last})"
        )

    def close(self) -> None:
        """Close both handles and the channel. Idempotent."""
        self.state.close()
        self.history.close()
        self._channel.close()

    def __enter__(self) -> Self:
        """Return the client itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()
