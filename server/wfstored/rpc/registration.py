"""Registers the wfstore servicers with a server, with deserializers that never raise.

gRPC's Python server answers a request its deserializer cannot parse with INTERNAL ("Exception
deserializing request!") and logs a traceback, before any servicer code runs. Malformed bytes
are the caller's fault, so the deserializers built here never raise: bytes that are not a
valid request message become an :class:`UndecodableRequest`, which the servicer answers with
INVALID_ARGUMENT naming the method (see :mod:`wfstored.rpc.servicers`). A servicer may also
return its reply serialized already (bytes), which is sent as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from wfstore.v1 import daemon_pb2, history_pb2, state_pb2

__all__ = ["SERVICES", "UndecodableRequest", "add_services"]

_Handlers: TypeAlias = "dict[str, grpc.RpcMethodHandler[Any, Any]]"  # stubs-only generic

SERVICES: tuple[ServiceDescriptor, ...] = (
    state_pb2.DESCRIPTOR.services_by_name["StateService"],
    history_pb2.DESCRIPTOR.services_by_name["HistoryService"],
    daemon_pb2.DESCRIPTOR.services_by_name["DaemonService"],
)
"""The services wfstored hosts, as the generated code describes them."""


@dataclass(frozen=True, slots=True)
class UndecodableRequest:
    """A request whose bytes are not a valid message of its method's request type."""

    method: str
    """The full method name, e.g. ``wfstore.v1.StateService/Load``."""
    problem: str
    """What the protobuf decoder said about the bytes."""

    def describe(self) -> str:
        """Return the one-line error the caller gets."""
        return f"{self.method}: the request is not a valid protobuf message ({self.problem})"


def _lenient(method: str, request_type: type[Message]) -> Callable[[bytes], object]:
    """Return a deserializer of ``request_type`` that returns failures instead of raising."""

    def deserialize(data: bytes) -> object:
        try:
            return request_type.FromString(data)
        except DecodeError as exc:
            return UndecodableRequest(method, str(exc))

    return deserialize


def _serializer(reply_type: type[Message]) -> Callable[[object], bytes]:
    """Return a serializer of ``reply_type`` that passes a reply serialized already through."""
    serialize = reply_type.SerializeToString

    def serialize_reply(reply: object) -> bytes:
        if type(reply) is bytes:
            return reply
        return serialize(reply)  # type: ignore[arg-type] # an instance of reply_type

    return serialize_reply


def _handlers(service: ServiceDescriptor, servicer: object) -> _Handlers:
    handlers: _Handlers = {}
    for method in service.methods:
        request_type = GetMessageClass(method.input_type)
        reply_type = GetMessageClass(method.output_type)
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=_lenient(f"{service.full_name}/{method.name}", request_type),
            response_serializer=_serializer(reply_type),
        )
    return handlers


def add_services(server: grpc.Server, *servicers: object) -> None:
    """Register one servicer per service of :data:`SERVICES`, in that order.

    Every method of each service is served by the servicer's method of the same name.
    """
    for service, servicer in zip(SERVICES, servicers, strict=True):
        handlers = _handlers(service, servicer)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )
        # As the generated add_*_to_server does; grpc-stubs does not know this method yet.
        server.add_registered_method_handlers(service.full_name, handlers)  # type: ignore[attr-defined]
