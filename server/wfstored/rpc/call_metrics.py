"""Prometheus metrics of every call the server handles, under the standard gRPC names.

:class:`CallMetrics` is a server interceptor that counts calls as go-grpc-prometheus and
py-grpc-prometheus name them (``grpc_server_started_total``, ``grpc_server_handled_total``
with ``grpc_code``, ``grpc_server_handling_seconds``, ``grpc_server_msg_received_total``,
``grpc_server_msg_sent_total``; labels ``grpc_type``, ``grpc_service``, ``grpc_method``), and
keeps two gauges of its own: calls in flight and open Watch streams. It is installed only when
the daemon serves metrics, so a daemon without them pays nothing (this module, and
``prometheus_client``, are not even imported).

Each method's label values are bound once and its wrapped handler is reused, so a call costs
a few counter increments and one histogram observation. At most :data:`MAX_METHODS` method
names get labels of their own; calls to further names (only unknown methods, refused) count
under ``other``, so a caller cannot grow the metrics without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from wfstored.rpc.handlers import (
    Behavior,
    Handler,
    call_type,
    final_code,
    rebuild,
    split_method,
)

__all__ = ["HANDLING_BUCKETS", "MAX_METHODS", "WATCH_METHOD", "CallMetrics"]

HANDLING_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""The buckets of ``grpc_server_handling_seconds``: a Load takes ~0.1 ms, a batch ~100 ms."""
MAX_METHODS: Final = 100
"""How many distinct method names get labels of their own; more count under ``other``."""
WATCH_METHOD: Final = "/wfstore.v1.StateService/Watch"
"""The method whose open streams ``wfstore_watch_streams_open`` counts."""
_LABELS: Final = ("grpc_type", "grpc_service", "grpc_method")


class _Families:
    """The metric families, registered in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            _LABELS,
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code.",
            (*_LABELS, "grpc_code"),
            registry=registry,
        )
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC's handler to its end (a stream: its whole life).",
            _LABELS,
            buckets=HANDLING_BUCKETS,
            registry=registry,
        )
        self.received = Counter(
            "grpc_server_msg_received_total",
            "Request messages received (one per unary call).",
            _LABELS,
            registry=registry,
        )
        self.sent = Counter(
            "grpc_server_msg_sent_total",
            "Reply messages sent (one per successful unary call, one per streamed message).",
            _LABELS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "wfstore_rpc_calls_in_flight",
            "RPCs being handled now (open streams included).",
            _LABELS,
            registry=registry,
        )
        self.watches = Gauge(
            "wfstore_watch_streams_open",
            "StateService.Watch streams open now.",
            registry=registry,
        )


class _Method:
    """One method's metrics, its label values bound once."""

    __slots__ = (
        "_families",
        "_handled",
        "_labels",
        "_one_request",
        "_started",
        "in_flight",
        "received",
        "seconds",
        "sent",
    )

    def __init__(self, families: _Families, labels: tuple[str, str, str], *, watch: bool) -> None:
        self._families = families
        self._labels = labels
        self._one_request = labels[0] in {"unary", "server_stream"}
        self._handled: dict[grpc.StatusCode, Any] = {}
        self._started = families.started.labels(*labels)
        self.received = families.received.labels(*labels)
        self.sent = families.sent.labels(*labels)
        self.seconds = families.seconds.labels(*labels)
        self.in_flight = (
            _Both(families.in_flight.labels(*labels), families.watches)
            if watch
            else families.in_flight.labels(*labels)
        )

    def start(self) -> float:
        """Count a call's start; return its start time."""
        self._started.inc()
        if self._one_request:  # a request stream counts each message as it is read
            self.received.inc()
        self.in_flight.inc()
        return time.perf_counter()

    def finish(self, started: float, code: grpc.StatusCode) -> None:
        """Count a call's end with ``code``."""
        self.seconds.observe(time.perf_counter() - started)
        self.in_flight.dec()
        handled = self._handled.get(code)
        if handled is None:
            handled = self._families.handled.labels(*self._labels, code.name)
            self._handled[code] = handled
        handled.inc()


class _Both:
    """Two gauges moved together: a Watch's in-flight gauge and the open-streams one."""

    __slots__ = ("_gauges",)

    def __init__(self, *gauges: Gauge) -> None:
        self._gauges = gauges

    def inc(self) -> None:
        for gauge in self._gauges:
            gauge.inc()

    def dec(self) -> None:
        for gauge in self._gauges:
            gauge.dec()


class CallMetrics(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Counts every call the server handles into ``registry`` (install it first)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        """Register the gRPC metric families in ``registry``."""
        self._families = _Families(registry)
        self._lock = threading.Lock()
        self._methods: dict[str, _Method] = {}
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """Return the method's handler wrapped to count its calls (None: unknown method)."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        metrics = self._method(method, handler)
        wrapped = rebuild(handler, lambda behavior: _observed(behavior, handler, metrics))
        if method in self._methods:  # a registered handler is the same object on every call
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _method(self, method: str, handler: Handler) -> _Method:
        found = self._methods.get(method)
        if found is not None:
            return found
        with self._lock:
            found = self._methods.get(method)
            if found is not None:
                return found
            if len(self._methods) >= MAX_METHODS:
                return _Method(self._families, (call_type(handler), "other", "other"), watch=False)
            service, name = split_method(method)
            found = _Method(
                self._families, (call_type(handler), service, name), watch=method == WATCH_METHOD
            )
            self._methods[method] = found
            return found


def _observed(behavior: Behavior, handler: Handler, metrics: _Method) -> Behavior:
    """Return ``behavior`` counted into ``metrics``, for the handler's kind of call."""
    if handler.request_streaming:
        inner = behavior

        def behavior(requests: Iterator[object], context: grpc.ServicerContext) -> object:
            return inner(_counted(requests, metrics), context)

    if handler.response_streaming:
        return _streaming(behavior, metrics)
    return _unary(behavior, metrics)


def _unary(behavior: Behavior, metrics: _Method) -> Behavior:
    def observed(request: object, context: grpc.ServicerContext) -> object:
        started = metrics.start()
        raised = True
        try:
            reply = behavior(request, context)
            raised = False
        finally:
            code = final_code(context, raised=raised)
            if code is grpc.StatusCode.OK:
                metrics.sent.inc()
            metrics.finish(started, code)
        return reply

    return observed


def _streaming(behavior: Behavior, metrics: _Method) -> Behavior:
    def observed(request: object, context: grpc.ServicerContext) -> Iterator[object]:
        started = metrics.start()
        code = grpc.StatusCode.UNKNOWN
        try:
            for reply in behavior(request, context):
                metrics.sent.inc()
                yield reply
            code = final_code(context, raised=False)
        except GeneratorExit:  # gRPC stopped asking: the caller went away
            code = grpc.StatusCode.CANCELLED
            raise
        except BaseException:
            code = final_code(context, raised=True)
            raise
        finally:
            metrics.finish(started, code)

    return observed


def _counted(requests: Iterable[object], metrics: _Method) -> Iterator[object]:
    for request in requests:
        metrics.received.inc()
        yield request
