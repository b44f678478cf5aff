"""What the history roll-up triggers cost writers: Record and RecordBatch with and without them.

Embedded SQLite (a file under /tmp) and embedded PostgreSQL (a throw-away cluster, default
settings): each in two fresh databases, one as wfstored creates it (triggers on) and one with
the roll-up triggers dropped (the write path before them). Every record goes to the same
workflow name, status and hour: one hot bucket, the worst case for the triggers' row locks.
Cells run round-robin ``--reps`` times; the table gives the median records per second.

    python -m scripts.bench rollup-cost                  # about two minutes
    python -m scripts.bench rollup-cost --window 2 --reps 5
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wfstore import ExecutionRecord, HistoryStore
from wfstored import PostgresHistoryStore, SQLiteHistoryStore

from scripts.bench._peers import start_postgres
from scripts.bench._pg_backend import create_database

_IDS = itertools.count()
_TRIGGERS = ("executions_rollup_insert", "executions_rollup_delete", "executions_rollup_update")


@dataclass(frozen=True)
class Cell:
    """One measurement: a backend with or without triggers, a write shape, and its writers."""

    backend: str
    triggers: bool
    label: str
    batch: int
    stores: int
    threads: int


CELLS = [
    Cell(backend, triggers, label, batch, stores, threads)
    for backend in ("sqlite", "postgres")
    for label, batch, stores, threads in (
        ("Record, 1 writer", 1, 1, 1),
        ("Record, 8 threads on 2 stores", 1, 2, 8),
        ("RecordBatch of 100, 1 writer", 100, 1, 1),
        ("RecordBatch of 1000, 1 writer", 1000, 1, 1),
        ("RecordBatch of 100, 4 threads on 2 stores", 100, 2, 4),
    )
    for triggers in (False, True)
]


def _records(count: int) -> list[ExecutionRecord]:
    now = datetime.now(UTC)
    return [
        ExecutionRecord(
            id=f"cost-{next(_IDS)}",
            workflow_id="wf",
            workflow_name="deploy",
            status="success",
            completed_at=now,
            duration_ms=next(_IDS) % 5000,
        )
        for _ in range(count)
    ]


def _drive(stores: Sequence[HistoryStore], cell: Cell, seconds: float) -> float:
    """Write for ``seconds`` from ``cell.threads`` threads; return records per second."""
    done = [0] * cell.threads
    stop = time.monotonic() + seconds

    def writer(n: int) -> None:
        store = stores[n % len(stores)]
        while time.monotonic() < stop:
            batch = _records(cell.batch)
            if cell.batch == 1:
                store.record(batch[0])
            else:
                store.record_batch(batch)
            done[n] += cell.batch

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(cell.threads)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def _opener(cell: Cell, places: dict[tuple[str, bool], str]) -> Callable[[], HistoryStore]:
    where = places[cell.backend, cell.triggers]
    if cell.backend == "sqlite":
        return lambda: SQLiteHistoryStore(where)
    return lambda: PostgresHistoryStore(where)


def _drop_triggers(backend: str, where: str) -> None:
    if backend == "sqlite":
        with sqlite3.connect(where) as conn:
            for name in _TRIGGERS:
                conn.execute(f"DROP TRIGGER {name}")
        conn.close()
        return
    import psycopg  # noqa: PLC0415 (an optional dependency)

    with psycopg.connect(where, autocommit=True) as conn:
        for name in _TRIGGERS:
            conn.execute(f"DROP TRIGGER {name} ON executions")


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Measure every cell ``--reps`` times round-robin and print the table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=1.0, help="seconds measured per cell")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of every cell")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="wfs-bench-rollups-", dir="/tmp"))
    peer = start_postgres()
    try:
        places: dict[tuple[str, bool], str] = {}
        for triggers in (False, True):
            suffix = "on" if triggers else "off"
            places["sqlite", triggers] = str(work / f"history-{suffix}.db")
            SQLiteHistoryStore(places["sqlite", triggers]).close()
            places["postgres", triggers] = create_database(peer, f"rollups_{suffix}")
            if not triggers:
                _drop_triggers("sqlite", places["sqlite", False])
                _drop_triggers("postgres", places["postgres", False])
        rates: dict[Cell, list[float]] = {cell: [] for cell in CELLS}
        for _ in range(args.reps):
            for cell in CELLS:
                opened = [_opener(cell, places)() for _ in range(cell.stores)]
                try:
                    _drive(opened, cell, 0.1)  # warm-up: connections, caches
                    rates[cell].append(_drive(opened, cell, args.window))
                finally:
                    for store in opened:
                        store.close()
        print(_table(rates))
    finally:
        peer.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _table(rates: dict[Cell, list[float]]) -> str:
    lines = [
        "| backend | write | records/s, no triggers | records/s, roll-up triggers | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for cell in CELLS:
        if cell.triggers:
            continue
        before = statistics.median(rates[cell])
        after_cell = dataclasses.replace(cell, triggers=True)
        after = statistics.median(rates[after_cell])
        lines.append(
            f"| {cell.backend} embedded | {cell.label} | {before:,.0f} | {after:,.0f}"
            f" | {after / before:.2f} |"
        )
    return "\n".join(lines)
