"""The scale phase: a big history table and a big state directory, queried one call at a time.

:func:`build_dataset` makes a data directory with ``rows`` history rows (a few hot workflow
names, a long tail, 90 days, ~8 % failed, ~2 % cancelled) and ``files`` state files, fast
(bulk insert, copied bytes). :func:`measure_queries` times the queries of interest on any
StateStore and HistoryStore, so the same code measures the adapters in-process and the daemon
through the client.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from wfstore import HistoryFilter, HistoryStore, StateStore
from wfstored import JSONStore
from wfstored.storage.shared.record_rows import Row

from scripts.bench._data import bulk_insert_history, write_state_files
from scripts.bench._payloads import LIST_NAME, RUN_NOW, STATE_IDS, history_rows, make_state

HOT_NAMES = (LIST_NAME, "build", "test", "lint", "release")
"""The five hot workflow names, with 26, 16, 12, 9 and 7 % of the runs (70 % together)."""
_HOT_WEIGHTS = (26.0, 16.0, 12.0, 9.0, 7.0)
TAIL_NAMES = tuple(f"wf-{k:03d}" for k in range(500))
"""The long tail: 500 names sharing 30 % of the runs, Zipf-like (1 / (rank + 5))."""
DEEP_PAGE = 50
"""The page the deep-page query fetches (by following page tokens from the first)."""
PAGE_SIZE = 100
"""The page size of the history List queries."""
CLEANUP_AGE = timedelta(days=60)
"""The scale Cleanup: records older than 60 days, the oldest month of the 90 days."""
_SETTLE_SECONDS = 2.2


@dataclass
class HistoryShape:
    """What the history queries need to know about a scale history: its size and names."""

    rows: int
    typical_name: str
    rows_by_name: dict[str, int]


@dataclass
class Dataset(HistoryShape):
    """A built scale data directory and what the queries need to know about it."""

    root: Path
    files: int
    build_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Timing:
    """One scale query: its latencies in ms (p50, p99 over the samples) and a note."""

    query: str
    where: str
    samples: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        """The median latency, ms."""
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        """The 99th-percentile latency, ms (nearest rank; the max for < 100 samples)."""
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _weights() -> list[float]:
    tail = [1.0 / (rank + 5) for rank in range(len(TAIL_NAMES))]
    scale = 30.0 / sum(tail)
    return [*_HOT_WEIGHTS, *(weight * scale for weight in tail)]


def build_dataset(root: Path, rows: int, files: int, now: datetime = RUN_NOW) -> Dataset:
    """Build ``root/history.db`` (``rows`` runs over 90 days) and ``files`` state files."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    shape = build_history(partial(bulk_insert_history, root / "history.db"), rows, now)
    timings["history"] = time.perf_counter() - started
    started = time.perf_counter()
    ids = [*STATE_IDS, *(f"wf-{n:07d}" for n in range(files - len(STATE_IDS)))]
    write_state_files(root / "state", ids)
    JSONStore(root / "state").list()  # as wfstored does at start-up: makes its lock directory
    timings["states"] = time.perf_counter() - started
    root.chmod(0o700)
    return Dataset(shape.rows, shape.typical_name, shape.rows_by_name, root, files, timings)


def build_history(
    load: Callable[[Iterable[Row]], object], rows: int, now: datetime = RUN_NOW
) -> HistoryShape:
    """Generate the scale history (``rows`` runs over 90 days), hand it to ``load``; describe it.

    The same rows whatever ``load`` writes them into: a SQLite file, a PostgreSQL table.
    """
    names = (*HOT_NAMES, *TAIL_NAMES)
    counts: dict[str, int] = dict.fromkeys(names, 0)

    def counted(source: Iterable[Row]) -> Iterator[Row]:
        for row in source:
            counts[row[2]] += 1
            yield row

    load(counted(history_rows(rows, names, _weights(), days=90, now=now, prefix="run")))
    tail = sorted(TAIL_NAMES, key=lambda name: counts[name])
    typical = tail[len(tail) // 2]  # the median tail name by row count
    return HistoryShape(rows, typical, counts)


def _repeat(call: Callable[[], object], budget: float, minimum: int = 3) -> list[float]:
    """Time ``call`` until ``budget`` seconds are spent (at least ``minimum`` times); ms."""
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < minimum or (time.perf_counter() < deadline and len(samples) < 500):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def _page_token(history: HistoryStore, history_filter: HistoryFilter, page: int) -> tuple[str, int]:
    """Follow tokens to page ``page`` (1-based) or the last one; return its token and number."""
    token, number = "", 1
    while number < page:
        result = history.list_page(history_filter, PAGE_SIZE, token)
        if not result.next_page_token:
            break
        token, number = result.next_page_token, number + 1
    return token, number


def measure_history(
    history: HistoryStore, dataset: HistoryShape, where: str, budget: float
) -> list[Timing]:
    """Time the history queries: List pages (first and deep), GetStats and its breakdown.

    GetStats of the hot name (last 7 days, all time; from the roll-ups, and the 7 days once
    more with percentiles), of a typical name and of everything; the breakdown by workflow
    name of the last 7 days.
    """
    big = 1_000_000_000  # the filter's limit: never the one that ends the listing
    timings: list[Timing] = []
    for label, name in (("hot", LIST_NAME), ("typical", dataset.typical_name)):
        rows = dataset.rows_by_name[name]
        flt = HistoryFilter(workflow_name=name, limit=big)
        first = _repeat(partial(history.list_page, flt, PAGE_SIZE), budget)
        timings.append(Timing(f"history List, {label} name, page 1", where, first, f"{rows} rows"))
        walk_started = time.perf_counter()
        token, number = _page_token(history, flt, DEEP_PAGE)
        walk = (time.perf_counter() - walk_started) * 1000
        if number == 1:
            continue  # one page only: nothing deeper to time
        deep = _repeat(partial(history.list_page, flt, PAGE_SIZE, token), budget)
        note = f"{rows} rows; reached in {walk:.0f} ms by following {number - 1} tokens"
        timings.append(Timing(f"history List, {label} name, page {number}", where, deep, note))
    since = datetime.now(UTC) - timedelta(days=7)
    week = HistoryFilter(workflow_name=LIST_NAME, since=since)
    hot_stats = _repeat(lambda: history.get_stats(week), budget)
    rows = history.get_stats(week).total_executions
    note = f"{rows} rows; min, max, mean and status counts (roll-ups, no percentiles)"
    timings.append(Timing("GetStats, hot name, last 7 days", where, hot_stats, note))
    exact = _repeat(lambda: history.get_stats(week, percentiles=True), budget)
    note = f"{rows} rows; the same and p50/p95/p99 (a pass over the rows)"
    timings.append(Timing("GetStats, hot name, last 7 days, percentiles", where, exact, note))
    hot = HistoryFilter(workflow_name=LIST_NAME)
    hot_all = _repeat(lambda: history.get_stats(hot), budget)
    note = f"{dataset.rows_by_name[LIST_NAME]} rows"
    timings.append(Timing("GetStats, hot name, all time", where, hot_all, note))
    last_week = HistoryFilter(since=since)
    breakdown = history.get_stats_breakdown(last_week)
    grouped = _repeat(lambda: history.get_stats_breakdown(last_week), budget)
    note = f"{breakdown.total.total_executions} rows, {len(breakdown.groups)} groups"
    timings.append(Timing("GetStats by workflow name, last 7 days", where, grouped, note))
    typical = HistoryFilter(workflow_name=dataset.typical_name)
    typical_stats = _repeat(lambda: history.get_stats(typical), budget)
    timings.append(Timing("GetStats, typical name, all time", where, typical_stats))
    everything = HistoryFilter()
    all_stats = _repeat(lambda: history.get_stats(everything), budget, minimum=3)
    timings.append(Timing(f"GetStats, no filter ({dataset.rows} rows)", where, all_stats))
    return timings


def _settle(directory: Path) -> None:
    """Wait until ``directory`` has not changed for over 2 s, so listings may be cached.

    JSONStore rescans a directory changed within the last 2 s on every call; a settled one
    is scanned once and then served from its cache until it changes.
    """
    while (age := time.time() - directory.stat().st_mtime) < _SETTLE_SECONDS:
        time.sleep(_SETTLE_SECONDS - age)


def _state_timings(state: StateStore, dataset: Dataset, where: str, walks: int) -> list[Timing]:
    _settle(dataset.root / "state")
    totals: list[float] = []
    pages: list[float] = []
    for _ in range(walks):
        token, walk_started = "", time.perf_counter()
        while True:
            began = time.perf_counter()
            page = state.list_page(page_token=token)
            pages.append((time.perf_counter() - began) * 1000)
            token = page.next_page_token
            if not token:
                break
        totals.append((time.perf_counter() - walk_started) * 1000)
    count = len(pages) // walks
    settled = "directory unchanged for 2 s"
    return [
        Timing(
            f"state List, all {count} pages of {dataset.files} ids",
            where,
            totals,
            f"per walk; {settled}, the first page of the first walk scans it",
        ),
        Timing("state List, one page of 1000 ids", where, pages, settled),
    ]


def _fresh_listing(state: StateStore, where: str) -> Timing:
    """Time a first page right after a Save: the directory changed, so the listing rescans."""
    samples: list[float] = []
    probe = make_state("zz-probe")
    for _ in range(3):
        state.save(probe)
        began = time.perf_counter()
        state.list_page()
        samples.append((time.perf_counter() - began) * 1000)
    state.delete(probe.workflow_id)
    note = "directory just changed: every call rescans it"
    return Timing("state List, page 1 right after a Save", where, samples, note)


def measure_queries(
    state: StateStore, history: HistoryStore, dataset: Dataset, where: str, budget: float
) -> list[Timing]:
    """Time every scale query once per ``where``; ``budget`` is seconds per repeated query."""
    timings = measure_history(history, dataset, where, budget)
    timings += _state_timings(state, dataset, where, walks=3)
    timings.append(_fresh_listing(state, where))
    return timings


def measure_cleanup(history: HistoryStore, where: str) -> Timing:
    """Delete the records older than :data:`CLEANUP_AGE`, once; say how many went."""
    began = time.perf_counter()
    deleted = history.cleanup(CLEANUP_AGE)
    elapsed = (time.perf_counter() - began) * 1000
    return Timing("Cleanup, older than 60 days", where, [elapsed], f"deleted {deleted} rows, once")
