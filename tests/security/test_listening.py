"""Safe listening defaults: no unprotected listener off loopback, private Unix sockets."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from wfstore import Client, UnauthenticatedError

from tests.support.daemon import Daemon, TLSFiles, run_wfstored

pytestmark = pytest.mark.daemon

WILDCARD = "0.0.0.0"  # noqa: S104 (listening on every interface is what is tested)


@pytest.mark.parametrize("address", ["0.0.0.0:0", "[::]:0", "wfstore.example.test:0"])
def test_a_non_loopback_listener_without_protection_is_refused(
    tmp_path: Path, address: str
) -> None:
    result = run_wfstored("--data-dir", str(tmp_path / "data"), "--listen", address)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"refusing to listen on {address} with neither TLS nor a token" in result.stderr
    assert "--insecure" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_one_exposed_listener_among_several_is_refused(tmp_path: Path) -> None:
    result = run_wfstored(
        "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", "--listen", "0.0.0.0:0"
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0:0" in result.stderr


def _through_loopback(daemon: Daemon) -> str:
    """The wildcard listener the daemon reports, reached through loopback."""
    return "127.0.0.1:" + daemon.tcp_target.rpartition(":")[2]


def test_insecure_allows_a_plain_wildcard_listener_and_says_so(
    start: Callable[..., Daemon],
) -> None:
    daemon = start(tcp_host=WILDCARD, extra=["--insecure"])
    assert daemon.tcp_target.startswith("0.0.0.0:")
    with daemon.client(timeout=10) as client:
        assert client.state.list() == []
    assert "--insecure: 0.0.0.0:0 accepts calls from anyone" in daemon.stderr()


def test_a_token_is_enough_for_a_wildcard_listener_with_a_warning(
    start: Callable[..., Daemon], token_file: Path, token: str
) -> None:
    daemon = start(tcp_host=WILDCARD, extra=["--auth-token-file", str(token_file)])
    assert "tokens travel in clear text to 0.0.0.0:0" in daemon.stderr()
    with (
        Client(_through_loopback(daemon), timeout=10) as anonymous,
        pytest.raises(UnauthenticatedError),
    ):
        anonymous.state.list()
    with Client(_through_loopback(daemon), timeout=10, token=token) as client:
        assert client.state.list() == []


def test_tls_is_enough_for_a_wildcard_listener(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(tcp_host=WILDCARD, extra=tls_files.server_flags())
    with Client(_through_loopback(daemon), timeout=10, tls=tls_files.client_tls()) as client:
        assert client.state.list() == []
    assert "accepts calls from anyone" not in daemon.stderr()


def _socket_mode(daemon: Daemon) -> int:
    assert daemon.unix_target is not None
    path = Path(daemon.unix_target.removeprefix("unix://"))
    info = path.stat()
    assert stat.S_ISSOCK(info.st_mode)
    return stat.S_IMODE(info.st_mode)


def test_unix_sockets_are_0600_by_default_even_under_umask_0(
    start: Callable[..., Daemon],
) -> None:
    daemon = start(umask=0)
    assert _socket_mode(daemon) == 0o600
    with daemon.client("unix", timeout=10) as client:
        assert client.state.list() == []


@pytest.mark.parametrize(("flag", "mode"), [("660", 0o660), ("0640", 0o640), ("600", 0o600)])
def test_socket_mode_sets_the_socket_permissions(
    start: Callable[..., Daemon], flag: str, mode: int
) -> None:
    daemon = start(umask=0, extra=["--socket-mode", flag])
    assert _socket_mode(daemon) == mode
    with daemon.client("unix", timeout=10) as client:
        assert client.state.list() == []


def test_a_socket_open_to_everyone_without_a_token_is_warned_about(
    start: Callable[..., Daemon],
) -> None:
    daemon = start(extra=["--socket-mode", "666"])
    assert _socket_mode(daemon) == 0o666
    assert "socket mode 666 lets every local user call" in daemon.stderr()


@pytest.mark.parametrize("value", ["999", "rw", "1777", "400"])
def test_a_bad_socket_mode_is_a_one_line_error(tmp_path: Path, value: str) -> None:
    result = run_wfstored("--data-dir", str(tmp_path / "data"), "--socket-mode", value)
    assert result.returncode == 2
    assert "--socket-mode" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
