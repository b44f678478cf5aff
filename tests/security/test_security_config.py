"""The security flags, their WFSTORE_* variables, the token file format and secret-file modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wfstored.daemon.config import ConfigError, is_loopback_address, parse_config
from wfstored.rpc.auth import TokenAuthenticator, TokenFileError, parse_tokens
from wfstored.rpc.secret_files import SecretFileError, read_secret_file


def test_every_security_flag_has_a_variable() -> None:
    env = {
        "WFSTORE_TLS_CERT": "/etc/wfstore/cert.pem",
        "WFSTORE_TLS_KEY": "/etc/wfstore/key.pem",
        "WFSTORE_TLS_CLIENT_CA": "/etc/wfstore/ca.pem",
        "WFSTORE_AUTH_TOKEN_FILE": "/etc/wfstore/tokens",
        "WFSTORE_INSECURE": "true",
        "WFSTORE_SOCKET_MODE": "660",
    }
    config = parse_config([], env)
    assert config.tls_cert == Path("/etc/wfstore/cert.pem")
    assert config.tls_key == Path("/etc/wfstore/key.pem")
    assert config.tls_client_ca == Path("/etc/wfstore/ca.pem")
    assert config.auth_token_file == Path("/etc/wfstore/tokens")
    assert config.insecure is True
    assert config.socket_mode == 0o660


def test_the_defaults_are_closed() -> None:
    config = parse_config([], {})
    assert config.tls_cert is None
    assert config.auth_token_file is None
    assert config.insecure is False
    assert config.socket_mode == 0o600


def test_an_exposed_listener_from_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0:1"):
        parse_config([], {"WFSTORE_LISTEN": "0.0.0.0:1"})
    assert parse_config(["--insecure"], {"WFSTORE_LISTEN": "0.0.0.0:1"}).insecure


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--tls-cert", "c.pem"], "must be given together"),
        (["--tls-key", "k.pem"], "must be given together"),
        (["--tls-client-ca", "ca.pem"], "needs --tls-cert"),
        (["--socket-mode", "8"], "octal"),
        (["--socket-mode", "1777"], "between 000 and 777"),
        (["--socket-mode", "060"], "owner read and write"),
    ],
)
def test_bad_security_settings(argv: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config(argv, {})


def test_a_bad_insecure_variable() -> None:
    with pytest.raises(ConfigError, match="true or false"):
        parse_config([], {"WFSTORE_INSECURE": "maybe"})


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("localhost:1", True),
        ("[::1]:1", True),
        ("unix:///run/w.sock", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        ("192.168.1.2:1", False),
        ("myhost:1", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_the_token_file_format(tmp_path: Path) -> None:
    data = b"# rotated 2025-06\n\n  first-token-0123456789  \n#second\nsecond-token-abcdefghij\r\n"
    assert parse_tokens(data, tmp_path) == (b"first-token-0123456789", b"second-token-abcdefghij")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "holds no token"),
        (b"# nothing\n \n", "holds no token"),
        (b"ok-token-0123456789\nshort\n", "line 2: the token has 5 characters"),
        (b"tab\tinside-a-long-token\n", "line 1: a token must be printable ASCII"),
        ("caf\u00e9-long-enough-token".encode(), "line 1: a token must be printable ASCII"),
    ],
)
def test_unusable_token_files(tmp_path: Path, data: bytes, problem: str) -> None:
    with pytest.raises(TokenFileError, match=problem):
        parse_tokens(data, tmp_path)


def test_the_authenticator_compares_with_every_token() -> None:
    tokens = (b"first-token-0123456789", b"second-token-abcdefghij")
    auth = TokenAuthenticator(tokens, exempt=())
    assert auth.accepts(b"first-token-0123456789")
    assert auth.accepts(b"second-token-abcdefghij")
    assert not auth.accepts(b"first-token-012345678")  # a prefix
    assert not auth.accepts(b"first-token-01234567890")  # longer
    assert not auth.accepts(b"")


def _secret(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(b"s3cret-value-of-some-length\n")
    path.chmod(mode)
    return path


def test_a_private_secret_file_is_read(tmp_path: Path) -> None:
    assert read_secret_file(_secret(tmp_path, 0o600), "token file").startswith(b"s3cret")
    assert read_secret_file(_secret(tmp_path, 0o400), "token file").startswith(b"s3cret")


def test_a_group_readable_secret_is_accepted_only_from_root(tmp_path: Path) -> None:
    path = _secret(tmp_path, 0o640)
    if os.geteuid() == 0:  # the file is root's: 0640 is allowed, as PostgreSQL allows it
        assert read_secret_file(path, "token file")
    else:
        with pytest.raises(SecretFileError, match="has mode 640"):
            read_secret_file(path, "token file")


@pytest.mark.parametrize("mode", [0o604, 0o606, 0o660, 0o666, 0o610])
def test_a_secret_file_others_can_reach_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(SecretFileError, match=f"has mode {mode:03o}"):
        read_secret_file(_secret(tmp_path, mode), "token file")


def test_a_secret_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="not a regular file"):
        read_secret_file(tmp_path, "token file")
