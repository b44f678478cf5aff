"""Every exit code of ``wfstore``, each failure one line on stderr and never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from wfstore import ExecutionContext

from tests.cli.runner import one_error_line, run_cli
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def test_0_ok(daemon: Daemon) -> None:
    done = run_cli("-a", daemon.tcp_target, "state", "ls")
    assert (done.returncode, done.stderr) == (0, "")


def test_1_not_found(daemon: Daemon) -> None:
    for args in (["state", "get", "missing"], ["state", "rm", "missing", "--yes"]):
        done = run_cli("-a", daemon.tcp_target, *args)
        assert done.returncode == 1
        assert (
            one_error_line(done.stderr)
            == "wfstore: error: no state stored for workflow id 'missing'"
        )


@pytest.mark.parametrize(
    "args",
    [
        ["state", "nonsense"],
        ["history", "ls", "--since", "yesterday-ish"],
        ["history", "cleanup", "--older-than", "thirty days", "--yes"],
        ["history", "ls", "-n", "0"],
        ["-o", "yaml", "status"],
        ["state", "get", ""],
        ["--token-file", "/nonexistent/token", "status"],
    ],
)
def test_2_usage(daemon: Daemon, args: list[str]) -> None:
    done = run_cli("-a", daemon.tcp_target, *args)
    assert done.returncode == 2, done
    one_error_line(done.stderr)


def test_2_a_destructive_command_without_yes_and_without_a_terminal(daemon: Daemon) -> None:
    with daemon.client() as client:
        client.state.save(ExecutionContext.new("keep-me", "deploy"))
    done = run_cli("-a", daemon.tcp_target, "state", "rm", "keep-me")
    assert done.returncode == 2
    assert "without --yes" in one_error_line(done.stderr)
    with daemon.client() as client:
        assert client.state.load("keep-me") is not None
    done = run_cli("-a", daemon.tcp_target, "state", "put", "x", stdin="not json")
    assert done.returncode == 2
    assert "not an awf state file" in one_error_line(done.stderr)


def test_3_unavailable(tmp_path: Path) -> None:
    for address in (_closed_port(), f"unix://{tmp_path}/nobody.sock"):
        done = run_cli("-a", address, "--timeout", "2", "state", "ls")
        assert done.returncode == 3, done
        assert one_error_line(done.stderr).startswith("wfstore: error: the daemon is unavailable: ")


def test_4_conflict(daemon: Daemon) -> None:
    with daemon.client() as client:
        client.state.save(ExecutionContext.new("taken", "deploy"))
    done = run_cli(
        "-a", daemon.tcp_target, "state", "put", "taken", "--expected-version", "0", stdin="{}"
    )
    assert done.returncode == 4
    assert "expected no stored state" in one_error_line(done.stderr)


def test_5_other_error(daemon: Daemon) -> None:
    # A daemon without tokens is asked with a token it cannot check: still served. A daemon
    # with tokens asked without one: UNAUTHENTICATED, which is "other" (see test_cli_security).
    # Here: a stored state the daemon cannot decode is DATA_LOSS.
    (daemon.data_dir / "state" / "broken.json").write_text("{not json")
    done = run_cli("-a", daemon.tcp_target, "state", "get", "broken")
    assert done.returncode == 5, done
    assert "broken" in one_error_line(done.stderr)
