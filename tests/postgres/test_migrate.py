"""``wfstored migrate``: files and SQLite to PostgreSQL and back, run again, with differences.

Runs the real command on thousands of states and records, and checks what it printed, its
exit code, and the destination's content through the stores themselves.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from wfstore import ExecutionContext, ExecutionRecord, HistoryFilter, StepState
from wfstored import JSONStateStore, PostgresHistoryStore, PostgresStateStore, SQLiteHistoryStore

from tests.support.daemon import wfstored_command
from tests.support.factories import T0, full_context, record

pytestmark = pytest.mark.postgres

STATES = 2000
RECORDS = 5000
ALL = HistoryFilter(limit=100_000)


def _migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        wfstored_command("migrate", *args), capture_output=True, text=True, timeout=300, check=False
    )


def _fill(data: Path) -> tuple[dict[str, ExecutionContext], list[ExecutionRecord]]:
    states = {
        f"run-{n:04d}": ExecutionContext(workflow_id=f"run-{n:04d}", workflow_name=f"wf{n % 7}")
        for n in range(STATES)
    }
    states["run-0001"] = full_context("run-0001")
    states["run-0002"].states["s"] = StepState(name="s", output="nul \x00 and \x01 inside")
    store = JSONStateStore(data / "state")
    try:
        for state in states.values():
            store.save(state)
    finally:
        store.close()
    records = [
        record(f"r-{n:05d}", workflow_name=f"wf{n % 7}", completed_at=T0 + timedelta(seconds=n))
        for n in range(RECORDS)
    ]
    with SQLiteHistoryStore(data / "history.db") as history:
        for start in range(0, RECORDS, 1000):
            history.record_batch(records[start : start + 1000])
    return states, records


def test_files_and_sqlite_to_postgresql_and_back(tmp_path: Path, postgres_url: str) -> None:
    states, records = _fill(tmp_path / "a")
    files = [
        f"--from-state={tmp_path / 'a' / 'state'}",
        f"--from-history={tmp_path / 'a' / 'history.db'}",
    ]
    to_pg = [*files, f"--to-state={postgres_url}", f"--to-history={postgres_url}"]

    first = _migrate(*to_pg)
    assert first.returncode == 0, first.stderr
    assert f"states: {STATES:,} copied, 0 already there" in first.stdout
    assert f"history: {RECORDS:,} copied, 0 already there" in first.stdout
    assert first.stdout.count("; verified") == 2
    assert first.stderr == ""  # no progress bar when not on a terminal

    again = _migrate(*to_pg)
    assert again.returncode == 0, again.stderr
    assert f"states: 0 copied, {STATES:,} already there" in again.stdout
    assert f"history: 0 copied, {RECORDS:,} already there" in again.stdout

    with PostgresStateStore(postgres_url) as pg_state, PostgresHistoryStore(postgres_url) as pg:
        assert pg_state.load("run-0002") == states["run-0002"]
        assert pg_state.load("run-0001") == states["run-0001"]
        assert len(pg_state.list()) == STATES
        assert pg.list(ALL) == sorted(records, key=lambda r: (r.completed_at, r.id), reverse=True)
        pg_state.save(ExecutionContext(workflow_id="run-0005", workflow_name="changed"))
        pg.record(record("r-only-in-pg"))

    differs = _migrate(*to_pg)
    assert differs.returncode == 1
    assert "1 differing (kept): 'run-0005'" in differs.stdout
    with PostgresStateStore(postgres_url) as pg_state:
        assert pg_state.load("run-0005") == ExecutionContext(
            workflow_id="run-0005", workflow_name="changed"
        )

    overwrite = _migrate(*to_pg, "--overwrite")
    assert overwrite.returncode == 0, overwrite.stdout
    assert "1 overwritten" in overwrite.stdout

    back = tmp_path / "b"
    to_files = [
        f"--from-state={postgres_url}",
        f"--from-history={postgres_url}",
        f"--to-state={back / 'state'}",
        f"--to-history=sqlite://{back / 'history.db'}",
    ]
    home = _migrate(*to_files)
    assert home.returncode == 0, home.stderr
    assert f"states: {STATES:,} copied" in home.stdout
    assert f"history: {RECORDS + 1:,} copied" in home.stdout
    reader = JSONStateStore(back / "state")
    try:
        assert {i: reader.load(i) for i in reader.list()} == states
    finally:
        reader.close()
    with SQLiteHistoryStore(back / "history.db") as history:
        assert len(history.list(ALL)) == RECORDS + 1


def test_a_record_that_differs_is_reported_and_kept(tmp_path: Path, postgres_url: str) -> None:
    with SQLiteHistoryStore(tmp_path / "h.db") as source:
        source.record_batch([record("same"), record("other", duration_ms=1)])
    with PostgresHistoryStore(postgres_url) as target:
        target.record(record("other", duration_ms=2))
    done = _migrate(f"--from-history={tmp_path / 'h.db'}", f"--to-history={postgres_url}")
    assert done.returncode == 1
    assert (
        "history: 1 copied, 0 already there, 0 overwritten, 1 differing (kept): 'other'"
        in done.stdout
    )
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT duration_ms FROM executions WHERE id = 'other'").fetchone()
        assert row == (2,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --from-state and --to-state"),
        (("--from-state=/tmp/x",), "states needs both a --from and a --to URL"),
        (("--from-history=redis://x", "--to-history=/tmp/h.db"), "unknown history store scheme"),
        (("--bogus",), "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    done = _migrate(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
