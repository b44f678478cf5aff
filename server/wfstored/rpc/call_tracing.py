"""An OpenTelemetry span for every call, continuing the caller's trace.

:class:`CallTracing` is a server interceptor. It reads the caller's context from the call's
metadata with the configured propagator (W3C ``traceparent`` and ``tracestate`` unless
``OTEL_PROPAGATORS`` says otherwise), starts a SERVER span named after the method
(``wfstore.v1.StateService/Load``) as that context's child, keeps it current while the
handler runs, and ends it with the call's status code. It follows OpenTelemetry's RPC
conventions: ``rpc.system`` ``grpc``, ``rpc.service``, ``rpc.method``,
``rpc.grpc.status_code``; the span's status is ERROR only for the codes that mean the server
failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS).

Only the daemon imports this module, and only when tracing is asked for: it needs
``opentelemetry-api`` (the ``otel`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from wfstored.rpc.handlers import Behavior, Handler, final_code, rebuild, split_method

__all__ = ["SERVER_ERROR_CODES", "CallTracing"]

SERVER_ERROR_CODES: Final = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
"""The status codes that mark a server span as failed (the others are the caller's doing)."""


class CallTracing(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Traces every call with ``tracer``, as a child of the context its metadata carries."""

    def __init__(self, tracer: Tracer) -> None:
        """Start the spans with ``tracer``."""
        self._tracer = tracer

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """Return the method's handler wrapped in a span (None: unknown method)."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata or ()
        carrier = {key: value for key, value in metadata if isinstance(value, str)}

        def start() -> Span:
            service, name = split_method(method)
            return self._tracer.start_span(
                method.lstrip("/"),
                context=propagate.extract(carrier),
                kind=SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            )

        if handler.response_streaming:
            return rebuild(handler, lambda behavior: _streaming(behavior, start))
        return rebuild(handler, lambda behavior: _unary(behavior, start))


def _end(span: Span, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in SERVER_ERROR_CODES:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


def _unary(behavior: Behavior, start: Callable[[], Span]) -> Behavior:
    def traced(request: object, context: grpc.ServicerContext) -> object:
        span = start()
        token = otel_context.attach(trace.set_span_in_context(span))
        raised = True
        try:
            reply = behavior(request, context)
            raised = False
        finally:
            otel_context.detach(token)
            _end(span, final_code(context, raised=raised))
        return reply

    return traced


def _streaming(behavior: Behavior, start: Callable[[], Span]) -> Behavior:
    """Trace a reply stream; the span is current only while the handler makes a reply."""

    def traced(request: object, context: grpc.ServicerContext) -> Iterator[object]:
        span = start()
        current = trace.set_span_in_context(span)
        code = grpc.StatusCode.UNKNOWN
        try:
            token = otel_context.attach(current)
            try:
                replies = iter(behavior(request, context))
            finally:
                otel_context.detach(token)
            while True:
                token = otel_context.attach(current)
                try:
                    reply = next(replies)
                except StopIteration:
                    break
                finally:
                    otel_context.detach(token)
                yield reply
            code = final_code(context, raised=False)
        except GeneratorExit:  # gRPC stopped asking: the caller went away
            code = grpc.StatusCode.CANCELLED
            raise
        except BaseException:
            code = final_code(context, raised=True)
            raise
        finally:
            _end(span, code)

    return traced
