"""Watch over the wire: iterators that resume by themselves, for both clients.

A pump (a thread, or a task on asyncio) reads the stream into a small queue and, when the
stream breaks (UNAVAILABLE: a daemon restarting or shutting down, a watcher cut off for
reading slowly), opens it again from the token of the last reply it queued, with backoff: the
caller sees every change once, across reconnects and daemons. Other failures end the watch
with their error (OUT_OF_RANGE: :class:`~wfstore.errors.WatchExpiredError`). Opening a watch
waits for the daemon's first reply, so a bad argument or an expired token raises there.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Self

import grpc
import grpc.aio

from wfstore import wire
from wfstore._invoker import AsyncInvoker, Invoker, status_of, trailers_of
from wfstore._retry import RetryPolicy
from wfstore.domain import ExecutionContext, StateEvent, StoredState
from wfstore.errors import DeadlineExceededError, StoreError
from wfstore.status import error_for_status
from wfstore.v1 import state_pb2
from wfstore.validation import check_watch_selector

__all__ = ["AsyncRemoteWatch", "RemoteWatch", "wait_for"]

WATCH_PATH: Final = "/wfstore.v1.StateService/Watch"
_RESUMABLE: Final = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
_BACKOFF: Final = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
_QUEUED: Final = 16
_Item = tuple[list[StateEvent], str] | StoreError | None


class _Resume:
    """The request, the token to resume from, and what a broken stream leads to."""

    def __init__(
        self,
        prefix: str,
        workflow_id: str | None,
        resume_token: str | None,
        *,
        include_state: bool,
        retry: RetryPolicy,
    ) -> None:
        check_watch_selector(prefix, workflow_id, resume_token)
        self._prefix = prefix
        self._workflow_id = workflow_id or ""
        self._ids_only = not include_state
        self.token = resume_token or ""
        self._failures = 0
        self._start_attempts = retry.max_attempts
        self.started = False

    def request(self) -> state_pb2.StateServiceWatchRequest:
        return state_pb2.StateServiceWatchRequest(
            prefix=self._prefix,
            workflow_id=self._workflow_id,
            resume_token=self.token,
            ids_only=self._ids_only,
        )

    def take(self, reply: state_pb2.StateServiceWatchResponse) -> tuple[list[StateEvent], str]:
        events = [wire.event_from_proto(event) for event in reply.events]
        self.token = reply.resume_token or self.token
        self._failures = 0
        self.started = True
        return events, self.token

    def failed(self, exc: grpc.RpcError) -> float:
        """Return how long to wait before opening the stream again, or raise its error."""
        code, details = status_of(exc)
        self._failures += 1
        if code not in _RESUMABLE or (not self.started and self._failures >= self._start_attempts):
            raise error_for_status(code, details, trailers_of(exc))
        return _BACKOFF[min(self._failures - 1, len(_BACKOFF) - 1)]


class RemoteWatch:
    """A watch served by a daemon (a :class:`wfstore.StateWatch`); see ``Client.state.watch``."""

    def __init__(self, invoker: Invoker, resume: _Resume, start_timeout: float | None) -> None:
        """Open the stream and wait up to ``start_timeout`` s (None: no limit) for its start."""
        self._method = invoker.streaming(WATCH_PATH, state_pb2.StateServiceWatchResponse)
        self._metadata = invoker.metadata
        self._resume = resume
        self._token = resume.token
        self._queue: queue.Queue[_Item] = queue.Queue(_QUEUED)
        self._ready: list[StateEvent] = []
        self._closed = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()
        self._failure: StoreError | None = None
        threading.Thread(target=self._pump, name="wfstore-watch", daemon=True).start()
        self._wait_started(start_timeout)

    @property
    def resume_token(self) -> str:
        """The token after the last change (or bookmark) taken from this watch."""
        return self._token

    def poll(self, timeout: float) -> list[StateEvent]:
        """Return the changes that arrive within ``timeout`` seconds (perhaps none)."""
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return []
            if item is None:
                break
            if isinstance(item, StoreError):
                self._failure = item
                self.close()
                raise item
            events, self._token = item
            if events:
                return events
        if self._failure is not None:
            raise self._failure
        return []

    def __iter__(self) -> Self:
        """Return the watch itself."""
        return self

    def __next__(self) -> StateEvent:
        """Block until the next change; StopIteration once the watch or its client closes."""
        while not self._ready:
            if self._closed.is_set():
                raise StopIteration
            self._ready = self.poll(1.0)
        return self._ready.pop(0)

    def close(self) -> None:
        """Stop watching and cancel the stream; idempotent."""
        self._closed.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def __enter__(self) -> Self:
        """Return the watch itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the watch."""
        self.close()

    def _wait_started(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.close()
                raise DeadlineExceededError(f"Watch: no reply from the daemon within {timeout}s")
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item, StoreError):
                self.close()
                raise item
            if item is not None:
                self._ready, self._token = item
            return

    def _pump(self) -> None:
        while not self._closed.is_set():
            call = self._method(self._resume.request(), metadata=self._metadata)
            with self._lock:
                self._call = call
            if self._closed.is_set():
                call.cancel()
                return
            try:
                for reply in call:
                    if not self._put(self._resume.take(reply)):
                        return
                pause = _BACKOFF[0]  # the daemon ended the stream: open it again
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    return
                try:
                    pause = self._resume.failed(exc)
                except StoreError as error:
                    self._put(error)
                    return
            except ValueError:  # the channel was closed under us (the client closed)
                self._put(None)
                return
            self._closed.wait(pause)

    def _put(self, item: _Item) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.2)
            except queue.Full:
                continue
            return True
        return False


class AsyncRemoteWatch:
    """The asyncio watch: ``async for event in watch``; see :meth:`aio.Client.state.watch`."""

    def __init__(self, invoker: AsyncInvoker, resume: _Resume) -> None:
        """Prepare the stream; ``await watch.start()`` (done by the client) opens it."""
        self._method = invoker.streaming(WATCH_PATH, state_pb2.StateServiceWatchResponse)
        self._metadata = invoker.metadata
        self._resume = resume
        self._token = resume.token
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(_QUEUED)
        self._ready: list[StateEvent] = []
        self._closed = asyncio.Event()
        self._call: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def resume_token(self) -> str:
        """The token after the last change (or bookmark) taken from this watch."""
        return self._token

    async def start(self, timeout: float | None) -> None:  # noqa: ASYNC109 (as the client's)
        """Open the stream and wait for the daemon's first reply."""
        self._task = asyncio.get_running_loop().create_task(self._pump())
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            await self.close()
            raise DeadlineExceededError(
                f"Watch: no reply from the daemon within {timeout}s"
            ) from None
        if isinstance(item, StoreError):
            await self.close()
            raise item
        if item is not None:
            self._ready, self._token = item

    async def poll(self, timeout: float) -> list[StateEvent]:  # noqa: ASYNC109
        """Return the changes that arrive within ``timeout`` seconds (perhaps none)."""
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            try:
                item = await asyncio.wait_for(
                    self._queue.get(), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                return []
            if item is None:
                break
            if isinstance(item, StoreError):
                await self.close()
                raise item
            events, self._token = item
            if events:
                return events
        return []

    def __aiter__(self) -> Self:
        """Return the watch itself."""
        return self

    async def __anext__(self) -> StateEvent:
        """Wait for the next change; StopAsyncIteration once the watch or its client closes."""
        while not self._ready:
            if self._closed.is_set():
                raise StopAsyncIteration
            self._ready = await self.poll(1.0)
        return self._ready.pop(0)

    async def close(self) -> None:
        """Stop watching and cancel the stream; idempotent."""
        task = self.abort()
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def abort(self) -> asyncio.Task[None] | None:
        """Stop watching without waiting (for a client closing); return the pump to await."""
        self._closed.set()
        if self._call is not None:
            self._call.cancel()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        return task

    async def __aenter__(self) -> Self:
        """Return the watch itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the watch."""
        await self.close()

    async def _pump(self) -> None:
        while not self._closed.is_set():
            self._call = call = self._method(self._resume.request(), metadata=self._metadata)
            try:
                async for reply in call:
                    await self._queue.put(self._resume.take(reply))
                pause = _BACKOFF[0]
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    return
                try:
                    pause = self._resume.failed(exc)
                except StoreError as error:
                    await self._queue.put(error)
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), pause)


def wait_for(
    get: Callable[[str], StoredState | None],
    watch: Any,  # noqa: ANN401 (any StateWatch, already started)
    workflow_id: str,
    predicate: Callable[[ExecutionContext], bool],
    timeout: float,
) -> StoredState:
    """Return the id's state once ``predicate`` holds for it; DeadlineExceededError if not soon.

    ``watch`` watches the id and was opened before ``get`` reads the state, so a change made
    between the two is not missed.
    """
    deadline = time.monotonic() + timeout
    with watch:
        stored = get(workflow_id)
        if stored is not None and predicate(stored.state):
            return stored
        seen = 0 if stored is None else stored.version
        while (left := deadline - time.monotonic()) > 0:
            for event in watch.poll(left):
                if event.kind == "saved" and event.version > seen and event.state is not None:
                    seen = event.version
                    if predicate(event.state):
                        return StoredState(state=event.state, version=event.version)
    raise DeadlineExceededError(
        f"the state of {workflow_id!r} did not satisfy the condition within {timeout}s"
    )


async def async_wait_for(
    get: Callable[[str], Any],
    watch: AsyncRemoteWatch,
    workflow_id: str,
    predicate: Callable[[ExecutionContext], bool],
    timeout: float,  # noqa: ASYNC109 (a deadline for the whole wait)
) -> StoredState:
    """Return as :func:`wait_for` does, on asyncio; ``get`` is a coroutine function."""
    deadline = time.monotonic() + timeout
    async with watch:
        stored = await get(workflow_id)
        if stored is not None and predicate(stored.state):
            return stored  # type: ignore[no-any-return]
        seen = 0 if stored is None else stored.version
        while (left := deadline - time.monotonic()) > 0:
            for event in await watch.poll(left):
                if event.kind == "saved" and event.version > seen and event.state is not None:
                    seen = event.version
                    if predicate(event.state):
                        return StoredState(state=event.state, version=event.version)
    raise DeadlineExceededError(
        f"the state of {workflow_id!r} did not satisfy the condition within {timeout}s"
    )
