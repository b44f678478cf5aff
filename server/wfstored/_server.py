"""The gRPC server: both services, health, reflection, listeners and graceful shutdown."""

from __future__ import annotations

import logging
import os
import socket
import stat
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from wfstore._ports import HistoryStore, StateStore
from wfstore.v1 import history_pb2, state_pb2

from wfstored._auth import TokenAuthenticator
from wfstored._config import Config
from wfstored._drain import Drain
from wfstored._handlers import add_services
from wfstored._servicers import HistoryServicer, StateServicer

__all__ = [
    "SERVICE_NAMES",
    "UNAUTHENTICATED_METHODS",
    "ListenError",
    "Protection",
    "RunningServer",
    "start_server",
]

_log = logging.getLogger("wfstored")

SERVICE_NAMES = (
    state_pb2.DESCRIPTOR.services_by_name["StateService"].full_name,
    history_pb2.DESCRIPTOR.services_by_name["HistoryService"].full_name,
)
"""The fully qualified names of the services wfstored hosts."""
UNAUTHENTICATED_METHODS = (
    f"/{health.SERVICE_NAME}/Check",
    f"/{health.SERVICE_NAME}/Watch",
)
"""The methods a caller may use without a token: health only, for probes and load balancers."""


class ListenError(Exception):
    """A listen address could not be bound; the message says which and why."""


@dataclass(kw_only=True)
class RunningServer:
    """A started server, the addresses it is bound to, and how to stop it."""

    server: grpc.Server
    health: health.HealthServicer
    drain: Drain
    addresses: list[str]
    sockets: list[str] = field(default_factory=list)

    def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, and let in-flight ones finish within ``grace``.

        New calls get UNAVAILABLE while in-flight ones finish; health stays reachable and says
        NOT_SERVING until the listeners close.
        """
        started = time.monotonic()
        self.health.enter_graceful_shutdown()
        if not self.drain.close(grace):
            _log.warning("calls still in flight after %.1fs of grace; cancelling them", grace)
        self.server.stop(max(0.0, grace - (time.monotonic() - started))).wait()
        for path in self.sockets:
            Path(path).unlink(missing_ok=True)


@dataclass(frozen=True, kw_only=True)
class Protection:
    """What guards the listeners: TLS credentials for TCP, and accepted tokens for every one."""

    tls: grpc.ServerCredentials | None = None
    tokens: tuple[bytes, ...] = ()


def start_server(
    config: Config,
    state: StateStore,
    history: HistoryStore,
    protection: Protection | None = None,
) -> RunningServer:
    """Build, bind and start a server for ``state`` and ``history``; raise ListenError.

    With ``protection``, TCP listeners serve TLS and every call but health needs a token.
    """
    protection = protection or Protection()
    interceptors: list[grpc.ServerInterceptor] = []  # type: ignore[type-arg]
    if protection.tokens:
        interceptors.append(TokenAuthenticator(protection.tokens, exempt=UNAUTHENTICATED_METHODS))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="wfstored"),
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 0),  # a port in use must be an error, not a shared port
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.max_receive_message_length", config.max_message_bytes),
        ],
    )
    drain = Drain()
    add_services(server, StateServicer(state, drain), HistoryServicer(history, drain))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    running = RunningServer(server=server, health=health_servicer, drain=drain, addresses=[])
    try:
        for address in config.listen:
            bound = _bind(server, address, running.sockets, protection.tls, config.socket_mode)
            running.addresses.append(bound)
    except ListenError:
        server.stop(None)
        raise
    server.start()
    for path in running.sockets:
        Path(path).chmod(config.socket_mode)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


def _bind(
    server: grpc.Server,
    address: str,
    sockets: list[str],
    tls: grpc.ServerCredentials | None,
    socket_mode: int,
) -> str:
    """Bind ``address`` and return it with the real port (for port 0).

    TCP listeners serve TLS when ``tls`` is given; Unix sockets are always plaintext, guarded
    by their file mode instead.
    """
    if address.startswith("unix:"):
        path = _socket_path(address)
        _refuse_live_socket(path)
        old_umask = os.umask(0o777 & ~socket_mode)  # born with its mode, never briefly wider
        try:
            _add_port(server, address, None)
        finally:
            os.umask(old_umask)
        sockets.append(path)
        return address
    host, _, port_text = address.rpartition(":")
    if int(port_text) != 0:
        _refuse_taken_port(host.strip("[]"), int(port_text), address)
    port = _add_port(server, address, tls)
    return f"{host}:{port}"


def _add_port(server: grpc.Server, address: str, tls: grpc.ServerCredentials | None) -> int:
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, tls)
    except RuntimeError as exc:
        raise ListenError(f"cannot listen on {address}: {_bind_reason(address, exc)}") from None
    if port == 0 and not address.startswith("unix:"):
        raise ListenError(f"cannot listen on {address}: the address could not be bound")
    return port


def _bind_reason(address: str, exc: RuntimeError) -> str:
    if address.startswith("unix:"):
        return "the socket path cannot be created (does its directory exist and is it writable?)"
    return f"the address is in use or not available on this machine ({exc})"


def _refuse_taken_port(host: str, port: int, address: str) -> None:
    """Fail with one clear line if ``host:port`` cannot be bound.

    gRPC would also fail, but it logs a multi-line error of its own first; probing with a
    plain socket (as gRPC binds: SO_REUSEADDR on) gives the operator one readable line.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {address}: {exc.strerror}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                raise ListenError(f"cannot listen on {address}: {exc.strerror}") from None


def _socket_path(address: str) -> str:
    rest = address.removeprefix("unix:")
    return "/" + rest.lstrip("/") if rest.startswith("//") else rest


def _refuse_live_socket(path: str) -> None:
    """Refuse a path another server answers on; remove a socket left by a crashed one."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenError(f"cannot listen on unix:{path}: it exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        Path(path).unlink()  # nobody listens: a stale socket from a previous run
        return
    finally:
        probe.close()
    raise ListenError(f"cannot listen on unix:{path}: another server is listening there")
