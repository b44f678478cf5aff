"""Which channel targets a client accepts, checked when it is built.

gRPC takes almost any string as a target and only fails on the first call, with its own text,
which the client would then retry as if the daemon were away. Both clients check the target
first, so a malformed one is an :class:`~wfstore.errors.InvalidArgumentError` at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Final

from wfstore.errors import InvalidArgumentError

__all__ = ["check_target"]

_HOST: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_PORT: Final = re.compile(r"[0-9]{1,5}")
_FORMS: Final = (
    "host:port, [v6]:port, unix:///abs/path, unix:path, ipv4:a:p,b:p, ipv6:[a]:p,..., "
    "dns:///host:port or dns://authority/host:port"
)


def check_target(target: object) -> None:
    """Raise :class:`InvalidArgumentError` unless ``target`` is a gRPC target a client can use."""
    if not isinstance(target, str):
        raise InvalidArgumentError(f"target must be a string, not {type(target).__name__}")
    problem = _problem(target)
    if problem is not None:
        raise InvalidArgumentError(f"bad target {target!r}: {problem}; expected {_FORMS}")


def _problem(target: str) -> str | None:  # noqa: PLR0911 (one answer per form)
    if not target or target != target.strip() or any(c.isspace() for c in target):
        return "it is empty or holds whitespace"
    if target.startswith("unix:"):
        path = target.removeprefix("unix:")
        if path.startswith("//"):
            path = path.removeprefix("//")
            return None if path.startswith("/") and len(path) > 1 else "unix:// needs /abs/path"
        return None if path else "unix: needs a path"
    if target.startswith("unix-abstract:"):
        return None if target.removeprefix("unix-abstract:") else "unix-abstract: needs a name"
    if target.startswith("ipv4:"):
        return _all(target.removeprefix("ipv4:"), _ipv4_address)
    if target.startswith("ipv6:"):
        return _all(target.removeprefix("ipv6:"), _ipv6_address)
    if target.startswith("dns:"):
        return _dns(target.removeprefix("dns:"))
    scheme, sep, _ = target.partition("://")
    if sep:
        return f"{scheme}:// is not a gRPC target scheme (give host:port, without http://)"
    return _host_port(target)


def _dns(rest: str) -> str | None:
    if rest.startswith("//"):
        _authority, sep, name = rest.removeprefix("//").partition("/")
        if not sep:
            return "dns:// needs /host:port after the authority"
        return _host_port(name)
    return _host_port(rest)


def _all(addresses: str, check: Callable[[str], str | None]) -> str | None:
    if not addresses:
        return "no address after the scheme"
    for address in addresses.split(","):
        problem = check(address)
        if problem is not None:
            return problem
    return None


def _ipv4_address(address: str) -> str | None:
    host, sep, port = address.rpartition(":")
    if not sep:
        return f"{address} needs :port"
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return f"{host} is not an IPv4 address"
    return _port(port)


def _ipv6_address(address: str) -> str | None:
    if address.startswith("["):
        host, sep, tail = address.removeprefix("[").partition("]")
        if not sep or (tail and not tail.startswith(":")):
            return f"{address} is not [v6]:port"
        port = tail.removeprefix(":") if tail else None
    else:
        host, port = address, None
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return f"{host} is not an IPv6 address"
    return None if port is None else _port(port)


def _host_port(address: str) -> str | None:
    if address.startswith("["):
        if "]:" not in address:
            return f"{address} is not [v6]:port"
        return _ipv6_address(address)
    host, sep, port = address.rpartition(":")
    if not sep:
        return f"{address} needs :port"
    if not _HOST.fullmatch(host):
        return f"{host or 'the host'} is not a host name or IPv4 address"
    return _port(port)


def _port(port: str) -> str | None:
    if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        return f"port {port or '(none)'} is not a number from 1 to 65535"
    return None
