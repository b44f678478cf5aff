"""How a client protects its channel: TLS (optionally mutual) and a bearer token.

Both clients call :func:`channel_security` once, when they are built, so a bad combination or
an unreadable file is an :class:`~wfstore.errors.InvalidArgumentError` at construction, before
anything goes over the network.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import grpc

from wfstore._targets import check_target
from wfstore.errors import InvalidArgumentError
from wfstore.transport import TOKEN_PATTERN, is_loopback_host

__all__ = ["TLS", "ChannelSecurity", "channel_security", "is_local_target"]

_LOCAL_SCHEMES: Final = ("unix:", "unix-abstract:")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class TLS:
    """TLS settings for a client: which CAs to trust, and the certificate to show, if any.

    ``ca`` is a PEM file of CA certificates that sign the daemon's certificate (``None``: the
    system's trusted CAs). ``cert`` and ``key`` are the client's certificate chain and private
    key, for a daemon that requires client certificates (mutual TLS); give both or neither.
    ``server_name`` is the name checked against the daemon's certificate when it differs from
    the target's host (e.g. connecting by IP address to a certificate issued for a name).
    """

    ca: PathLike | None = None
    cert: PathLike | None = None
    key: PathLike | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        """Refuse a certificate without its key, or a key without its certificate."""
        if (self.cert is None) != (self.key is None):
            raise InvalidArgumentError(
                "TLS: a client certificate needs its key and a key needs its certificate "
                "(give both cert= and key=, or neither)"
            )
        if self.server_name is not None and not self.server_name.strip():
            raise InvalidArgumentError("TLS: server_name must not be empty")


@dataclass(frozen=True, slots=True)
class ChannelSecurity:
    """What a client needs to open its channel and make its calls."""

    credentials: grpc.ChannelCredentials | None
    """TLS credentials, or ``None`` for a plaintext channel."""
    options: tuple[tuple[str, Any], ...]
    """Channel options TLS needs (the server-name override)."""
    metadata: tuple[tuple[str, str], ...]
    """Metadata sent with every call (the token)."""


def channel_security(
    target: str, tls: TLS | None, token: str | None, *, allow_plaintext_token: bool
) -> ChannelSecurity:
    """Check the settings against ``target`` and return what the channel needs.

    A token is refused on a plaintext channel to another machine unless
    ``allow_plaintext_token``: anyone on the path could read it and reuse it.
    """
    check_target(target)
    local = is_local_target(target)
    if tls is not None and target.startswith(_LOCAL_SCHEMES):
        raise InvalidArgumentError(
            f"TLS is for TCP targets; {target} is a Unix socket, which wfstored serves in "
            "plaintext (its file mode guards it): drop tls="
        )
    metadata: tuple[tuple[str, str], ...] = ()
    if token is not None:
        if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
            raise InvalidArgumentError("token must be a non-empty string of printable ASCII")
        if tls is None and not local and not allow_plaintext_token:
            raise InvalidArgumentError(
                f"refusing to send a token in clear text to {target}: give tls=wfstore.TLS(...), "
                "or allow_plaintext_token=True if the network is trusted"
            )
        metadata = (("authorization", f"Bearer {token}"),)
    if tls is None:
        return ChannelSecurity(None, (), metadata)
    options: tuple[tuple[str, Any], ...] = ()
    if tls.server_name is not None:
        options = (("grpc.ssl_target_name_override", tls.server_name),)
    return ChannelSecurity(_credentials(tls), options, metadata)


def _credentials(tls: TLS) -> grpc.ChannelCredentials:
    roots = None
    if tls.ca is not None:
        roots = _read(tls.ca, "TLS CA file")
        try:
            ssl.create_default_context(cadata=roots.decode("ascii", errors="replace"))
        except ssl.SSLError as exc:
            raise InvalidArgumentError(
                f"TLS CA file {tls.ca} is not a PEM bundle of certificates ({exc.reason})"
            ) from None
    chain = key = None
    if tls.cert is not None and tls.key is not None:
        chain = _read(tls.cert, "TLS client certificate")
        key = _read(tls.key, "TLS client key")
        try:
            # An empty password: an encrypted key fails here instead of prompting.
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(tls.cert, tls.key, password=b"")
        except ssl.SSLError as exc:
            raise InvalidArgumentError(
                f"TLS client key {tls.key} does not go with certificate {tls.cert}, is "
                f"encrypted, or is not PEM ({exc.reason})"
            ) from None
    return grpc.ssl_channel_credentials(
        root_certificates=roots, private_key=key, certificate_chain=chain
    )


def _read(path: PathLike, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {what} {path}: {exc.strerror}") from None


def is_local_target(target: str) -> bool:
    """Return whether ``target`` stays on this machine: a Unix socket or a loopback address.

    Host names other than ``localhost`` count as remote: the client does not resolve them.
    """
    if target.startswith(_LOCAL_SCHEMES):
        return True
    scheme, _, rest = target.partition(":")
    if scheme == "dns":
        addresses = [rest.rsplit("/", 1)[-1]]
    elif scheme in {"ipv4", "ipv6"}:
        addresses = rest.split(",")
    else:
        addresses = [target]
    return all(is_loopback_host(_host(address)) for address in addresses)


def _host(address: str) -> str:
    if address.startswith("["):
        return address[1:].partition("]")[0]
    if address.count(":") == 1:
        return address.partition(":")[0]
    return address
