"""What only the PostgreSQL history store has: migrations, plans, NUL, a database going away.

The behaviour every history store shares is the contract suite's (tests/contract), which runs
on PostgreSQL too; these tests use the same throw-away cluster.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wfstore import DataCorruptedError, HistoryFilter, RetryPolicy, UnavailableError
from wfstore.deadlines import deadline_after
from wfstore.errors import DeadlineExceededError
from wfstored.storage.postgres import PostgresHistoryStore
from wfstored.storage.postgres.nul_escape import escape_text, unescape_text
from wfstored.storage.postgres.queries import list_query, stats_query
from wfstored.storage.postgres.schema import SCHEMA_VERSION, migrate
from wfstored.storage.shared.history_queries import index_for
from wfstored.storage.shared.history_schema import INDEXES

from tests.support.daemon import start_daemon, wfstored_command
from tests.support.factories import T0, record
from tests.support.postgres import PostgresCluster, running_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresHistoryStore]:
    with PostgresHistoryStore(postgres_url) as opened:
        yield opened


@given(st.text(st.characters(codec="utf-8"), max_size=20))
def test_the_nul_escape_round_trips_and_keeps_no_nul(text: str) -> None:
    stored = escape_text(text)
    assert "\x00" not in stored
    assert unescape_text(stored) == text


@given(st.lists(st.text(st.sampled_from("\x00\x01\x02a"), max_size=6), min_size=2, max_size=8))
def test_the_nul_escape_keeps_byte_order(texts: list[str]) -> None:
    by_bytes = sorted(texts, key=lambda t: t.encode())
    assert sorted(texts, key=lambda t: escape_text(t).encode()) == by_bytes


def test_text_with_nul_is_stored_listed_and_filtered(store: PostgresHistoryStore) -> None:
    weird = record("a\x00\x01b", workflow_name="n\x00me", status="fail\x01ed")
    store.record(weird)
    store.record(record("a\x00", workflow_name="n\x00me"))
    assert [r.id for r in store.list()] == ["a\x00\x01b", "a\x00"]
    assert store.list(HistoryFilter(workflow_name="n\x00me", status="fail\x01ed")) == [weird]
    assert store.get_stats(HistoryFilter(workflow_name="n\x00me")).total_executions == 2


def _version(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version FROM wfstore_schema").fetchone()
        assert row is not None
        return int(row[0])


def test_concurrent_first_starts_migrate_once(postgres_url: str) -> None:
    found: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                found.append(migrate(conn, "test"))
        except BaseException as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(found) == [0] + [SCHEMA_VERSION] * 7  # exactly one applied the migrations
    assert _version(postgres_url) == SCHEMA_VERSION


def test_three_daemons_starting_at_once_share_one_schema(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    daemons = []
    try:
        starters = [
            threading.Thread(
                target=lambda n=n: daemons.append(
                    start_daemon(tmp_path / f"d{n}", extra=["--history-store", postgres_url])
                )
            )
            for n in range(3)
        ]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        assert len(daemons) == 3
        for n, daemon in enumerate(daemons):
            with daemon.client(timeout=10) as client:
                client.history.record(record(f"r-{n}"))
        with daemons[0].client(timeout=10) as client:
            assert sorted(r.id for r in client.history.list()) == ["r-0", "r-1", "r-2"]
    finally:
        for daemon in daemons:
            assert daemon.stop() == 0, daemon.stderr()
    assert _version(postgres_url) == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_one_line(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    PostgresHistoryStore(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE wfstore_schema SET version = 99")
    with pytest.raises(DataCorruptedError, match="schema version 99; this wfstored reads"):
        PostgresHistoryStore(postgres_url)
    done = subprocess.run(
        wfstored_command("--data-dir", str(tmp_path), "--history-store", postgres_url),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "schema version 99" in done.stderr


def test_an_unreachable_database_is_unavailable_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql://wfstore:secret@/wf?host={tmp_path}&port=1"
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="No such file or directory") as caught:
        PostgresHistoryStore(url, connect_timeout=1)
    assert "secret" not in str(caught.value)
    done = subprocess.run(
        wfstored_command(
            "--data-dir", str(tmp_path / "d"), "--history-store", url, "--connect-timeout", "1"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot open history store" in lines[0]
    assert time.monotonic() - started < 8  # --connect-timeout 1, not the default 10 s
    assert "secret" not in lines[0]


@pytest.mark.parametrize(
    "history_filter",
    [
        HistoryFilter(),
        HistoryFilter(workflow_name="build"),
        HistoryFilter(status="failed"),
        HistoryFilter(workflow_name="build", status="failed"),
        HistoryFilter(workflow_name="build", since=T0, until=T0 + timedelta(days=3)),
    ],
    ids=["none", "name", "status", "name+status", "name+range"],
)
def test_each_filter_shape_is_served_by_an_index(
    postgres_url: str, history_filter: HistoryFilter
) -> None:
    with PostgresHistoryStore(postgres_url) as store:
        store.record_batch(
            [
                record(
                    f"r-{n:05d}",
                    workflow_name=f"wf-{n % 50}" if n % 7 else "build",
                    status=["completed", "failed", "cancelled"][n % 3],
                    completed_at=T0 + timedelta(minutes=n),
                )
                for n in range(5000)
            ]
        )
    assert index_for(history_filter) in {i.name for i in INDEXES}
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ANALYZE executions")
        for sql, params in (
            list_query(history_filter, limit=101, after=("2025-06-03T00:00:00.000000000Z", "r")),
            list_query(history_filter, limit=101),
        ):
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params))
            # The planner picks among the shared indexes by selectivity; never a full scan.
            assert any(i.name in plan for i in INDEXES), plan
            assert "Seq Scan" not in plan, plan
        # Statistics read every matching row; on a small table a scan of all may be cheaper,
        # but an index must cover them (no table access at all) when the planner wants one.
        conn.execute("VACUUM ANALYZE executions")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        sql, params = stats_query(history_filter)
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params))
        assert "Index Only Scan" in plan, plan


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, to stop and start."""
    with running_cluster() as cluster:
        yield cluster


def test_a_restarted_database_is_unavailable_then_used_again(own_cluster: PostgresCluster) -> None:
    url = own_cluster.new_database()
    with PostgresHistoryStore(url, connect_timeout=2) as store:
        store.record(record("before"))
        own_cluster.stop_server()
        with pytest.raises(UnavailableError):
            store.list()
        with pytest.raises(UnavailableError):
            store.record(record("while-down"))
        own_cluster.start_server()
        deadline = time.monotonic() + 30
        while True:  # the same store: its pool reconnects by itself (as a client would retry)
            try:
                store.record(record("after"))
                break
            except UnavailableError:
                assert time.monotonic() < deadline, "the store did not reconnect within 30 s"
                time.sleep(0.2)
        assert sorted(r.id for r in store.list()) == ["after", "before"]


def test_a_call_deadline_bounds_a_blocked_statement(
    store: PostgresHistoryStore, postgres_url: str
) -> None:
    store.record(record("r-1"))
    with psycopg.connect(postgres_url) as blocker:
        blocker.execute("LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")  # held until rollback
        started = time.monotonic()
        with deadline_after(0.5), pytest.raises(DeadlineExceededError, match="deadline"):
            store.list()
        assert time.monotonic() - started < 3
        blocker.rollback()
    assert [r.id for r in store.list()] == ["r-1"]  # the store is fine afterwards


def test_the_daemon_passes_the_callers_deadline_to_the_database(
    postgres_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    daemon = start_daemon(tmp_path / "d", unix=False, extra=["--history-store", postgres_url])
    try:
        with daemon.client(timeout=1, retry=RetryPolicy(max_attempts=1)) as client:
            client.history.record(record("r-1"))
            with psycopg.connect(postgres_url) as blocker:
                blocker.execute("LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")
                with pytest.raises(DeadlineExceededError):
                    client.history.list()
                time.sleep(1.0)  # the daemon's own statement timed out too: nothing waits
                waiting = blocker.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).fetchone()
                assert waiting == (0,)
                blocker.rollback()
            assert [r.id for r in client.history.list()] == ["r-1"]
    finally:
        assert daemon.stop() == 0, daemon.stderr()
