"""The gRPC servicers: decode the request, call the port, encode the reply. Nothing else.

Domain errors become status codes through the one table in :mod:`wfstore.status`; anything
unexpected becomes INTERNAL with a generic message, and its traceback goes to the log only.
A request whose bytes could not be parsed (see :mod:`wfstored.rpc.registration`) is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from wfstore import wire
from wfstore.deadlines import deadline_after
from wfstore.errors import ConflictError, InvalidArgumentError, StoreError
from wfstore.ports import HistoryStore, StateStore
from wfstore.status import conflict_details, status_for_error
from wfstore.v1 import history_pb2, history_pb2_grpc, state_pb2, state_pb2_grpc

from wfstored.rpc.drain import Drain
from wfstored.rpc.registration import UndecodableRequest

__all__ = ["HistoryServicer", "StateServicer"]

_log = logging.getLogger("wfstored.rpc")
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
                with self.drain.call(), deadline_after(context.time_remaining()):
                    return handler(self, _decoded(request), context)
            except _NotFoundError as exc:
                _log.info("%s: NOT_FOUND: %s", name, exc)
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


class StateServicer(state_pb2_grpc.StateServiceServicer, _Servicer):
    """Serves ``wfstore.v1.StateService`` from any :class:`~wfstore.StateStore`."""

    def __init__(self, store: StateStore, drain: Drain) -> None:
        """Serve ``store``, admitting calls through ``drain``."""
        self._store = store
        self.drain = drain

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
    def Load(  # noqa: N802 (gRPC method name)
        self, request: state_pb2.StateServiceLoadRequest, context: grpc.ServicerContext
    ) -> state_pb2.StateServiceLoadResponse:
        """Load a state and its version, or answer NOT_FOUND."""
        stored = self._store.get(request.workflow_id)
        del context
        if stored is None:
            raise _NotFoundError(f"no state stored for workflow id {request.workflow_id!r}")
        return state_pb2.StateServiceLoadResponse(
            state=wire.context_to_proto(stored.state), version=stored.version
        )

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


class HistoryServicer(history_pb2_grpc.HistoryServiceServicer, _Servicer):
    """Serves ``wfstore.v1.HistoryService`` from any :class:`~wfstore.HistoryStore`."""

    def __init__(self, store: HistoryStore, drain: Drain) -> None:
        """Serve ``store``, admitting calls through ``drain``."""
        self._store = store
        self.drain = drain

    @_history
    def Record(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceRecordRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceRecordResponse:
        """Record a finished run."""
        del context
        self._store.record(wire.record_from_proto(request.record))
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
        page = self._store.list_page(
            wire.filter_from_proto(request.filter), request.page_size, request.page_token
        )
        return history_pb2.HistoryServiceListResponse(
            records=[wire.record_to_proto(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    @_history
    def GetStats(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceGetStatsRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceGetStatsResponse:
        """Aggregate matching records."""
        del context
        stats = self._store.get_stats(wire.filter_from_proto(request.filter))
        return history_pb2.HistoryServiceGetStatsResponse(stats=wire.stats_to_proto(stats))

    @_history
    def Cleanup(  # noqa: N802 (gRPC method name)
        self, request: history_pb2.HistoryServiceCleanupRequest, context: grpc.ServicerContext
    ) -> history_pb2.HistoryServiceCleanupResponse:
        """Delete old records."""
        del context
        deleted = self._store.cleanup(wire.duration_from_proto(request.older_than))
        return history_pb2.HistoryServiceCleanupResponse(deleted_count=deleted)
