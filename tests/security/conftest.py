"""Fixtures for the security tests: one CA per session, TLS files and tokens per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.daemon import (
    Daemon,
    TLSFiles,
    start_daemon,
    write_tls_files,
    write_token_file,
)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The CA that signs the daemon's and the clients' certificates."""
    return trustme.CA()


@pytest.fixture
def tls_files(tmp_path: Path, ca: trustme.CA) -> TLSFiles:
    """A server certificate for 127.0.0.1 and localhost, and a client certificate."""
    return write_tls_files(tmp_path / "tls", ca)


@pytest.fixture
def token() -> str:
    """A fresh token, different in every test."""
    return secrets.token_urlsafe(32)


@pytest.fixture
def token_file(tmp_path: Path, token: str) -> Path:
    """A token file (0600) accepting ``token``."""
    return write_token_file(tmp_path / "tokens", "# the workers' token", "", token)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons with ``start_daemon``'s arguments; each is stopped (exit 0) afterwards."""
    started: list[Daemon] = []

    def run(data_dir: Path | None = None, **kwargs: Any) -> Daemon:
        daemon = start_daemon(data_dir or tmp_path / f"data{len(started)}", **kwargs)
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:
        code = daemon.stop()
        assert code == 0, f"wfstored exited with {code}:\n{daemon.stderr()}"
