"""How long a writer waits while a retention round deletes 50,000 old history records.

Fills a history store with ``--rows`` records two days old (by the embedded adapter, before
the daemon starts), starts wfstored with ``--history-retention 1d --cleanup-interval 3s``
and records one new execution at a time through the Unix socket until the round's log line
has appeared. Each Record's latency is then sorted by when it ran: during the round (the
window the log line gives) or outside it. A round that held the write lock for its whole
length would show as one Record waiting that long; bounded batches keep the worst wait near
one batch's time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfstore import Client, ExecutionRecord
from wfstored.storage.factory import open_history_store

from scripts.bench._servers import start_wfstored

_ROUND = re.compile(r"retention: removed (\d+) history records .* in ([0-9.]+) s \((\d+) batches\)")


def _record(record_id: str, completed_at: datetime) -> ExecutionRecord:
    return ExecutionRecord(
        id=record_id,
        workflow_id=f"wf-{record_id}",
        workflow_name="deploy",
        status="success",
        exit_code=0,
        started_at=completed_at - timedelta(seconds=1),
        completed_at=completed_at,
        duration_ms=1000,
    )


def _fill(url: str, rows: int) -> None:
    store = open_history_store(url)
    old = datetime.now(UTC) - timedelta(days=2)
    try:
        for start in range(0, rows, 1000):
            store.record_batch(
                [_record(f"old-{n}", old) for n in range(start, min(rows, start + 1000))]
            )
    finally:
        store.close()


def _ms(values: Sequence[float]) -> str:
    if not values:
        return "no writes"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(values)} writes, p50 {statistics.median(ordered) * 1000:.2f} ms, "
        f"p99 {p99 * 1000:.2f} ms, max {ordered[-1] * 1000:.2f} ms"
    )


def main(argv: Sequence[str] | None = None, prog: str = "retention") -> int:
    """Run the measurement and print the latencies during and outside the round."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000, help="old records to delete")
    parser.add_argument(
        "--history-store",
        default="",
        help="a postgresql:// URL (an empty database) instead of SQLite in the data dir",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wfs-ret-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir(mode=0o700)
        url = args.history_store or str(data / "history.db")
        _fill(url, args.rows)
        extra = ["--history-retention", "1d", "--cleanup-interval", "3s"]
        if args.history_store:
            extra += ["--history-store", args.history_store]
        server = start_wfstored(data, Path(tmp) / "w.sock", Path(tmp) / "wfstored.log", *extra)
        writes: list[tuple[float, float]] = []  # (start, latency)
        try:
            with Client(server.unix) as client:
                found = None
                n = 0
                while found is None or time.monotonic() < found[0] + 0.5:
                    started = time.monotonic()
                    client.history.record(_record(f"new-{n}", datetime.now(UTC)))
                    writes.append((started, time.monotonic() - started))
                    n += 1
                    if found is None and (match := _ROUND.search(server.log.read_text())):
                        found = (time.monotonic(), match)
        finally:
            server.stop()
    if found is None:  # pragma: no cover (the loop ends only once the line is seen)
        return 1
    seen_at, match = found
    removed, seconds, batches = int(match[1]), float(match[2]), int(match[3])
    # The round ended before its line was seen (polled after every write): a generous window.
    window = (seen_at - seconds - 0.05, seen_at)
    during = [lat for at, lat in writes if window[0] <= at <= window[1]]
    outside = [lat for at, lat in writes if not window[0] <= at <= window[1]]
    backend = "PostgreSQL" if args.history_store else "SQLite"
    print(f"{backend}: round removed {removed} records in {seconds:.3f} s ({batches} batches)")
    print(f"  Record during the round:  {_ms(during)}")
    print(f"  Record outside the round: {_ms(outside)}")
    return 0
