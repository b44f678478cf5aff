"""The behaviour every HistoryStore shows: embedded SQLite and the client through wfstored."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import HistoryTarget
from wfstore import (
    AlreadyExistsError,
    ExecutionRecord,
    HistoryFilter,
    HistoryStats,
    HistoryStore,
    InvalidArgumentError,
    StoreClosedError,
)
from wfstore.timestamps import utc_now

from tests.support.factories import T0, nanos_time, record


def test_is_a_history_store(history_target: HistoryTarget) -> None:
    assert isinstance(history_target.store, HistoryStore)


def test_record_round_trips_with_nanoseconds(history_target: HistoryTarget) -> None:
    entry = ExecutionRecord(
        id="r-1",
        workflow_id="wf-1",
        workflow_name="deploy — prod 🚀",
        status="failed",
        exit_code=-1,
        started_at=nanos_time(0, 1),
        completed_at=nanos_time(5, 999),
        duration_ms=5000,
        error_message="exit status 1\nstack: <here>",
    )
    history_target.store.record(entry)
    assert history_target.store.list(HistoryFilter()) == [entry]


def test_started_at_may_be_absent(history_target: HistoryTarget) -> None:
    entry = ExecutionRecord(id="r-1", completed_at=T0)
    history_target.store.record(entry)
    assert history_target.store.list(HistoryFilter()) == [entry]


def test_recording_the_same_record_again_is_a_safe_retry(history_target: HistoryTarget) -> None:
    entry = record("r-1")
    history_target.store.record(entry)
    history_target.store.record(entry)
    assert history_target.store.list(HistoryFilter()) == [entry]


def test_recording_the_same_id_with_other_content_conflicts(history_target: HistoryTarget) -> None:
    history_target.store.record(record("r-1", duration_ms=10))
    with pytest.raises(AlreadyExistsError, match="r-1"):
        history_target.store.record(record("r-1", duration_ms=11))
    assert history_target.store.list(HistoryFilter())[0].duration_ms == 10


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (ExecutionRecord(id="", completed_at=T0), "empty"),
        (ExecutionRecord(id="x" * 251, completed_at=T0), "250"),
        (ExecutionRecord(id="r"), "completed_at"),
        (ExecutionRecord(id="r", completed_at=datetime(2025, 1, 1)), "naive"),  # noqa: DTZ001
        (ExecutionRecord(id="r", completed_at=T0, started_at=datetime(2025, 1, 1)), "naive"),  # noqa: DTZ001
        (ExecutionRecord(id="r", completed_at=T0, duration_ms=-1), "duration_ms"),
        (ExecutionRecord(id="r", completed_at=T0, exit_code=2**40), "exit_code"),
    ],
)
def test_invalid_records_are_rejected(
    history_target: HistoryTarget, entry: ExecutionRecord, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        history_target.store.record(entry)
    assert history_target.store.list(HistoryFilter()) == []


@pytest.fixture
def populated(history_target: HistoryTarget) -> HistoryStore:
    """Twelve records over three workflows and three statuses, one hour apart."""
    store = history_target.store
    statuses = ["success", "failed", "cancelled", "completed"]
    for n in range(12):
        store.record(
            record(
                f"r-{n:02d}",
                workflow_name=["deploy", "build", "test"][n % 3],
                status=statuses[n % 4],
                completed_at=T0 + timedelta(hours=n),
                duration_ms=100 * n + 1,
            )
        )
    return store


def _ids(records: list[ExecutionRecord]) -> list[str]:
    return [r.id for r in records]


def test_list_orders_newest_first_and_defaults_to_twenty(history_target: HistoryTarget) -> None:
    store = history_target.store
    for n in range(25):
        store.record(record(f"r-{n:02d}", completed_at=T0 + timedelta(minutes=n)))
    listed = store.list(HistoryFilter())
    assert _ids(listed) == [f"r-{n:02d}" for n in range(24, 4, -1)]
    assert len(store.list(HistoryFilter(limit=25))) == 25
    assert _ids(store.list(HistoryFilter(limit=3))) == ["r-24", "r-23", "r-22"]


NO_FILTER = {"omitted": (), "None": (None,), "HistoryFilter()": (HistoryFilter(),)}
"""The three ways to ask for no filter, as the Go store's nil filter: all mean the same."""


@pytest.mark.parametrize("spelling", NO_FILTER)
def test_no_filter_means_every_record_and_a_limit_of_twenty(
    history_target: HistoryTarget, spelling: str
) -> None:
    store = history_target.store
    statuses = ["completed", "failed", "cancelled"]
    entries = [
        record(
            f"r-{n:02d}",
            workflow_name=f"wf-{n % 2}",
            status=statuses[n % 3],
            completed_at=T0 + timedelta(minutes=n),
            duration_ms=n,
        )
        for n in range(25)
    ]
    store.record_batch(entries)
    no_filter = NO_FILTER[spelling]
    newest_twenty = [f"r-{n:02d}" for n in range(24, 4, -1)]
    assert _ids(store.list(*no_filter)) == newest_twenty
    page = store.list_page(*no_filter, page_size=8)
    paged = _ids(page.items)
    while page.next_page_token:
        page = store.list_page(*no_filter, page_size=8, page_token=page.next_page_token)
        paged.extend(_ids(page.items))
    assert paged == newest_twenty
    assert store.get_stats(*no_filter, percentiles=True) == HistoryStats(
        total_executions=25,
        success_count=9,
        failed_count=8,
        cancelled_count=8,
        avg_duration_ms=12,
        min_duration_ms=0,
        max_duration_ms=24,
        p50_duration_ms=12,  # rank ceil(12.5) = 13 of 0..24
        p95_duration_ms=23,  # rank ceil(23.75) = 24
        p99_duration_ms=24,  # rank ceil(24.75) = 25
        status_counts={"completed": 9, "failed": 8, "cancelled": 8},
    )


def test_a_page_token_of_no_filter_works_with_every_spelling(history_target: HistoryTarget) -> None:
    store = history_target.store
    store.record_batch([record(f"r-{n}", completed_at=T0 + timedelta(minutes=n)) for n in range(5)])
    first = store.list_page(None, page_size=2)
    assert _ids(store.list_page(page_size=2, page_token=first.next_page_token).items) == [
        "r-2",
        "r-1",
    ]
    assert _ids(
        store.list_page(HistoryFilter(), page_size=2, page_token=first.next_page_token).items
    ) == ["r-2", "r-1"]


def test_ties_on_completed_at_are_ordered_by_id(history_target: HistoryTarget) -> None:
    for record_id in ["b", "c", "a"]:
        history_target.store.record(record(record_id, completed_at=T0))
    assert _ids(history_target.store.list(HistoryFilter())) == ["c", "b", "a"]


def test_list_filters(populated: HistoryStore) -> None:
    assert _ids(populated.list(HistoryFilter(workflow_name="build"))) == [
        "r-10",
        "r-07",
        "r-04",
        "r-01",
    ]
    assert _ids(populated.list(HistoryFilter(status="failed"))) == ["r-09", "r-05", "r-01"]
    assert _ids(populated.list(HistoryFilter(workflow_name="build", status="failed"))) == ["r-01"]
    window = HistoryFilter(since=T0 + timedelta(hours=3), until=T0 + timedelta(hours=5))
    assert _ids(populated.list(window)) == ["r-05", "r-04", "r-03"]  # both bounds inclusive
    assert populated.list(HistoryFilter(workflow_name="nope")) == []


def test_bounds_compare_to_the_nanosecond(history_target: HistoryTarget) -> None:
    history_target.store.record(record("r", completed_at=nanos_time(0, 500)))
    assert history_target.store.list(HistoryFilter(since=nanos_time(0, 500))) != []
    assert history_target.store.list(HistoryFilter(since=nanos_time(0, 501))) == []
    assert history_target.store.list(HistoryFilter(until=nanos_time(0, 499))) == []


def test_filters_with_naive_bounds_or_negative_limits_are_rejected(
    history_target: HistoryTarget,
) -> None:
    with pytest.raises(InvalidArgumentError, match="limit"):
        history_target.store.list(HistoryFilter(limit=-1))
    with pytest.raises(InvalidArgumentError, match="naive"):
        history_target.store.list(HistoryFilter(since=datetime(2025, 1, 1)))  # noqa: DTZ001
    with pytest.raises(InvalidArgumentError, match="naive"):
        history_target.store.get_stats(HistoryFilter(until=datetime(2025, 1, 1)))  # noqa: DTZ001


def test_stats_count_and_truncate_the_mean(populated: HistoryStore) -> None:
    everything = populated.get_stats(HistoryFilter(limit=1), percentiles=True)  # limit ignored
    durations = [100 * n + 1 for n in range(12)]
    assert everything == HistoryStats(
        total_executions=12,
        success_count=6,
        failed_count=3,
        cancelled_count=3,
        avg_duration_ms=sum(durations) // 12,
        min_duration_ms=1,
        max_duration_ms=1101,
        p50_duration_ms=501,  # rank 6 of 12
        p95_duration_ms=1101,  # rank ceil(11.4) = 12
        p99_duration_ms=1101,
        status_counts={"success": 3, "failed": 3, "cancelled": 3, "completed": 3},
    )
    assert populated.get_stats(HistoryFilter(limit=1)) == replace(
        everything, p50_duration_ms=0, p95_duration_ms=0, p99_duration_ms=0
    )
    build = populated.get_stats(HistoryFilter(workflow_name="build"))
    assert build.total_executions == 4
    assert build.avg_duration_ms == (101 + 401 + 701 + 1001) // 4
    assert populated.get_stats(HistoryFilter(workflow_name="nope")) == HistoryStats()


def test_cleanup_deletes_strictly_older_records(history_target: HistoryTarget) -> None:
    store = history_target.store
    now = utc_now()
    store.record(record("old", completed_at=now - timedelta(days=40)))
    store.record(record("older", completed_at=now - timedelta(days=400)))
    store.record(record("recent", completed_at=now - timedelta(days=20)))
    store.record(record("future", completed_at=now + timedelta(days=1)))
    assert store.cleanup(timedelta(days=-1)) == 0
    assert store.cleanup(timedelta(days=30)) == 2
    assert sorted(_ids(store.list(HistoryFilter()))) == ["future", "recent"]
    assert store.cleanup(timedelta(days=30)) == 0
    assert store.cleanup(timedelta(days=3650000)) == 0


def test_pages_honour_the_limit_and_the_filter(populated: HistoryStore) -> None:
    wanted = HistoryFilter(limit=10)
    pages = [populated.list_page(wanted, page_size=3)]
    while pages[-1].next_page_token:
        pages.append(populated.list_page(wanted, 3, pages[-1].next_page_token))
    assert [len(p.items) for p in pages] == [3, 3, 3, 1]
    assert [r for p in pages for r in p.items] == populated.list(wanted)
    with pytest.raises(InvalidArgumentError, match="page_token"):
        populated.list_page(HistoryFilter(limit=10, status="failed"), 3, pages[0].next_page_token)
    with pytest.raises(InvalidArgumentError, match="page_token"):
        populated.list_page(wanted, 3, "not-a-token")
    with pytest.raises(InvalidArgumentError, match="page_size"):
        populated.list_page(wanted, -3)


def test_concurrent_records_are_all_kept(history_target: HistoryTarget) -> None:
    store = history_target.store

    def writer(prefix: str) -> None:
        for n in range(25):
            store.record(record(f"{prefix}-{n}", completed_at=T0 + timedelta(seconds=n)))

    threads = [threading.Thread(target=writer, args=(f"t{t}",)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_stats(HistoryFilter()).total_executions == 150


def test_extreme_years_sort_correctly(history_target: HistoryTarget) -> None:
    early = datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)
    late = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    for record_id, when in [("early", early), ("late", late), ("now", T0)]:
        history_target.store.record(ExecutionRecord(id=record_id, completed_at=when))
    assert _ids(history_target.store.list(HistoryFilter())) == ["late", "now", "early"]


def test_closed_store_refuses_calls(history_target: HistoryTarget) -> None:
    store = history_target.store
    store.close()
    store.close()
    for call in (
        lambda: store.record(record("r")),
        lambda: store.list(HistoryFilter()),
        lambda: store.get_stats(HistoryFilter()),
        lambda: store.cleanup(timedelta(days=1)),
    ):
        with pytest.raises(StoreClosedError):
            call()


def test_record_batch_stores_all(history_target: HistoryTarget) -> None:
    batch = [record(f"b-{n:03d}", completed_at=T0 + timedelta(seconds=n)) for n in range(250)]
    history_target.store.record_batch(batch)
    history_target.store.record_batch(batch)  # identical again: a safe retry
    history_target.store.record_batch([])
    listed = history_target.store.list(HistoryFilter(limit=1000))
    assert listed == sorted(batch, key=lambda r: r.id, reverse=True)


def test_record_batch_is_all_or_nothing(history_target: HistoryTarget) -> None:
    store = history_target.store
    store.record(record("taken", duration_ms=1))
    with pytest.raises(AlreadyExistsError, match="taken"):
        store.record_batch([record("new-1"), record("taken", duration_ms=2), record("new-2")])
    with pytest.raises(AlreadyExistsError, match="twice"):
        store.record_batch([record("twice", duration_ms=1), record("twice", duration_ms=2)])
    assert _ids(store.list(HistoryFilter())) == ["taken"]


def test_large_batches_keep_every_rule(history_target: HistoryTarget) -> None:
    """Batches of hundreds of rows (PostgreSQL copies these) follow the rules of small ones."""
    store = history_target.store
    awkward = "tab\there, line\nbreak, back\\slash, NUL \x00, \\N, é 🚀"
    batch = [
        dataclasses.replace(
            record(f"big-{n:03d}", completed_at=T0 + timedelta(seconds=n)),
            error_message=awkward if n % 7 == 0 else "",
        )
        for n in range(300)
    ]
    store.record_batch([*batch, batch[5]])  # an identical repeat inside the batch: stored once
    store.record_batch(batch)  # identical again: a safe retry
    assert store.list(HistoryFilter(limit=1000)) == sorted(batch, key=lambda r: r.id, reverse=True)
    clash = [record(f"new-{n:03d}") for n in range(300)]
    with pytest.raises(AlreadyExistsError, match="new-150"):
        store.record_batch([*clash, dataclasses.replace(clash[150], duration_ms=7)])
    with pytest.raises(AlreadyExistsError, match="big-299"):
        store.record_batch([*clash, dataclasses.replace(batch[299], duration_ms=7)])
    assert store.get_stats(HistoryFilter()).total_executions == len(batch)


def test_record_batch_names_the_invalid_record(history_target: HistoryTarget) -> None:
    with pytest.raises(InvalidArgumentError, match=r"records\[1\]: completed_at"):
        history_target.store.record_batch([record("ok"), ExecutionRecord(id="no-time")])
    with pytest.raises(InvalidArgumentError, match="10000"):
        history_target.store.record_batch([record(f"r{n}") for n in range(10_001)])
    assert history_target.store.list(HistoryFilter()) == []


def test_concurrent_records_and_batches_share_commits_without_loss(
    history_target: HistoryTarget,
) -> None:
    store = history_target.store
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for n in range(20):
                store.record(record(f"{prefix}-{n}"))
            store.record_batch([record(f"{prefix}-batch-{n}") for n in range(30)])
            with pytest.raises(AlreadyExistsError):
                store.record(record(f"{prefix}-0", duration_ms=5))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{t}",)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.get_stats(HistoryFilter()).total_executions == 8 * 50
