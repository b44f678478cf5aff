"""The gRPC server: both services, health and reflection, started on its listeners, and stopped.

:func:`start_server` takes the two ports (any :class:`~wfstore.StateStore` and
:class:`~wfstore.HistoryStore`) and its own :class:`RpcOptions`; it knows no backend and no
command line.
"""

from __future__ import annotations

import logging
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from wfstore import DEFAULT_MAX_MESSAGE_BYTES
from wfstore.ports import HistoryStore, StateStore

from wfstored.rpc.auth import TokenAuthenticator
from wfstored.rpc.daemon_info import DaemonFacts
from wfstored.rpc.drain import Drain
from wfstored.rpc.handlers import Interceptor
from wfstored.rpc.listeners import ListenError, ListenOptions, bind
from wfstored.rpc.registration import SERVICES, add_services
from wfstored.rpc.servicers import (
    DEFAULT_MAX_WATCHERS,
    DaemonServicer,
    HistoryServicer,
    StateServicer,
)
from wfstored.rpc.store_health import StoreHealthWatcher

__all__ = [
    "DEFAULT_SOCKET_MODE",
    "DEFAULT_WORKERS",
    "SERVICE_NAMES",
    "UNAUTHENTICATED_METHODS",
    "Protection",
    "RpcOptions",
    "RunningServer",
    "start_server",
]

_log = logging.getLogger("wfstored")

DEFAULT_WORKERS: Final = 16
"""How many threads serve calls unless told otherwise."""
DEFAULT_SOCKET_MODE: Final = 0o600
"""The mode of the Unix sockets the server creates: only its own user may connect."""
SERVICE_NAMES: Final = tuple(service.full_name for service in SERVICES)
"""The fully qualified names of the services wfstored hosts."""
UNAUTHENTICATED_METHODS: Final = (
    f"/{health.SERVICE_NAME}/Check",
    f"/{health.SERVICE_NAME}/Watch",
)
"""The methods a caller may use without a token: health only, for probes and load balancers."""


@dataclass(frozen=True, kw_only=True)
class Protection:
    """What guards the listeners: TLS credentials for TCP, and accepted tokens for every one."""

    tls: grpc.ServerCredentials | None = None
    tokens: tuple[bytes, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RpcOptions:
    """How the gRPC server listens and serves; the daemon builds it from its configuration."""

    listen: tuple[str, ...]
    """``host:port`` (port 0: any free port) or ``unix:///path`` addresses, checked already."""
    workers: int = DEFAULT_WORKERS
    """Threads serving calls."""
    max_watchers: int = DEFAULT_MAX_WATCHERS
    """Watch streams served at once; each has a thread of its own, beside ``workers``."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest request or reply; larger ones get RESOURCE_EXHAUSTED."""
    socket_mode: int = DEFAULT_SOCKET_MODE
    """The permission bits of the Unix sockets."""
    reuse_port: bool = False
    """Let other processes that ask for it too listen on the same TCP ports (SO_REUSEPORT)."""
    protection: Protection = field(default_factory=Protection)
    """TLS on TCP listeners, and the tokens every call but health must carry."""
    health_interval: float = 2.0
    """How often stores that can be pinged are checked for the health service, in seconds."""
    observers: tuple[Interceptor, ...] = ()
    """Interceptors that watch every call (metrics, tracing), outermost first; they run before
    the token check, so refused calls are seen too."""


@dataclass(kw_only=True)
class RunningServer:
    """A started server, the addresses it is bound to, and how to stop it."""

    server: grpc.Server
    health: health.HealthServicer
    drain: Drain
    watcher: StoreHealthWatcher
    addresses: list[str]
    sockets: list[str] = field(default_factory=list)

    def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, and let in-flight ones finish within ``grace``.

        New calls get UNAVAILABLE while in-flight ones finish; health stays reachable and says
        NOT_SERVING until the listeners close.
        """
        started = time.monotonic()
        self.watcher.stop()
        self.health.enter_graceful_shutdown()
        if not self.drain.close(grace):
            _log.warning("calls still in flight after %.1fs of grace; cancelling them", grace)
        self.server.stop(max(0.0, grace - (time.monotonic() - started))).wait()
        for path in self.sockets:
            Path(path).unlink(missing_ok=True)


def start_server(options: RpcOptions, state: StateStore, history: HistoryStore) -> RunningServer:
    """Build, bind and start a server for ``state`` and ``history``; raise ListenError.

    With ``options.protection``, TCP listeners serve TLS and every call but health needs a
    token.
    """
    protection = options.protection
    interceptors: list[Interceptor] = list(options.observers)
    if protection.tokens:
        interceptors.append(TokenAuthenticator(protection.tokens, exempt=UNAUTHENTICATED_METHODS))
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=options.workers + options.max_watchers, thread_name_prefix="wfstored"
        ),
        interceptors=interceptors,
        options=[
            # A port in use is an error unless several daemons are meant to share it.
            ("grpc.so_reuseport", int(options.reuse_port)),
            ("grpc.max_send_message_length", options.max_message_bytes),
            ("grpc.max_receive_message_length", options.max_message_bytes),
        ],
    )
    drain = Drain()
    state_servicer = StateServicer(state, drain, max_watchers=options.max_watchers)
    facts = DaemonFacts(
        stores=(("state", state), ("history", history)),
        open_watches=lambda: state_servicer.watching,
    )
    add_services(
        server, state_servicer, HistoryServicer(history, drain), DaemonServicer(facts, drain)
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    services = dict(zip(SERVICE_NAMES[:2], (state, history), strict=True))
    watcher = StoreHealthWatcher(health_servicer, services, options.health_interval)
    listening = ListenOptions(
        tls=protection.tls, socket_mode=options.socket_mode, reuse_port=options.reuse_port
    )
    running = RunningServer(
        server=server, health=health_servicer, drain=drain, watcher=watcher, addresses=[]
    )
    try:
        for address in options.listen:
            bound = bind(server, address, running.sockets, listening)
            running.addresses.append(bound)
            facts.listeners.append(bound)
    except ListenError:
        server.stop(None)
        raise
    server.start()
    for path in running.sockets:
        Path(path).chmod(options.socket_mode)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    watcher.start()
    return running
