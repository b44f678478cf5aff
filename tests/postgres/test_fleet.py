"""Three daemons on one PostgreSQL database, one client over all three, one daemon killed.

Every acknowledged write is visible from every daemon, and a client given all three addresses
spreads its calls round-robin and sees no failed idempotent call when a daemon dies with
SIGKILL under load: its calls are retried on the others.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from wfstore import Client, ExecutionContext, HistoryFilter, RetryPolicy, StoreError

from tests.support.daemon import Daemon, start_daemon
from tests.support.factories import record

pytestmark = [pytest.mark.postgres, pytest.mark.daemon]

WRITERS = 6
SECONDS = 4.0


def _writer(
    client: Client, number: int, stop: threading.Event, acked: list[str], errors: list[str]
) -> None:
    n = 0
    while not stop.is_set():
        key = f"w{number}-{n}"
        try:
            client.state.save(ExecutionContext(workflow_id=key, workflow_name="fleet"))
            client.history.record(record(key, workflow_name="fleet"))
            client.state.load(key)
        except StoreError as exc:
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
        else:
            acked.append(key)
        n += 1


def test_a_killed_daemon_costs_no_idempotent_call(postgres_url: str, tmp_path: Path) -> None:
    stores = ["--state-store", postgres_url, "--history-store", postgres_url]
    daemons: list[Daemon] = [
        start_daemon(tmp_path / f"d{n}", unix=False, extra=stores) for n in range(3)
    ]
    try:
        addresses = ",".join(d.tcp_target for d in daemons)
        retry = RetryPolicy(max_attempts=8, max_backoff=0.5)
        with Client(f"ipv4:{addresses}", timeout=20, retry=retry) as client:
            client.wait_until_ready(10)
            stop, acked, errors = threading.Event(), [], []
            threads = [
                threading.Thread(target=_writer, args=(client, n, stop, acked, errors))
                for n in range(WRITERS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(SECONDS / 2)
            before_kill = len(acked)
            daemons[1].process.send_signal(signal.SIGKILL)
            time.sleep(SECONDS / 2)
            stop.set()
            for thread in threads:
                thread.join()
        print(f"fleet: {before_kill} writes acknowledged before the kill, {len(acked)} in all")  # noqa: T201 (shown with -s)
        assert errors == []
        assert before_kill > 0
        assert len(acked) > before_kill  # the survivors kept serving after the kill
        for survivor in (daemons[0], daemons[2]):  # every write, from every daemon left
            with survivor.client(timeout=20) as direct:
                assert set(direct.state.list()) >= set(acked)
                listed = direct.history.list(HistoryFilter(workflow_name="fleet", limit=100_000))
                assert {r.id for r in listed} >= set(acked)
    finally:
        assert daemons[1].stop() == -signal.SIGKILL  # reaps it and closes its log pipe
        for daemon in (daemons[0], daemons[2]):
            assert daemon.stop() == 0, daemon.stderr()
