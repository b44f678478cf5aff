"""The asyncio client: the same surface as :class:`wfstore.Client`, with ``async`` methods.

It runs the same :mod:`~wfstore._operations` through the same retry and error policy as the
blocking client; only the waiting differs.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from wfstore import _operations as ops
from wfstore._client import DEFAULT_MAX_MESSAGE_BYTES, channel_settings
from wfstore._invoker import AsyncInvoker
from wfstore._remote import Handle
from wfstore._retry import RetryPolicy
from wfstore._security import TLS, channel_security
from wfstore._watch import AsyncRemoteWatch, _Resume, async_wait_for
from wfstore.domain import (
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    ServerInfo,
    StatsBreakdown,
    StoredState,
)
from wfstore.errors import DeadlineExceededError

__all__ = ["AsyncHistoryStore", "AsyncStateStore", "Client"]


class AsyncStateStore(Handle):
    """The execution-state store of a wfstored daemon, for asyncio code."""

    _what = "state"

    def __init__(self, invoker: AsyncInvoker) -> None:
        """Run calls through ``invoker``."""
        super().__init__()
        self._invoker = invoker
        self._watches: weakref.WeakSet[AsyncRemoteWatch] = weakref.WeakSet()

    async def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> AsyncRemoteWatch:
        """Watch the saves and deletes of ids starting with ``prefix`` (or of one id).

        ``async for event in await client.state.watch(...)``; as :meth:`wfstore.Client`'s
        ``state.watch``: it resumes by itself and ends when closed or when the client closes.
        """
        self._check_open()
        resume = _Resume(
            prefix,
            workflow_id,
            resume_token,
            include_state=include_state,
            retry=self._invoker.retry,
        )
        watch = AsyncRemoteWatch(self._invoker, resume)
        await watch.start(self._invoker.timeout)
        self._watches.add(watch)
        return watch

    async def wait_for(
        self,
        workflow_id: str,
        predicate: Callable[[ExecutionContext], bool],
        timeout: float,  # noqa: ASYNC109 (a deadline for the whole wait, as the sync client)
    ) -> StoredState:
        """Return the state of ``workflow_id`` once ``predicate(state)`` is true (see Client)."""
        watch = await self.watch(workflow_id=workflow_id)
        return await async_wait_for(self.get, watch, workflow_id, predicate, timeout)

    def close(self) -> None:
        """End this handle and its watches; the daemon and other handles are unaffected."""
        super().close()
        for watch in list(self._watches):
            watch.abort()

    async def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Store ``state`` durably under its workflow id; return its new version.

        ``expected_version`` None replaces whatever is stored; 0 saves only if nothing is
        stored; ``v`` only if the stored version is ``v``; otherwise ConflictError. A
        conditional save is not retried on UNAVAILABLE (its outcome is then unknown).
        """
        self._check_open()
        op = ops.SAVE if expected_version is None else ops.SAVE_IF
        return await self._invoker.call(op, state, expected_version)

    async def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or ``None`` if there is none."""
        self._check_open()
        return await self._invoker.call(ops.LOAD, workflow_id)

    async def get(self, workflow_id: str) -> StoredState | None:
        """Return the state stored under ``workflow_id`` with its version, or ``None``."""
        self._check_open()
        return await self._invoker.call(ops.GET, workflow_id)

    async def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error.

        With ``expected_version``, only if the stored version is that one (a missing id is a
        conflict too); otherwise ConflictError. Not retried on UNAVAILABLE when conditional.
        """
        self._check_open()
        op = ops.DELETE if expected_version is None else ops.DELETE_IF
        await self._invoker.call(op, workflow_id, expected_version)

    async def list(self) -> list[str]:
        """Return every workflow id that has a stored state, sorted (follows all pages)."""
        page = await self.list_page()
        ids = list(page.items)
        while page.next_page_token:
            page = await self.list_page(page_token=page.next_page_token)
            ids.extend(page.items)
        return ids

    async def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting where ``page_token`` left off."""
        self._check_open()
        return await self._invoker.call(ops.LIST_STATES, page_size, page_token)


class AsyncHistoryStore(Handle):
    """The execution-history store of a wfstored daemon, for asyncio code."""

    _what = "history"

    def __init__(self, invoker: AsyncInvoker) -> None:
        """Run calls through ``invoker``."""
        super().__init__()
        self._invoker = invoker

    async def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id with identical content again is a no-op (retry-safe)."""
        self._check_open()
        await self._invoker.call(ops.RECORD, record)

    async def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` (at most 10000) in one transaction, or none of them."""
        self._check_open()
        await self._invoker.call(ops.RECORD_BATCH, records)

    async def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first.

        ``None`` (or no argument) means no filter: the 20 newest records.
        """
        page = await self.list_page(history_filter)
        records = list(page.items)
        while page.next_page_token:
            page = await self.list_page(history_filter, page_token=page.next_page_token)
            records.extend(page.items)
        return records

    async def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off."""
        self._check_open()
        return await self._invoker.call(ops.LIST_HISTORY, history_filter, page_size, page_token)

    async def get_stats(
        self, history_filter: HistoryFilter | None = None, *, percentiles: bool = False
    ) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``None`` (or no argument) means every record. p50/p95/p99 are computed only with
        ``percentiles`` (a pass over the matching durations); without it they are 0.
        """
        self._check_open()
        return await self._invoker.call(ops.GET_STATS, history_filter, percentiles)

    async def get_stats_breakdown(
        self,
        history_filter: HistoryFilter | None = None,
        *,
        group_by: HistoryGrouping = HistoryGrouping.WORKFLOW_NAME,
        percentiles: bool = False,
    ) -> StatsBreakdown:
        """Return the figures of ``get_stats`` over every matching record and per group.

        Groups are ordered by key (byte order of its UTF-8) and add up to the total.
        """
        self._check_open()
        return await self._invoker.call(
            ops.GET_STATS_BREAKDOWN, history_filter, group_by, percentiles
        )

    async def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed before ``now - older_than``; return how many (not retried)."""
        self._check_open()
        return await self._invoker.call(ops.CLEANUP, older_than)


class Client:
    """An asyncio connection to a wfstored daemon; use ``async with``, or ``await close()``.

    ``target`` is ``host:port`` or ``unix:///path/to.sock``. Create it inside a running event
    loop. Connecting is lazy, and ``tls``, ``token`` and ``allow_plaintext_token`` mean what
    they mean for :class:`wfstore.Client`.
    """

    state: AsyncStateStore
    """The execution-state store."""
    history: AsyncHistoryStore
    """The execution-history store."""

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
            self._channel = grpc.aio.insecure_channel(target, options=options)
        else:
            self._channel = grpc.aio.secure_channel(target, security.credentials, options=options)
        invoker = AsyncInvoker(
            self._channel,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            metadata=security.metadata,
        )
        self._invoker = invoker
        self.state = AsyncStateStore(invoker)
        self.history = AsyncHistoryStore(invoker)

    @property
    def target(self) -> str:
        """The address this client talks to."""
        return self._target

    async def server_info(self) -> ServerInfo:
        """Describe the daemon, as :meth:`wfstore.Client.server_info` does."""
        return await self._invoker.call(ops.SERVER_INFO)

    async def wait_until_ready(self, timeout: float) -> None:  # noqa: ASYNC109 (as Client)
        """Wait until the daemon answers its health check as SERVING, for up to ``timeout`` s.

        Raises :class:`~wfstore.errors.DeadlineExceededError` if it does not in time.
        """
        health = health_pb2_grpc.HealthStub(self._channel)
        deadline = time.monotonic() + timeout
        last = "no answer"
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                reply = await health.Check(
                    health_pb2.HealthCheckRequest(), timeout=remaining, wait_for_ready=True
                )
            except grpc.aio.AioRpcError as exc:
                last = exc.code().name
                if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                    break
            else:
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        raise DeadlineExceededError(
            f"wfstored at {self._target} was not ready within {timeout}s ({last})"
        )

    async def close(self) -> None:
        """Close both handles, their watches and the channel. Idempotent."""
        self.state.close()
        self.history.close()
        await self._channel.close(None)

    async def __aenter__(self) -> Self:
        """Return the client itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.close()
