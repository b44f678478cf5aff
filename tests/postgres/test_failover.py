"""Failover: the primary dies under load, the synchronous standby is promoted, nothing is lost.

Two daemons share a database through a multi-host URL that connects only to the server that
takes writes (``target_session_attrs=read-write``); a client over both daemons writes states
and records from several threads. The primary is killed with SIGKILL and the standby promoted:
the daemons reconnect by themselves, and every write acknowledged before, during and after
the switch is on the new primary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from wfstore import Client, ExecutionContext, RetryPolicy, StoreError

from tests.support.daemon import Daemon, start_daemon
from tests.support.factories import record
from tests.support.postgres import (
    PostgresCluster,
    multi_host_url,
    running_cluster,
    start_standby,
)

pytestmark = [pytest.mark.postgres, pytest.mark.daemon]

WRITERS = 4


@pytest.fixture
def primary() -> Iterator[PostgresCluster]:
    """A primary of this test's own, to kill."""
    with running_cluster() as cluster:
        yield cluster


def _write(
    client: Client, number: int, stop: threading.Event, acked: list[tuple[float, str]]
) -> list[str]:
    failures: list[str] = []
    n = 0
    while not stop.is_set():
        key = f"w{number}-{n}"
        n += 1
        try:
            client.state.save(ExecutionContext(workflow_id=key, workflow_name="failover"))
            client.history.record(record(key, workflow_name="failover"))
        except StoreError as exc:
            failures.append(f"{key}: {type(exc).__name__}: {exc}")
            continue
        acked.append((time.monotonic(), key))
    return failures


@pytest.mark.timeout(120)
def test_no_acknowledged_write_is_lost_when_the_primary_dies(
    primary: PostgresCluster, tmp_path: Path
) -> None:
    primary.new_database()
    database = primary.databases[-1]
    standby = start_standby(primary)
    daemons: list[Daemon] = []
    try:
        url = multi_host_url(database, primary, standby)
        stores = ["--state-store", url, "--history-store", url]
        daemons = [start_daemon(tmp_path / f"d{n}", unix=False, extra=stores) for n in range(2)]
        addresses = ",".join(d.tcp_target for d in daemons)
        retry = RetryPolicy(max_attempts=30, max_backoff=0.5)
        acked: list[tuple[float, str]] = []
        failures: list[str] = []
        with Client(f"ipv4:{addresses}", timeout=30, retry=retry) as client:
            stop = threading.Event()
            threads = [
                threading.Thread(target=lambda n=n: failures.extend(_write(client, n, stop, acked)))
                for n in range(WRITERS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1.5)
            killed = time.monotonic()
            primary.kill_server()
            time.sleep(0.5)
            standby.promote()
            promoted = time.monotonic()
            time.sleep(2.5)
            stop.set()
            for thread in threads:
                thread.join()
        before = sum(1 for at, _ in acked if at < killed)
        during = sum(1 for at, _ in acked if killed <= at < promoted)
        after = sum(1 for at, _ in acked if at >= promoted)
        with psycopg.connect(standby.conninfo(database)) as conn:
            states = {row[0] for row in conn.execute("SELECT workflow_id FROM workflow_states")}
            records = {row[0] for row in conn.execute("SELECT id FROM executions")}
        keys = {key for _, key in acked}
        print(  # noqa: T201 (shown with -s)
            f"failover: acknowledged {len(keys)} writes ({before} before the kill, {during} "
            f"between kill and promotion, {after} after); found on the new primary: "
            f"{len(keys & states)} states, {len(keys & records)} records; failed calls: "
            f"{len(failures)}"
        )
        assert before > 0
        assert after > 0  # the daemons reconnected to the new primary by themselves
        assert keys <= states
        assert keys <= records
        assert failures == []  # retried within the calls' deadlines
        for daemon in daemons:
            assert daemon.process.poll() is None
    finally:
        for daemon in daemons:
            assert daemon.stop() == 0, daemon.stderr()
        standby.stop()
