"""A daemon on PostgreSQL while its database goes away and comes back: health, calls, load.

The daemon keeps running; its health service says NOT_SERVING for the stores on the database
while it is down (so load balancers and probes move traffic away), calls fail with
UNAVAILABLE, and once the database is back both recover without restarting the daemon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from wfstore import ExecutionContext, HistoryFilter, RetryPolicy, UnavailableError

from tests.support.daemon import Daemon, start_daemon
from tests.support.factories import record
from tests.support.postgres import PostgresCluster, running_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.daemon]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICES = ["", "wfstore.v1.StateService", "wfstore.v1.HistoryService"]


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, to stop and start."""
    with running_cluster() as cluster:
        yield cluster


def _statuses(target: str) -> list[int]:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return [
            stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
            for name in SERVICES
        ]


def _wait_for(target: str, status: int, seconds: float = 30) -> float:
    started = time.monotonic()
    while _statuses(target) != [status] * len(SERVICES):
        assert time.monotonic() - started < seconds, _statuses(target)
        time.sleep(0.2)
    return time.monotonic() - started


def test_health_and_calls_follow_the_database(own_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = own_cluster.new_database()
    daemon = start_daemon(tmp_path / "data", extra=["--state-store", url, "--history-store", url])
    try:
        assert _statuses(daemon.tcp_target) == [SERVING] * 3
        with daemon.client(timeout=20) as client:
            client.state.save(ExecutionContext(workflow_id="before"))
            client.history.record(record("before"))
            own_cluster.stop_server()
            _wait_for(daemon.tcp_target, NOT_SERVING)
            with daemon.client(timeout=20, retry=RetryPolicy(max_attempts=1)) as once:
                with pytest.raises(UnavailableError):
                    once.state.load("before")
                with pytest.raises(UnavailableError):
                    once.history.list()
            own_cluster.start_server()
            _wait_for(daemon.tcp_target, SERVING)
            deadline = time.monotonic() + 30
            while True:  # the pool may still be backing off after its failed attempts
                try:
                    client.history.record(record("after"))
                    break
                except UnavailableError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert client.state.load("before") == ExecutionContext(workflow_id="before")
            assert sorted(r.id for r in client.history.list()) == ["after", "before"]
        assert daemon.process.poll() is None  # never restarted
    finally:
        assert daemon.stop() == 0, daemon.stderr()
    log = daemon.stderr()
    assert "NOT_SERVING" in log
    assert "SERVING again" in log


class _Writers:
    """Threads that save a state and record a record, again and again, noting every outcome."""

    def __init__(self, daemon: Daemon, count: int) -> None:
        self.acknowledged: list[str] = []
        self.failures: list[BaseException] = []
        self.phase = "before"
        self._daemon = daemon
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(count)]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for_success(self, phase: str, seconds: float = 30) -> None:
        """Wait until a write of ``phase`` was acknowledged."""
        deadline = time.monotonic() + seconds
        while not any(f"-{phase}-" in key for key in self.acknowledged[-20:]):
            assert time.monotonic() < deadline, self.failures[-3:]
            time.sleep(0.1)

    def _write(self, thread: int) -> None:
        with self._daemon.client(timeout=20, retry=RetryPolicy(max_attempts=1)) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                key = f"w{thread}-{self.phase}-{n}"
                try:
                    client.state.save(ExecutionContext(workflow_id=key))
                    client.history.record(record(key))
                    self.acknowledged.append(key)
                except Exception as exc:  # noqa: BLE001 (every failure is checked by the test)
                    self.failures.append(exc)
                    time.sleep(0.05)


def test_the_database_restarting_under_load_fails_calls_only_with_unavailable(
    own_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """Writers keep going while the database stops and starts: UNAVAILABLE, then success."""
    url = own_cluster.new_database()
    daemon = start_daemon(tmp_path / "data", extra=["--state-store", url, "--history-store", url])
    try:
        with _Writers(daemon, 4) as writers:
            writers.wait_for_success("before")
            own_cluster.stop_server()
            writers.phase = "down"
            _wait_for(daemon.tcp_target, NOT_SERVING)
            time.sleep(1.0)
            own_cluster.start_server()
            writers.phase = "after"
            _wait_for(daemon.tcp_target, SERVING)
            writers.wait_for_success("after")
            time.sleep(1.0)
        assert writers.failures, "no call failed while the database was down"
        assert {type(exc) for exc in writers.failures} == {UnavailableError}, writers.failures[:3]
        with daemon.client(timeout=20) as client:
            for key in writers.acknowledged:
                assert client.state.load(key) == ExecutionContext(workflow_id=key)
            stored = {r.id for r in client.history.list(HistoryFilter(limit=100_000))}
        assert set(writers.acknowledged) <= stored
        assert daemon.process.poll() is None  # never restarted
    finally:
        assert daemon.stop() == 0, daemon.stderr()
