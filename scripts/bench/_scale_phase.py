"""Run the scale phase: build the dataset, query it in-process and through a daemon, watch RSS."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wfstore import Client
from wfstored import JSONStore, SQLiteHistoryStore

from scripts.bench._driver import ClientPool
from scripts.bench._ops import CellSpec
from scripts.bench._plan import CellRuns, Mode, client_processes
from scripts.bench._report import summarize
from scripts.bench._scale import (
    HOT_NAMES,
    Dataset,
    Timing,
    build_dataset,
    measure_cleanup,
    measure_queries,
)
from scripts.bench._servers import Server, start_wfstored

SCALE_CONCURRENCY = 64
SCALE_OPS = ("HistoryList", "GetStats", "Load")


@contextmanager
def _peak_rss(server: Server, peak: list[float]) -> Iterator[None]:
    """Sample the server's VmRSS every 50 ms while the block runs; keep the highest."""
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], server.rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()


def _concurrent_cells(
    server: Server, pool: ClientPool, mode: Mode, progress: Callable[[str], None]
) -> dict[tuple[object, ...], CellRuns]:
    """Run the scale cells at 64 concurrent calls, round-robin, ``mode.reps`` times."""
    results: dict[tuple[object, ...], CellRuns] = {}
    for rep in range(mode.reps):
        for op in SCALE_OPS:
            spec = CellSpec(
                impl="wfstored",
                op=op,
                transport="tcp",
                concurrency=SCALE_CONCURRENCY,
                target=server.tcp,
                tag=f"scale{rep}",
            )
            result = pool.run(
                spec,
                processes=client_processes(SCALE_CONCURRENCY, pool.size),
                warmup=mode.warmup,
                window=mode.window,
                server_pid=server.pid,
            )
            cell = results.setdefault(spec.key, CellRuns(spec))
            cell.runs.append(result)
            cell.latencies.extend(result.latencies)
            if result.errors:
                cell.notes.append(f"{result.errors} errors: {result.first_error}")
            progress(f"scale: {op} c={SCALE_CONCURRENCY}: {result.rate:.0f}/s")
    return results


def _dataset_summary(dataset: Dataset) -> dict[str, Any]:
    hot_rows = sum(dataset.rows_by_name[name] for name in HOT_NAMES)
    return {
        "rows": dataset.rows,
        "files": dataset.files,
        "hot_name": HOT_NAMES[0],
        "hot_rows": dataset.rows_by_name[HOT_NAMES[0]],
        "hot_share": hot_rows / dataset.rows,
        "typical_name": dataset.typical_name,
        "typical_rows": dataset.rows_by_name[dataset.typical_name],
        "build_seconds": dataset.build_seconds,
    }


def timing_json(timing: Timing) -> dict[str, Any]:
    """Return one timing as JSON: its fields, the sample count, p50 and p99 (ms)."""
    data = asdict(timing)
    samples = data.pop("samples")
    return {**data, "samples": len(samples), "p50_ms": timing.p50, "p99_ms": timing.p99}


def _daemon_copy(dataset: Dataset, tmp: Path) -> Path:
    """Return a data directory for the scale daemon: its own copy of history.db.

    The state directory is the dataset's own, linked (listing and loading change nothing),
    so the daemon's Cleanup deletes from a copy and the dataset stays as built.
    """
    root = tmp / "scale-daemon"
    root.mkdir(mode=0o700)
    (root / "state").symlink_to(dataset.root / "state", target_is_directory=True)
    shutil.copyfile(dataset.root / "history.db", root / "history.db")
    return root


def run_scale_phase(
    tmp: Path,
    mode: Mode,
    pool: ClientPool,
    rss_before: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Build the scale dataset under ``tmp``, measure it, and return the JSON-ready results."""
    progress(f"scale: building {mode.scale_rows:,} history rows and {mode.scale_files:,} files")
    dataset = build_dataset(tmp / "scale", mode.scale_rows, mode.scale_files)
    copy = tmp / "cleanup-copy.db"
    shutil.copyfile(dataset.root / "history.db", copy)
    progress("scale: in-process queries")
    state, history = (
        JSONStore(dataset.root / "state"),
        SQLiteHistoryStore(dataset.root / "history.db"),
    )
    try:
        timings = measure_queries(state, history, dataset, "in-process", mode.scale_budget)
    finally:
        state.close()
        history.close()
    with SQLiteHistoryStore(copy) as on_copy:
        timings.append(measure_cleanup(on_copy, "in-process (on a copy)"))
    copy.unlink()
    rss = [{"when": "wfstored of the cells above, before the scale phase", "mib": rss_before}]
    progress("scale: through the daemon")
    daemon = start_wfstored(_daemon_copy(dataset, tmp), tmp / "scale.sock", tmp / "scale.log")
    try:
        rss.append({"when": "scale daemon, just started on the dataset", "mib": daemon.rss_mib()})
        with Client(daemon.tcp, timeout=600) as client:
            client.wait_until_ready(30)
            timings += measure_queries(
                client.state, client.history, dataset, "wfstored tcp", mode.scale_budget
            )
            rss.append({"when": "after loading (the queries above, c=1)", "mib": daemon.rss_mib()})
            peak = [0.0]
            with _peak_rss(daemon, peak):
                cells = _concurrent_cells(daemon, pool, mode, progress)
            rss.append(
                {"when": f"peak during {SCALE_CONCURRENCY} concurrent calls", "mib": peak[0]}
            )
            timings.append(measure_cleanup(client.history, "wfstored tcp (on a copy)"))
        rss.append({"when": "at the end (after Cleanup)", "mib": daemon.rss_mib()})
    finally:
        daemon.stop()
    return {
        "dataset": _dataset_summary(dataset),
        "timings": [timing_json(timing) for timing in timings],
        "cells": summarize(cells),
        "rss": rss,
    }
