"""TLS for the daemon's TCP listeners: the server's credentials, checked before it listens."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from wfstored.rpc.secret_files import SecretFileError, read_secret_file

__all__ = ["TLSError", "server_credentials"]


class TLSError(Exception):
    """A TLS file is missing, unreadable, not PEM, or the key does not match the certificate."""


def server_credentials(
    cert: Path, key: Path, client_ca: Path | None = None
) -> grpc.ServerCredentials:
    """Return credentials serving ``cert`` with ``key``; with ``client_ca``, mutual TLS.

    With ``client_ca``, a client must present a certificate signed by one of its CAs or the
    handshake fails. The files are checked here with :mod:`ssl`, so a wrong file is one clear
    error at start-up rather than every client's handshake failing later.
    """
    chain = _read_public(cert, "TLS certificate")
    try:
        private_key = read_secret_file(key, "TLS key")
    except SecretFileError as exc:
        raise TLSError(str(exc)) from None
    _check_pair(cert, key)
    roots = None
    if client_ca is not None:
        roots = _read_public(client_ca, "TLS client CA")
        _check_ca(client_ca, roots)
    return grpc.ssl_server_credentials(
        [(private_key, chain)], root_certificates=roots, require_client_auth=roots is not None
    )


def _read_public(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TLSError(f"cannot read {what} {path}: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise TLSError(f"{what} {path} holds no PEM certificate")
    return data


def _check_pair(cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # An empty password: an encrypted key fails here instead of prompting on the terminal
        # (gRPC cannot use encrypted keys).
        context.load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as exc:
        raise TLSError(
            f"TLS key {key} does not go with certificate {cert}, is encrypted, or is not PEM "
            f"({exc.reason})"
        ) from None


def _check_ca(path: Path, data: bytes) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cadata=data.decode("ascii", errors="replace"))
    except ssl.SSLError as exc:
        raise TLSError(f"TLS client CA {path} is not a valid PEM bundle ({exc.reason})") from None
