"""Watch across daemons: changes made through one daemon reach watchers on another, a watch
resumes by itself across a daemon restart, the daemon bounds its watchers, and shutdown ends
streams cleanly. On both backends: a shared data directory, and a shared PostgreSQL database.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from wfstore import Client, ExecutionContext, ResourceExhaustedError

from tests.support.daemon import Daemon, start_daemon
from tests.support.watching import take_events

pytestmark = pytest.mark.daemon


def _state(workflow_id: str, step: str = "") -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy", current_step=step)


@pytest.fixture(params=["files", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The flags that put two daemons on one backend (their data directories differ on PG)."""
    if request.param == "files":
        return []
    return ["--state-store", request.getfixturevalue("postgres_url")]


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def _daemon(stack: ExitStack, data: Path, flags: list[str], **options: Any) -> Daemon:
    daemon = start_daemon(data, extra=flags, **options)
    stack.callback(daemon.stop)
    return daemon


def test_changes_through_one_daemon_reach_watchers_on_another(
    tmp_path: Path, backend: list[str], stack: ExitStack
) -> None:
    first = _daemon(stack, tmp_path / "data", backend)
    second = _daemon(stack, tmp_path / "data", backend, unix=False)
    writer = stack.enter_context(first.client(timeout=10)).state
    reader = stack.enter_context(second.client(timeout=10)).state
    watch = stack.enter_context(reader.watch("run-"))
    versions = [writer.save(_state("run-1", step)) for step in "abc"]
    writer.delete("run-1")
    events = take_events(watch, 4)
    assert [(e.kind, e.version) for e in events[:3]] == [("saved", v) for v in versions]
    assert events[3].kind == "deleted"
    # A token from the second daemon resumes on the first.
    resumed = stack.enter_context(writer.watch("run-", resume_token=events[0].resume_token))
    assert [e.version for e in take_events(resumed, 3)] == [e.version for e in events[1:]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_watch_resumes_by_itself_across_a_daemon_restart(
    tmp_path: Path, backend: list[str], stack: ExitStack
) -> None:
    port = _free_port()
    flags = [*backend, "--listen", f"127.0.0.1:{port}"]
    daemon = start_daemon(tmp_path / "data", unix=False, extra=flags)
    client = stack.enter_context(Client(f"127.0.0.1:{port}", timeout=10))
    watch = stack.enter_context(client.state.watch())
    before = client.state.save(_state("run-1", "before"))
    assert [e.version for e in take_events(watch, 1)] == [before]
    assert daemon.stop() == 0, daemon.stderr()
    other = _daemon(stack, tmp_path / "data", backend, unix=False)  # the daemon is down
    with other.client(timeout=10) as side:
        while_down = side.state.save(_state("run-1", "while down"))
    restarted = _daemon(stack, tmp_path / "data", flags, unix=False)
    client.wait_until_ready(10)
    after = client.state.save(_state("run-1", "after"))
    events = take_events(watch, 2)
    assert [e.version for e in events] == [while_down, after]
    assert watch.poll(0.5) == []
    del restarted


def test_the_daemon_bounds_its_watchers(tmp_path: Path, stack: ExitStack) -> None:
    daemon = _daemon(stack, tmp_path / "data", ["--max-watchers", "2"])
    client = stack.enter_context(daemon.client(timeout=10))
    first = client.state.watch()
    second = client.state.watch()
    with pytest.raises(ResourceExhaustedError, match="--max-watchers"):
        client.state.watch()
    first.close()
    for _ in range(50):  # the daemon notices the cancelled stream within its poll
        try:
            third = client.state.watch()
            break
        except ResourceExhaustedError:
            time.sleep(0.1)
    else:
        pytest.fail("the slot of a closed watch was never given back")
    version = client.state.save(_state("run-1"))
    for watch in (second, third):
        assert [e.version for e in take_events(watch, 1)] == [version]
        watch.close()


def test_shutdown_ends_watch_streams_cleanly(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data")
    with daemon.client(timeout=10) as client:
        watches = [client.state.watch() for _ in range(3)]
        started = time.monotonic()
        assert daemon.stop() == 0
        took = time.monotonic() - started
        for watch in watches:
            watch.close()
    assert took < 5, took
    log = daemon.stderr()
    assert "Traceback" not in log, log
    assert "INTERNAL" not in log, log
