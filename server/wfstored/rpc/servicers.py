"""The gRPC servicers: decode the request, call the port, encode the reply. Nothing else.

Domain errors become status codes through the one table in :mod:`wfstore.status`; anything
unexpected becomes INTERNAL with a generic message, and its traceback goes to the log only.
A request whose bytes could not be parsed (see :mod:`wfstored.rpc.registration`) is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

import grpc
from wfstore import wire
from wfstore.deadlines import deadline_after
from wfstore.domain import StoredState
from wfstore.errors import ConflictError, InvalidArgumentError, StoreError, UnavailableError
from wfstore.ports import HistoryStore, StateStore
from wfstore.status import conflict_details, status_for_error
from wfstore.v1 import (
    daemon_pb2,
    daemon_pb2_grpc,
    history_pb2,
    history_pb2_grpc,
    state_pb2,
    state_pb2_grpc,
)

from wfstored.rpc.daemon_info import DaemonFacts
from wfstored.rpc.drain import Drain
from wfstored.rpc.history_fields import FieldStore, fields_of_message, list_reply
from wfstored.rpc.registration import UndecodableRequest
from wfstored.rpc.state_messages import StateMessages

__all__ = [
    "BOOKMARK_SECONDS",
    "DEFAULT_MAX_WATCHERS",
    "DaemonServicer",
    "HistoryServicer",
    "StateServicer",
]

_log = logging.getLogger("wfstored.rpc")

DEFAULT_MAX_WATCHERS: Final = 256
"""How many Watch streams a daemon serves at once unless told otherwise."""
BOOKMARK_SECONDS: Final = 1.0
"""A watch that moved on without a matching event sends its new token this often."""
_KEEPALIVE_SECONDS: Final = 15.0
_POLL_SECONDS: Final = 0.5
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class _NotFoundError(Exception):
    """Raised by a handler to answer NOT_FOUND (a normal answer, not a domain error)."""


def _translate_errors(service: str) -> Callable[[HandlerT], HandlerT]:
    """Turn exceptions raised by a handler into a status, and log one line per failure."""

    def decorate(handler: HandlerT) -> HandlerT:
        name = f"{service}/{handler.__name__}"

        @functools.wraps(handler)
        def wrapper(self: _Servicer, request: object, context: grpc.ServicerContext) -> object:
            try:
                self.drain.enter()
                try:
                    with deadline_after(context.time_remaining()):
                        return handler(self, _decoded(request), context)
                finally:
                    self.drain.leave()
            except _NotFoundError as exc:
                _log.debug("%s: NOT_FOUND: %s", name, exc)  # a normal answer, not news
                context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except ConflictError as exc:
                _log.info("%s failed: ABORTED: %s", name, exc.message)
                context.set_trailing_metadata(conflict_details(exc))
                context.abort(grpc.StatusCode.ABORTED, exc.message)
            except StoreError as exc:
                code = status_for_error(exc)
                _log.info("%s failed: %s: %s", name, code.name, exc.message)
                context.abort(code, exc.message)
            except Exception:  # noqa: BLE001 (anything else is INTERNAL, with its traceback logged)
                _log.exception("%s failed: INTERNAL", name)
                context.abort(grpc.StatusCode.INTERNAL, "internal error; see the wfstored log")

        return wrapper  # type: ignore[return-value]

    return decorate


def _decoded(request: object) -> object:
    """Return ``request``, or raise INVALID_ARGUMENT if its bytes could not be parsed."""
    if isinstance(request, UndecodableRequest):
        raise InvalidArgumentError(request.describe())
    return request


class _Servicer:
    """What every servicer has: the drain that admits its calls."""

    drain: Drain


_state = _translate_errors("wfstore.v1.StateService")
_history = _translate_errors("wfstore.v1.HistoryService")
_daemon = _translate_errors("wfstore.v1.DaemonService")


class StateServicer(state_pb2_grpc.StateServiceServicer, _Servicer):
    """Serves ``wfstore.v1.StateService`` from any :class:`~wfstore.StateStore`."""

    def __init__(
        self, store: StateStore, drain: Drain, *, max_watchers: int = DEFAULT_MAX_WATCHERS
    ) -> None:
        """Serve ``store``, admitting calls through ``drain`` and up to ``max_watchers`` watches."""
        self._store = store
        self.drain = drain
        self._max_watchers = max_watchers
        self._watch_slots = threading.BoundedSemaphore(max_watchers)
        self.watching = 0
        """How many Watch streams are open now."""
        self._watching_guard = threading.Lock()
        self._messages = StateMessages()
        self._get_projected: Callable[[str, Callable[[StoredState], bytes]], bytes | None] | None
        self._get_projected = getattr(store, "get_projected", None)

    @_state
    def Save(  # noqa: N802 (gRPC method name)
        self, request: state_pb2.StateServiceSaveRequest, context: grpc.ServicerContext
    ) -> state_pb2.StateServiceSaveResponse:
        """Save a state."""
        del context
        expected = request.expected_version if request.HasField("expected_version") else None
        version = self._store.save(
            wire.context_from_proto(request.state), expected_version=expected
        )
        return state_pb2.StateServiceSaveResponse(version=version)

    @_state
    def Load(  # type: ignore[override] # noqa: N802 (gRPC method name; replies serialized, see registration)
        self, request: state_pb2.StateServiceLoadRequest, context: grpc.ServicerContext
    ) -> bytes:
        """Load a state and its version, or answer NOT_FOUND.

        The reply goes out already serialized: a store that can (``get_projected``) keeps
        it while the stored bytes are unchanged, so a state read again is not converted again.
        """
        del context
        if self._get_projected is not None:
            reply = self._get_projected(request.workflow_id, _load_reply)
        else:
            stored = self._store.get(request.workflow_id)
            reply = None if stored is None else _load_reply(stored)
        if reply is None:
            raise _NotFoundError(f"no state stored for workflow id {request.workflow_id!r}")
        return reply

    @_state
    def List(  # noqa: N802 (gRPC method name)
        self, request: state_pb2.StateServiceListRequest, context: grpc.ServicerContext
    ) -> state_pb2.StateServiceListResponse:
        """List one page of workflow ids."""
        del context
        page = self._store.list_page(request.page_size, request.page_token)
        return state_pb2.StateServiceListResponse(
            workflow_ids=page.items, next_page_token=page.next_page_token
        )

    @_state
    def Delete(  # noqa: N802 (gRPC method name)
        self, request: state_pb2.StateServiceDeleteRequest, context: grpc.ServicerContext
    ) -> state_pb2.StateServiceDeleteResponse:
        """Delete a state."""
        del context
        expected = request.expected_version if request.HasField("expected_version") else None
        self._store.delete(request.workflow_id, expected_version=expected)
        return state_pb2.StateServiceDeleteResponse()

    def Watch(  # noqa: N802 (gRPC method name)
        self, request: object, context: grpc.ServicerContext
    ) -> Iterator[state_pb2.StateServiceWatchResponse]:
        """Stream changes: a bookmark first, then events and bookmarks until the call ends."""
        name = "wfstore.v1.StateService/Watch"
        if self.drain.closing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "wfstored is shutting down")
        if not self._watch_slots.acquire(blocking=False):
            _log.warning("%s: refused, %d watchers already", name, self._max_watchers)
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"this wfstored already serves {self._max_watchers} watchers (--max-watchers)",
            )
        with self._watching_guard:
            self.watching += 1
        try:
            yield from self._watch(_decoded(request), context)
        except StoreError as exc:
            code = status_for_error(exc)
            _log.info("%s ended: %s: %s", name, code.name, exc.message)
            context.abort(code, exc.message)
        except Exception:  # noqa: BLE001 (anything else is INTERNAL, with its traceback logged)
            _log.exception("%s failed: INTERNAL", name)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; see the wfstored log")
        finally:
            with self._watching_guard:
                self.watching -= 1
            self._watch_slots.release()

    def _watch(
        self, request: object, context: grpc.ServicerContext
    ) -> Iterator[state_pb2.StateServiceWatchResponse]:
        assert isinstance(request, state_pb2.StateServiceWatchRequest)  # noqa: S101
        watch = self._store.watch(
            request.prefix,
            workflow_id=request.workflow_id or None,
            resume_token=request.resume_token or None,
            include_state=not request.ids_only,
        )
        context.add_callback(watch.close)  # a cancelled call stops polling at once
        share = getattr(watch, "share_states", None)
        if share is not None:
            share()  # read only here: no copy of each state per stream
        with watch:
            sent = watch.resume_token
            yield state_pb2.StateServiceWatchResponse(resume_token=sent)
            last = time.monotonic()
            while context.is_active():
                if self.drain.closing:
                    raise UnavailableError("wfstored is shutting down; resume from the last token")
                events = watch.poll(_POLL_SECONDS)
                now = time.monotonic()
                if events:
                    sent = events[-1].resume_token
                    yield self._messages.reply(events, sent)
                    last = now
                    continue
                token = watch.resume_token
                if (token != sent and now - last >= BOOKMARK_SECONDS) or (
                    now - last >= _KEEPALIVE_SECONDS
                ):
                    sent = token
                    yield state_pb2.StateServiceWatchResponse(resume_token=token)
                    last = now


def _load_reply(stored: StoredState) -> bytes:
    """Return the serialized Load reply for ``stored``."""
    reply = state_pb2.StateServiceLoadResponse(
        state=wire.context_to_proto(stored.state), version=stored.version
    )
    return reply.SerializeToString()


class HistoryServicer(history_pb2_grpc.HistoryServiceServicer, _Servicer):
    """Serves ``wfstore.v1.HistoryService`` from any :class:`~wfstore.HistoryStore`."""

    def __init__(self, store: HistoryStore, drain: Drain) -> None:
        """Serve ``store``, admitting calls through ``drain``.

        Record and List go through the store's fields hook when it has one (see
        :mod:`wfstored.rpc.history_fields`), and through ``wfstore.wire`` otherwise.
        """
        self._store = store
        self.drain = drain
        self._fields = store if isinstance(store, FieldStore) else None

    @_history
    def Record(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceRecordRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceRecordResponse:
        """Record a finished run."""
        del context
        message = request.record
        if self._fields is None or not self._fields.record_fields(fields_of_message(message)):
            self._store.record(wire.record_from_proto(message))  # also what is refused
        return history_pb2.HistoryServiceRecordResponse()

    @_history
    def RecordBatch(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceRecordBatchRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceRecordBatchResponse:
        """Record many finished runs, all or none."""
        del context
        self._store.record_batch([wire.record_from_proto(r) for r in request.records])
        return history_pb2.HistoryServiceRecordBatchResponse()

    @_history
    def List(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceListRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceListResponse:
        """List one page of matching records."""
        del context
        history_filter = wire.filter_from_proto(request.filter)
        if self._fields is not None:
            return list_reply(
                self._fields.list_page_fields(history_filter, request.page_size, request.page_token)
            )
        page = self._store.list_page(history_filter, request.page_size, request.page_token)
        return history_pb2.HistoryServiceListResponse(
            records=[wire.record_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    @_history
    def GetStats(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceGetStatsRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceGetStatsResponse:
        """Aggregate matching records, and break them down by ``group_by`` if it is set."""
        del context
        group_by = wire.grouping_from_proto(request.group_by)
        history_filter = wire.filter_from_proto(request.filter)
        if group_by is None:
            stats = self._store.get_stats(history_filter, percentiles=request.percentiles)
            return history_pb2.HistoryServiceGetStatsResponse(stats=wire.stats_to_proto(stats))
        breakdown = self._store.get_stats_breakdown(
            history_filter, group_by=group_by, percentiles=request.percentiles
        )
        return wire.stats_reply_to_proto(breakdown)

    @_history
    def Cleanup(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceCleanupRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceCleanupResponse:
        """Delete old records."""
        del context
        deleted = self._store.cleanup(wire.duration_from_proto(request.older_than))
        return history_pb2.HistoryServiceCleanupResponse(deleted_count=deleted)


class DaemonServicer(daemon_pb2_grpc.DaemonServiceServicer, _Servicer):
    """Serves ``wfstore.v1.DaemonService``: what this daemon is and what its stores hold."""

    def __init__(self, facts: DaemonFacts, drain: Drain) -> None:
        """Describe the daemon from ``facts``, admitting calls through ``drain``."""
        self._facts = facts
        self.drain = drain

    @_daemon
    def GetServerInfo(  # noqa: N802 (gRPC method name)
        self, request: daemon_pb2.DaemonServiceGetServerInfoRequest, context: grpc.ServicerContext
    ) -> daemon_pb2.DaemonServiceGetServerInfoResponse:
        """Describe the daemon and count what its stores hold."""
        del request, context
        return wire.server_info_to_proto(self._facts.describe())
