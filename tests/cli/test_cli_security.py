"""``wfstore`` against a protected daemon: TLS options and the token file (never on argv)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.cli.runner import one_error_line, run_cli
from tests.support.daemon import serving, write_tls_files, write_token_file

pytestmark = pytest.mark.daemon
TOKEN = secrets.token_urlsafe(32)


def test_tls_and_token_file(tmp_path: Path) -> None:
    tls = write_tls_files(tmp_path / "tls")
    tokens = write_token_file(tmp_path / "tokens", TOKEN)
    mine = write_token_file(tmp_path / "mine", "# my token", TOKEN)
    flags = [*tls.server_flags(mutual=True), "--auth-token-file", str(tokens)]
    with serving(tmp_path / "data", extra=flags) as daemon:
        tls_args = [
            "--tls-ca",
            str(tls.ca),
            "--tls-cert",
            str(tls.client_cert),
            "--tls-key",
            str(tls.client_key),
        ]
        base = ["-a", daemon.tcp_target, *tls_args]
        done = run_cli(*base, "--token-file", str(mine), "-o", "json", "status")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["pid"] == daemon.process.pid
        env = {
            "WFSTORE_ADDRESS": daemon.tcp_target,
            "WFSTORE_TLS_CA": str(tls.ca),
            "WFSTORE_TLS_CLIENT_CERT": str(tls.client_cert),
            "WFSTORE_TLS_CLIENT_KEY": str(tls.client_key),
            "WFSTORE_TOKEN_FILE": str(mine),
        }
        assert run_cli("state", "ls", env=env).returncode == 0
        # Health needs no token, but TLS still applies.
        assert run_cli(*base, "health").returncode == 0
        # Without the token: UNAUTHENTICATED, exit 5, one line.
        done = run_cli(*base, "status")
        assert done.returncode == 5
        assert "token" in one_error_line(done.stderr).lower()
        # Without TLS, a TLS listener cannot be reached.
        done = run_cli("-a", daemon.tcp_target, "--timeout", "2", "health")
        assert done.returncode == 2
        # The Unix socket is plaintext; the token still applies there.
        assert daemon.unix_target is not None
        done = run_cli("-a", daemon.unix_target, "--token-file", str(mine), "state", "ls")
        assert done.returncode == 0, done.stderr


def test_a_token_file_without_a_token(tmp_path: Path) -> None:
    empty = write_token_file(tmp_path / "empty", "# nothing here", "")
    done = run_cli("--token-file", str(empty), "status")
    assert done.returncode == 2
    assert "holds no token" in one_error_line(done.stderr)
