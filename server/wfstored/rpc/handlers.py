"""Rebuilding a gRPC method handler around a new behaviour, for interceptors that observe calls.

gRPC's server interceptors return a :class:`grpc.RpcMethodHandler`; an interceptor that
wants to see a call's start, its end and its status code must return a handler of the same
kind (unary or streaming, each way) whose behaviour wraps the original one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeAlias

import grpc

__all__ = [
    "Behavior",
    "Handler",
    "Interceptor",
    "behavior_of",
    "call_type",
    "final_code",
    "rebuild",
    "split_method",
]

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # stubs-only generic
Interceptor: TypeAlias = "grpc.ServerInterceptor[Any, Any]"  # stubs-only generic
Behavior: TypeAlias = Callable[[Any, grpc.ServicerContext], Any]
"""A handler's behaviour: (request or request iterator, context) -> reply or reply iterator."""

_TYPES: Final = {
    (False, False): "unary",
    (False, True): "server_stream",
    (True, False): "client_stream",
    (True, True): "bidi_stream",
}


def call_type(handler: Handler) -> str:
    """Return the ``grpc_type`` label of ``handler``: unary, server_stream, and so on."""
    return _TYPES[bool(handler.request_streaming), bool(handler.response_streaming)]


def split_method(method: str) -> tuple[str, str]:
    """Return the service and method of a full name such as ``/wfstore.v1.StateService/Load``."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service or "unknown", name


def behavior_of(handler: Handler) -> Behavior:
    """Return the behaviour ``handler`` runs, whatever its kind."""
    if handler.request_streaming:
        found = handler.stream_stream if handler.response_streaming else handler.stream_unary
    else:
        found = handler.unary_stream if handler.response_streaming else handler.unary_unary
    assert found is not None  # noqa: S101 (gRPC sets the one behaviour of the handler's kind)
    return found


def rebuild(handler: Handler, wrap: Callable[[Behavior], Behavior]) -> Handler:
    """Return a handler of ``handler``'s kind and codecs whose behaviour is ``wrap(behaviour)``."""
    behavior = wrap(behavior_of(handler))
    codecs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(behavior, **codecs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(behavior, **codecs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(behavior, **codecs)
    return grpc.unary_unary_rpc_method_handler(behavior, **codecs)


def final_code(context: grpc.ServicerContext, *, raised: bool) -> grpc.StatusCode:
    """Return the status a call ends with: the one set or aborted with, else OK or UNKNOWN.

    ``raised``: the behaviour raised (an abort raises too, after setting its code); an
    exception with no code set is what gRPC answers UNKNOWN. A handler that returned after
    its caller went away (a cancelled Watch ends so) ends CANCELLED.
    """
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined] # not in the stubs
    if code is not None:
        return code
    if raised:
        return grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED
