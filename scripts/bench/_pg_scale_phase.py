"""The scale phase on PostgreSQL: the same million history rows, in-process and via wfstored.

The rows are the file/SQLite scale phase's (same generator, same seed), loaded with ``COPY``
into a database of their own in the postgres peer's cluster; the same queries are timed on
``PostgresHistoryStore`` in-process and through a wfstored whose ``--history-store`` is that
database; Cleanup (a third of the rows) runs last, in-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from wfstore import Client

from scripts.bench._peers import Peer
from scripts.bench._pg_backend import copy_history, create_database
from scripts.bench._plan import Mode
from scripts.bench._scale import HOT_NAMES, build_history, measure_cleanup, measure_history
from scripts.bench._scale_phase import timing_json
from scripts.bench._servers import start_wfstored

DATABASE = "wfstore_scale"
"""The scale phase's database, beside the benchmark's own in the peer's cluster."""


def run_pg_scale_phase(
    peer: Peer, tmp: Path, mode: Mode, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Load ``mode.scale_rows`` history rows into PostgreSQL, time the queries, return JSON."""
    from wfstored import PostgresHistoryStore  # noqa: PLC0415 (needs wfstore[postgres])

    progress(f"scale (PostgreSQL): loading {mode.scale_rows:,} history rows with COPY")
    url = create_database(peer, DATABASE)
    began = time.perf_counter()
    shape = build_history(partial(copy_history, url), mode.scale_rows)
    loaded = time.perf_counter() - began
    progress(f"scale (PostgreSQL): loaded in {loaded:.1f} s; in-process queries")
    with PostgresHistoryStore(url) as history:
        timings = measure_history(history, shape, "in-process (PostgreSQL)", mode.scale_budget)
    progress("scale (PostgreSQL): through the daemon")
    daemon = start_wfstored(
        tmp / "pg-scale", tmp / "pg-scale.sock", tmp / "pg-scale.log", "--history-store", url
    )
    try:
        with Client(daemon.tcp, timeout=600) as client:
            client.wait_until_ready(30)
            timings += measure_history(client.history, shape, "wfstored-pg tcp", mode.scale_budget)
    finally:
        daemon.stop()
    with PostgresHistoryStore(url) as history:
        timings.append(measure_cleanup(history, "in-process (PostgreSQL)"))
    return {
        "dataset": {
            "rows": shape.rows,
            "hot_name": HOT_NAMES[0],
            "hot_rows": shape.rows_by_name[HOT_NAMES[0]],
            "typical_name": shape.typical_name,
            "typical_rows": shape.rows_by_name[shape.typical_name],
            "load_seconds": loaded,
        },
        "timings": [timing_json(timing) for timing in timings],
    }
