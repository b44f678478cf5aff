"""Listeners: binding TCP addresses and Unix sockets, with one clear line when one cannot be.

TCP listeners serve TLS when the server has credentials; Unix sockets are always plaintext,
guarded by their file mode instead, and are created with that mode (never briefly wider). A
socket file left by a crashed server is removed; one another server answers on is refused.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import grpc

__all__ = ["ListenError", "ListenOptions", "bind", "socket_path"]


class ListenError(Exception):
    """A listen address could not be bound; the message says which and why."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ListenOptions:
    """How every listener of a server is bound."""

    tls: grpc.ServerCredentials | None = None
    """TCP listeners serve TLS with these; Unix sockets are always plaintext."""
    socket_mode: int = 0o600
    """The permission bits Unix sockets are created with."""
    reuse_port: bool = False
    """Share a TCP port other processes listen on with SO_REUSEPORT rather than refuse it
    (the server must set ``grpc.so_reuseport`` too)."""


def bind(server: grpc.Server, address: str, sockets: list[str], options: ListenOptions) -> str:
    """Bind ``address`` as ``options`` say and return it with the real port (for port 0).

    Unix sockets' paths are appended to ``sockets``. TCP listeners serve TLS when
    ``options.tls`` is given; Unix sockets are always plaintext, guarded by their file mode.
    """
    tls, socket_mode = options.tls, options.socket_mode
    if address.startswith("unix:"):
        path = socket_path(address)
        _refuse_unusable_directory(path)
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
        _refuse_taken_port(host.strip("[]"), int(port_text), address, options.reuse_port)
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


def _refuse_taken_port(host: str, port: int, address: str, reuse_port: bool) -> None:
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
            if reuse_port:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                raise ListenError(f"cannot listen on {address}: {exc.strerror}") from None


def socket_path(address: str) -> str:
    """Return the file path of a ``unix:`` listen address (``unix:///abs`` or ``unix:rel``)."""
    rest = address.removeprefix("unix:")
    return "/" + rest.lstrip("/") if rest.startswith("//") else rest


def _refuse_unusable_directory(path: str) -> None:
    """Fail with one clear line if the socket's directory is missing or not writable.

    gRPC would also fail, but it logs an error line of its own (``add_port.cc``) first.
    """
    directory = Path(path).parent
    if not directory.is_dir():
        raise ListenError(f"cannot listen on unix:{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ListenError(f"cannot listen on unix:{path}: directory {directory} is not writable")


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
