"""GetStats on every HistoryStore: exact counts, bounds, nearest-rank percentiles, breakdowns.

Each figure is checked against a brute-force reference computed here from the records
themselves (:func:`reference`), with ranks taken from exact fractions, so that the stores'
integer rank arithmetic and their SQL are checked by something that shares neither.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from conftest import HistoryTarget
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfstore import (
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    HistoryStatsGroup,
    HistoryStore,
    InvalidArgumentError,
    StatsBreakdown,
)

from tests.support.factories import T0, record

MAX_INT64 = 2**63 - 1


def percentile(ordered: Sequence[int], percent: int) -> int:
    """The nearest-rank percentile as history.proto defines it, with an exact fraction."""
    rank = math.ceil(Fraction(percent, 100) * len(ordered))
    return ordered[rank - 1]


def reference(records: Sequence[ExecutionRecord], *, percentiles: bool = True) -> HistoryStats:
    """Compute the figures of ``records`` the slow, obvious way (percentiles 0 unless asked)."""
    if not records:
        return HistoryStats()
    if not percentiles:
        return replace(reference(records), p50_duration_ms=0, p95_duration_ms=0, p99_duration_ms=0)
    durations = sorted(r.duration_ms for r in records)
    statuses = Counter(r.status for r in records)
    return HistoryStats(
        total_executions=len(records),
        success_count=statuses["success"] + statuses["completed"],
        failed_count=statuses["failed"],
        cancelled_count=statuses["cancelled"],
        avg_duration_ms=sum(durations) // len(durations),  # not negative: truncation is floor
        min_duration_ms=durations[0],
        max_duration_ms=durations[-1],
        p50_duration_ms=percentile(durations, 50),
        p95_duration_ms=percentile(durations, 95),
        p99_duration_ms=percentile(durations, 99),
        status_counts=dict(statuses),
    )


def reference_breakdown(
    records: Sequence[ExecutionRecord], *, percentiles: bool = True
) -> StatsBreakdown:
    """The breakdown by workflow name, groups in UTF-8 byte order of their names."""
    names = sorted({r.workflow_name for r in records}, key=lambda name: name.encode())
    groups = [
        HistoryStatsGroup(
            key=name,
            stats=reference(
                [r for r in records if r.workflow_name == name], percentiles=percentiles
            ),
        )
        for name in names
    ]
    return StatsBreakdown(total=reference(records, percentiles=percentiles), groups=groups)


def assert_figures(
    store: HistoryStore, history_filter: HistoryFilter, records: Sequence[ExecutionRecord]
) -> None:
    """GetStats and its breakdown, with and without percentiles, equal the reference's."""
    matching = [r for r in records if _matches(r, history_filter)]
    assert store.get_stats(history_filter) == reference(matching, percentiles=False)
    assert store.get_stats(history_filter, percentiles=True) == reference(matching)
    assert store.get_stats_breakdown(history_filter) == reference_breakdown(
        matching, percentiles=False
    )
    assert store.get_stats_breakdown(history_filter, percentiles=True) == reference_breakdown(
        matching
    )


def runs(durations: Sequence[int], **fields: str) -> list[ExecutionRecord]:
    """One record per duration, a minute apart, with ``fields`` in common."""
    return [
        record(f"r-{n:04d}", completed_at=T0 + timedelta(minutes=n), duration_ms=d, **fields)
        for n, d in enumerate(durations)
    ]


def test_nothing_recorded_gives_zeros_and_no_groups(history_target: HistoryTarget) -> None:
    store = history_target.store
    assert store.get_stats() == HistoryStats()
    assert store.get_stats().status_counts == {}
    assert store.get_stats_breakdown() == StatsBreakdown(total=HistoryStats(), groups=[])


def test_one_record_is_every_percentile(history_target: HistoryTarget) -> None:
    store = history_target.store
    store.record(record("only", status="failed", duration_ms=4242))
    expected = HistoryStats(
        total_executions=1,
        failed_count=1,
        avg_duration_ms=4242,
        min_duration_ms=4242,
        max_duration_ms=4242,
        p50_duration_ms=4242,
        p95_duration_ms=4242,
        p99_duration_ms=4242,
        status_counts={"failed": 1},
    )
    assert store.get_stats(percentiles=True) == expected
    assert store.get_stats_breakdown(percentiles=True) == StatsBreakdown(
        total=expected, groups=[HistoryStatsGroup(key="deploy", stats=expected)]
    )
    cheap = replace(expected, p50_duration_ms=0, p95_duration_ms=0, p99_duration_ms=0)
    assert store.get_stats() == cheap
    assert store.get_stats_breakdown() == StatsBreakdown(
        total=cheap, groups=[HistoryStatsGroup(key="deploy", stats=cheap)]
    )


@pytest.mark.parametrize(
    ("durations", "p50", "p95", "p99"),
    [
        ([5, 5, 5, 7], 5, 7, 7),  # ties: ranks 2, 4, 4
        ([3, 1, 2], 2, 3, 3),  # odd: ranks 2, 3, 3
        (list(range(1, 11)), 5, 10, 10),  # even: ranks 5, 10, 10
        (list(range(1, 12)), 6, 11, 11),  # 5.5 -> 6, 10.45 -> 11
        (list(range(1, 21)), 10, 19, 20),  # 19 exactly: no rounding up
        (list(range(100, 0, -1)), 50, 95, 99),  # exact ranks, recorded in reverse order
        (list(range(1, 102)), 51, 96, 100),  # 50.5, 95.95, 99.99 all round up
    ],
)
def test_percentiles_take_the_nearest_rank(
    history_target: HistoryTarget, durations: list[int], p50: int, p95: int, p99: int
) -> None:
    history_target.store.record_batch(runs(durations))
    stats = history_target.store.get_stats(percentiles=True)
    assert (stats.p50_duration_ms, stats.p95_duration_ms, stats.p99_duration_ms) == (p50, p95, p99)
    assert stats == reference(runs(durations))
    assert history_target.store.get_stats() == reference(runs(durations), percentiles=False)


def test_huge_durations_neither_overflow_nor_round(history_target: HistoryTarget) -> None:
    # started_at is left out: MAX_INT64 ms before completed_at is no datetime.
    huge = [
        ExecutionRecord(id=f"h-{n}", workflow_name="big", completed_at=T0, duration_ms=d)
        for n, d in enumerate([MAX_INT64, MAX_INT64, MAX_INT64 - 1, 0, 2**53 + 1])
    ]
    history_target.store.record_batch(huge)
    stats = history_target.store.get_stats(percentiles=True)
    assert stats == reference(huge)
    assert history_target.store.get_stats() == reference(huge, percentiles=False)
    assert stats.max_duration_ms == MAX_INT64
    assert stats.p95_duration_ms == MAX_INT64
    assert stats.avg_duration_ms == (3 * MAX_INT64 - 1 + 2**53 + 1) // 5


def test_every_status_present_is_counted(history_target: HistoryTarget) -> None:
    statuses = ["timeout", "success", "échec ✗", "timeout", "completed", "", "Failed", "failed"]
    entries = [record(f"r-{n}", status=status, duration_ms=n) for n, status in enumerate(statuses)]
    history_target.store.record_batch(entries)
    stats = history_target.store.get_stats()
    assert stats == reference(entries, percentiles=False)
    assert stats.status_counts == {
        "timeout": 2,
        "success": 1,
        "échec ✗": 1,
        "completed": 1,
        "": 1,
        "Failed": 1,
        "failed": 1,
    }
    assert (stats.success_count, stats.failed_count, stats.cancelled_count) == (2, 1, 0)
    assert history_target.store.get_stats(percentiles=True) == reference(entries)
    timeouts = history_target.store.get_stats(HistoryFilter(status="timeout"))
    assert timeouts.status_counts == {"timeout": 2}
    assert timeouts.total_executions == 2


NAMES = ["b", "B", "a", "a b", "ab", "é", "\uffff", "😀", "", "n\x00me", "Z"]
"""Names whose UTF-8 byte order differs from UTF-16 order and from any locale's collation."""


def test_groups_are_in_byte_order_and_add_up_to_the_total(history_target: HistoryTarget) -> None:
    entries = [
        record(
            f"r-{n:03d}",
            workflow_name=NAMES[n % len(NAMES)],
            status=["success", "failed", "timeout"][n % 3],
            completed_at=T0 + timedelta(seconds=n),
            duration_ms=(n * 7919) % 1000,
        )
        for n in range(120)
    ]
    history_target.store.record_batch(entries)
    breakdown = history_target.store.get_stats_breakdown(group_by=HistoryGrouping.WORKFLOW_NAME)
    assert [group.key for group in breakdown.groups] == sorted(NAMES, key=str.encode)
    assert breakdown == reference_breakdown(entries, percentiles=False)
    assert breakdown.total == history_target.store.get_stats()
    exact = history_target.store.get_stats_breakdown(percentiles=True)
    assert exact == reference_breakdown(entries)
    assert exact.total == history_target.store.get_stats(percentiles=True)
    groups = [group.stats for group in breakdown.groups]
    assert sum(g.total_executions for g in groups) == breakdown.total.total_executions
    summed: Counter[str] = Counter()
    for group in groups:
        summed.update(group.status_counts)
    assert summed == breakdown.total.status_counts
    assert min(g.min_duration_ms for g in groups) == breakdown.total.min_duration_ms
    assert max(g.max_duration_ms for g in groups) == breakdown.total.max_duration_ms


def test_a_breakdown_applies_every_filter(history_target: HistoryTarget) -> None:
    entries = [
        record(
            f"r-{n:03d}",
            workflow_name=["deploy", "build", "test"][n % 3],
            status=["success", "failed"][n % 2],
            completed_at=T0 + timedelta(hours=n),
            duration_ms=10 * n,
        )
        for n in range(60)
    ]
    history_target.store.record_batch(entries)
    since, until = T0 + timedelta(hours=10), T0 + timedelta(hours=40)
    filters = [
        HistoryFilter(status="failed", since=since, until=until, limit=1),  # limit ignored
        HistoryFilter(workflow_name="build", since=since),
        HistoryFilter(workflow_name="build", status="success", until=until),
        HistoryFilter(workflow_name="nope"),
        HistoryFilter(since=T0 + timedelta(days=365)),
    ]
    for history_filter in filters:
        assert_figures(history_target.store, history_filter, entries)


def _matches(entry: ExecutionRecord, history_filter: HistoryFilter) -> bool:
    assert entry.completed_at is not None
    return (
        history_filter.workflow_name in ("", entry.workflow_name)
        and history_filter.status in ("", entry.status)
        and (history_filter.since is None or entry.completed_at >= history_filter.since)
        and (history_filter.until is None or entry.completed_at <= history_filter.until)
    )


@pytest.mark.parametrize("group_by", ["status", "", None, 1, "WORKFLOW_NAME"])
def test_an_unknown_grouping_is_rejected(history_target: HistoryTarget, group_by: object) -> None:
    with pytest.raises(InvalidArgumentError, match="group_by"):
        history_target.store.get_stats_breakdown(group_by=group_by)  # type: ignore[arg-type]


def test_the_grouping_may_be_given_by_its_value(history_target: HistoryTarget) -> None:
    history_target.store.record(record("r-1"))
    by_value = history_target.store.get_stats_breakdown(group_by="workflow_name")  # type: ignore[arg-type]
    assert [group.key for group in by_value.groups] == ["deploy"]


_windows = itertools.count()
_DURATIONS = st.one_of(
    st.integers(0, 2_000),  # many ties
    st.integers(0, MAX_INT64),  # sums far beyond 64 bits
)
_RUNS = st.lists(
    st.tuples(
        st.sampled_from(["deploy", "build", "é", "😀"]),
        st.sampled_from(["success", "failed", "cancelled", "completed", "timeout", "ok ✓"]),
        _DURATIONS,
    ),
    max_size=60,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs_=_RUNS)
def test_stats_match_a_brute_force_reference(
    history_target: HistoryTarget, runs_: list[tuple[str, str, int]]
) -> None:
    # Every example writes into a window of its own and filters on it: the store is shared.
    window = next(_windows)
    start = T0 + timedelta(days=window)
    entries = [
        ExecutionRecord(
            id=f"p-{window}-{n}",
            workflow_name=name,
            status=status,
            completed_at=start + timedelta(seconds=n),
            duration_ms=duration,
        )
        for n, (name, status, duration) in enumerate(runs_)
    ]
    store: HistoryStore = history_target.store
    store.record_batch(entries)
    in_window = HistoryFilter(since=start, until=start + timedelta(hours=1))
    assert store.get_stats_breakdown(in_window, percentiles=True) == reference_breakdown(entries)
    assert store.get_stats_breakdown(in_window) == reference_breakdown(entries, percentiles=False)
    for name in ("deploy", "😀"):
        named = HistoryFilter(workflow_name=name, since=start, until=start + timedelta(hours=1))
        mine = [r for r in entries if r.workflow_name == name]
        assert store.get_stats(named, percentiles=True) == reference(mine)
        assert store.get_stats(named) == reference(mine, percentiles=False)


# --- time ranges: whole days and hours from the aggregates, raw rows at the edges ------------

MIDNIGHT = datetime(2031, 1, 9, tzinfo=UTC)
"""A day of this module's own (no other test writes near it)."""
US = timedelta(microseconds=1)


def _around_boundaries() -> list[ExecutionRecord]:
    """Records on, just before and just after hour and day boundaries, over three days."""
    offsets = [
        timedelta(hours=h) + delta
        for h in (-25, -24, -23, -1, 0, 1, 2, 13, 23, 24, 25, 47, 48)
        for delta in (-US, timedelta(0), US, timedelta(minutes=30))
    ]
    return [  # no started_at: a huge duration before completed_at is no datetime
        ExecutionRecord(
            id=f"edge-{n:03d}",
            workflow_name=["deploy", "build"][n % 2],
            status=["success", "failed", "cancelled"][n % 3],
            completed_at=MIDNIGHT + offset,
            duration_ms=(n * 7919) % 5000 + (2**62 if n % 11 == 0 else 0),
        )
        for n, offset in enumerate(offsets)
    ]


_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_RANGES = {
    "inside one hour": (
        MIDNIGHT + 13 * _HOUR + 5 * US,
        MIDNIGHT + 13 * _HOUR + 40 * 60 * 10**6 * US,
    ),
    "same hour, whole": (MIDNIGHT + 13 * _HOUR, MIDNIGHT + 14 * _HOUR - US),
    "on hour boundaries": (MIDNIGHT + _HOUR, MIDNIGHT + 13 * _HOUR),
    "on day boundaries": (MIDNIGHT - _DAY, MIDNIGHT + _DAY),
    "whole day exactly": (MIDNIGHT, MIDNIGHT + _DAY - US),
    "inside hours, spanning days": (
        MIDNIGHT - 23 * _HOUR - 2 * US,
        MIDNIGHT + 47 * _HOUR + 30 * 60 * 10**6 * US,
    ),
    "one microsecond after a boundary": (MIDNIGHT + US, MIDNIGHT + 2 * _DAY + US),
    "one microsecond before a boundary": (MIDNIGHT - US, MIDNIGHT + 2 * _DAY - US),
    "a single instant": (MIDNIGHT, MIDNIGHT),
    "until before since": (MIDNIGHT + _HOUR, MIDNIGHT),
    "since only, inside an hour": (MIDNIGHT + 90 * 60 * 10**6 * US, None),
    "until only, on a midnight": (None, MIDNIGHT),
    "until only, inside an hour": (None, MIDNIGHT + 25 * _HOUR + US),
}


@pytest.mark.parametrize("name", sorted(_RANGES))
def test_time_ranges_are_exact_at_their_edges(history_target: HistoryTarget, name: str) -> None:
    entries = _around_boundaries()
    history_target.store.record_batch(entries)
    since, until = _RANGES[name]
    for workflow_name, status in [("", ""), ("deploy", ""), ("build", "failed"), ("", "cancelled")]:
        wanted = HistoryFilter(workflow_name=workflow_name, status=status, since=since, until=until)
        assert_figures(history_target.store, wanted, entries)
