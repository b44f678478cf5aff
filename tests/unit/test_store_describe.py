"""``describe()`` of the embedded stores: figures, bounded time, never an exception."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from wfstore import ExecutionContext
from wfstored import JSONStateStore, SQLiteHistoryStore
from wfstored.storage.postgres.database import redact

from tests.support.factories import record


def test_the_files_store_counts_state_files_and_sizes_the_directory(tmp_path: Path) -> None:
    with closing(JSONStateStore(tmp_path / "state")) as store:
        for i in range(3):
            store.save(ExecutionContext.new(f"run-{i}", "deploy"))
        (tmp_path / "state" / "notes.txt").write_text("not a state")
        info = store.describe()
    assert (info.role, info.backend, info.location) == ("state", "files", str(tmp_path / "state"))
    assert info.item_count == 3
    files = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert info.size_bytes == sum(p.stat().st_size for p in files)
    assert info.error == ""


def test_the_files_store_reports_a_missing_directory(tmp_path: Path) -> None:
    info = JSONStateStore(tmp_path / "nowhere").describe()
    assert info.item_count is None
    assert info.size_bytes is None
    assert "No such file or directory" in info.error


def test_counting_stops_at_the_deadline(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    with closing(JSONStateStore(tmp_path / "state")) as store:
        for i in range(1100):  # past the first deadline check, at 1024 entries
            (tmp_path / "state" / f"run-{i}.json").write_text("{}")
        info = store.describe(timeout=0)
    assert info.item_count is None
    assert info.error.startswith("not counted within 0s")


def test_the_sqlite_store_counts_rows_and_sizes_its_files(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    with SQLiteHistoryStore(path) as store:
        store.record_batch([record(f"r-{i}") for i in range(5)])
        info = store.describe()
        on_disk = sum(p.stat().st_size for p in tmp_path.glob("history.db*"))
    assert (info.role, info.backend, info.location) == ("history", "sqlite", str(path))
    assert info.item_count == 5
    assert info.size_bytes == on_disk


def test_the_sqlite_store_is_interrupted_at_the_deadline(tmp_path: Path) -> None:
    with SQLiteHistoryStore(tmp_path / "history.db") as store:
        store.record_batch([record(f"r-{i}") for i in range(2000)])
        info = store.describe(timeout=0)
    assert info.item_count is None
    assert info.error.startswith("not counted within 0s")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app@db/wf", "postgresql://app@db/wf"),
        ("postgresql://app:pw@db:5433,db2/wf?sslmode=require", "postgresql://app:***@db:5433,db2/wf?sslmode=require"),
        ("postgresql://app@db/wf?password=pw&sslmode=x", "postgresql://app@db/wf?password=***&sslmode=x"),
        ("host=db user=app password=pw dbname=wf", "user=app password=*** dbname=wf host=db"),
        ("host=db dbname=wf", "host=db dbname=wf"),
    ],
)  # fmt: skip
def test_database_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "pw" not in redact(url).replace("password", "")
