"""How the daemon's listeners are protected: read the TLS and token files, say what is exposed."""

from __future__ import annotations

import logging

from wfstored.daemon.config import Config, is_loopback_address
from wfstored.rpc.auth import TokenFileError, parse_tokens
from wfstored.rpc.secret_files import SecretFileError, read_secret_file
from wfstored.rpc.server import Protection
from wfstored.rpc.tls import TLSError, server_credentials

__all__ = ["ProtectionError", "describe_protection", "load_protection", "warn_about_exposure"]

_log = logging.getLogger("wfstored")


class ProtectionError(Exception):
    """A TLS or token file cannot be used; the message is the one line the daemon prints."""


def load_protection(config: Config) -> Protection:
    """Read the TLS files and the token file the configuration names."""
    tls = None
    tokens: tuple[bytes, ...] = ()
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            tls = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
        if config.auth_token_file is not None:
            path = config.auth_token_file
            tokens = parse_tokens(read_secret_file(path, "token file"), path)
    except (TLSError, TokenFileError, SecretFileError) as exc:
        raise ProtectionError(str(exc)) from None
    return Protection(tls=tls, tokens=tokens)


def describe_protection(config: Config, protection: Protection) -> str:
    """Return one line saying how the listeners are protected (never a token)."""
    if protection.tls is None:
        tcp = "plaintext"
    elif config.tls_client_ca is None:
        tcp = "TLS"
    else:
        tcp = "mutual TLS (client certificates required)"
    auth = (
        f"a token ({len(protection.tokens)} accepted) on every call but health"
        if protection.tokens
        else "no token"
    )
    parts = []
    if any(not address.startswith("unix:") for address in config.listen):
        parts.append(f"TCP listeners use {tcp}")
    if any(address.startswith("unix:") for address in config.listen):
        parts.append(f"unix sockets are mode {config.socket_mode:03o}")
    return "; ".join([*parts, auth])


def warn_about_exposure(config: Config, protection: Protection) -> None:
    """Log what is allowed but risky: clear-text tokens off this machine, open sockets."""
    exposed = [a for a in config.listen if not is_loopback_address(a)]
    if exposed and protection.tls is None:
        if protection.tokens:
            _log.warning(
                "tokens travel in clear text to %s; anyone on the path can read and reuse them "
                "(give --tls-cert and --tls-key)",
                ", ".join(exposed),
            )
        else:
            _log.warning(
                "--insecure: %s accepts calls from anyone who can reach it", ", ".join(exposed)
            )
    sockets = [a for a in config.listen if a.startswith("unix:")]
    if sockets and config.socket_mode & 0o007 and not protection.tokens:
        _log.warning(
            "socket mode %03o lets every local user call %s with no token",
            config.socket_mode,
            ", ".join(sockets),
        )
