"""``--history-retention``: real daemons delete old history in rounds, keep the rest, say so.

On files+SQLite one daemon removes what is older than the retention within a round and
exports the counters as metrics. On PostgreSQL two daemons share one database: while one
holds the retention lock (its round held up by a table lock the test takes), the other skips
its rounds and logs it; then the first removes everything, once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from wfstore import HistoryFilter
from wfstored.storage.postgres import PostgresHistoryStore
from wfstored.storage.sqlite.history_store import SQLiteHistoryStore

from tests.daemon.test_metrics import metrics_url, scrape, value
from tests.support.daemon import Daemon, run_wfstored, serving, start_daemon
from tests.support.factories import record

pytestmark = pytest.mark.daemon

ROUND_FLAGS = ["--history-retention", "1d", "--cleanup-interval", "1s"]
REMOVED = re.compile(r"retention: removed (\d+) history records")


def _fill(store: SQLiteHistoryStore | PostgresHistoryStore, old: int, new: int) -> None:
    now = datetime.now(UTC)
    old_records = [record(f"old-{n}", completed_at=now - timedelta(days=2)) for n in range(old)]
    for start in range(0, old, 1000):
        store.record_batch(old_records[start : start + 1000])
    store.record_batch(
        [record(f"new-{n}", completed_at=now - timedelta(hours=23)) for n in range(new)]
    )


def _wait(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _removed(daemon: Daemon) -> list[int]:
    return [int(n) for n in REMOVED.findall(daemon.stderr())]


def _ids(daemon: Daemon) -> set[str]:
    with daemon.client() as client:
        return {r.id for r in client.history.list(HistoryFilter(limit=10_000))}


def test_old_records_go_within_a_round_newer_stay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    store = SQLiteHistoryStore(data / "history.db")
    _fill(store, old=2500, new=5)
    store.close()
    extra = [*ROUND_FLAGS, "--metrics-listen", "127.0.0.1:0"]
    with serving(data, extra=extra) as daemon:
        _wait(lambda: sum(_removed(daemon)) >= 2500)
        assert _ids(daemon) == {f"new-{n}" for n in range(5)}
        assert sum(_removed(daemon)) == 2500
        assert "(3 batches)" in daemon.stderr()  # 1000 + 1000 + 500, each its own transaction
        _, samples = scrape(metrics_url(daemon))
        assert value(samples, "wfstore_retention_records_removed_total") == 2500
        assert (value(samples, "wfstore_retention_rounds_total", result="removed") or 0) >= 1
        assert value(samples, "wfstore_retention_rounds_total", result="skipped") == 0
        assert value(samples, "wfstore_retention_last_round_timestamp_seconds")


def test_without_retention_nothing_is_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    store = SQLiteHistoryStore(data / "history.db")
    _fill(store, old=3, new=0)
    store.close()
    with serving(data, extra=["--cleanup-interval", "1s"]) as daemon:
        time.sleep(1.5)
        assert len(_ids(daemon)) == 3
        assert "retention:" not in daemon.stderr()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--history-retention", "30"], "--history-retention must be a duration such as 30d"),
        (["--history-retention", "1y"], "--history-retention must be a duration"),
        (["--cleanup-interval", "0s"], "--cleanup-interval must be a duration"),
    ],
)
def test_bad_durations_are_one_line_errors(flags: list[str], message: str) -> None:
    done = run_wfstored(*flags)
    assert done.returncode == 2
    assert done.stderr.startswith(f"wfstored: error: {message}")
    assert done.stderr.count("\n") == 1


@pytest.mark.postgres
def test_two_daemons_on_one_database_one_removes_the_other_skips(
    postgres_url: str, tmp_path: Path
) -> None:
    store = PostgresHistoryStore(postgres_url)
    _fill(store, old=2500, new=5)
    store.close()
    flags = ["--state-store", postgres_url, "--history-store", postgres_url, *ROUND_FLAGS]
    daemons: list[Daemon] = []
    with psycopg.connect(postgres_url) as blocker:
        # Hold up any DELETE: the daemon that takes the retention lock first waits here.
        blocker.execute("LOCK TABLE executions IN EXCLUSIVE MODE")
        try:
            daemons = [start_daemon(tmp_path / name, extra=flags) for name in ("a", "b")]
            _wait(lambda: any("retention: skipped" in d.stderr() for d in daemons))
            assert all(_removed(d) == [] for d in daemons)
        finally:
            blocker.commit()
        try:
            _wait(lambda: sum(sum(_removed(d)) for d in daemons) >= 2500)
            assert _ids(daemons[0]) == {f"new-{n}" for n in range(5)}
            assert sorted(sum(_removed(d)) for d in daemons) == [0, 2500]
            remover = next(d for d in daemons if sum(_removed(d)) == 2500)
            skipper = next(d for d in daemons if d is not remover)
            assert "another daemon is running a round" in skipper.stderr()
        finally:
            for daemon in daemons:
                assert daemon.stop() == 0, daemon.stderr()
