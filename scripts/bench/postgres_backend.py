"""Measure the PostgreSQL backend: through wfstored and embedded, beside direct psycopg.

One throw-away PostgreSQL cluster (the benchmark's peer, defaults: fsync and synchronous
commit on) holds two databases: the peer's, where psycopg inserts rows directly (one row per
commit, or a batch in one transaction: ``executemany``, which psycopg pipelines; ``COPY``
straight into the table; ``COPY`` into a temporary table merged with ``INSERT ... SELECT ...
ON CONFLICT``, as an adapter that must spot retried ids would), and wfstored's, which a daemon
(``--state-store`` and ``--history-store`` on it) and the embedded stores use. Every cell runs
several times, round-robin, with the same client processes as the main benchmark.

    python -m scripts.bench postgres            # about a minute
    python -m scripts.bench postgres --window 1.0 --reps 5

Progress goes to stderr; the table (markdown) to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from scripts.bench._driver import ClientPool, RunResult
from scripts.bench._ops import CellSpec
from scripts.bench._payloads import STATE_IDS
from scripts.bench._peers import start_postgres
from scripts.bench._pg_backend import create_database, save_states
from scripts.bench._pinning import add_pin_flag, pin_if_asked, pinned
from scripts.bench._plan import client_processes
from scripts.bench._report import percentile
from scripts.bench._servers import start_wfstored


def _cells(daemon: str, embedded_url: str, peer: str) -> list[CellSpec]:
    def cell(impl: str, op: str, conc: int, batch: int = 1) -> CellSpec:
        target = {"wfstored": daemon, "embedded-pg": embedded_url, "postgres": peer}[impl]
        transport = "in-process" if impl == "embedded-pg" else "tcp"
        return CellSpec(
            impl=impl, op=op, transport=transport, concurrency=conc, target=target, batch=batch
        )

    cells: list[CellSpec] = []
    for conc in (1, 8, 64):
        cells += [cell("wfstored", "Record", conc), cell("postgres", "INSERT", conc)]
        if conc <= 8:
            cells.append(cell("embedded-pg", "Record", conc))
    for batch in (100, 1000):
        for conc in (1, 8):
            cells += [
                cell("wfstored", "RecordBatch", conc, batch),
                cell("postgres", "INSERT", conc, batch),
                cell("postgres", "COPY+merge", conc, batch),
                cell("postgres", "COPY", conc, batch),
                cell("embedded-pg", "RecordBatch", conc, batch),
            ]
    for op in ("Save", "Load"):
        for conc in (1, 8, 64):
            cells.append(cell("wfstored", op, conc))
            if conc <= 8:
                cells.append(cell("embedded-pg", op, conc))
    return cells


def _label(spec: CellSpec) -> str:
    names = {"wfstored": "wfstored (PostgreSQL)", "embedded-pg": "embedded PostgreSQL stores"}
    direct = {
        "INSERT": "psycopg, direct (executemany, 1 commit)",
        "COPY+merge": "psycopg, direct (COPY to a temp table, INSERT SELECT ON CONFLICT)",
        "COPY": "psycopg, direct (COPY into the table, no conflict rule)",
    }.get(spec.op, "")
    if spec.batch == 1:
        direct = "psycopg, direct (1 row/commit)"
    op = spec.op if spec.batch == 1 else f"{spec.op} x{spec.batch}"
    return f"| {op} | {names.get(spec.impl, direct)} | {spec.concurrency} |"


def _table(results: dict[tuple[object, ...], tuple[CellSpec, list[RunResult]]]) -> list[str]:
    lines = [
        "| cell | impl | conc | throughput/s median (min-max) | p50 ms | p99 ms | x psycopg |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    medians: dict[tuple[object, ...], float] = {}
    for key, (spec, runs) in results.items():
        rates = [run.rate * spec.batch for run in runs]
        medians[key] = statistics.median(rates)
    for key, (spec, runs) in results.items():
        rates = [run.rate * spec.batch for run in runs]
        latencies = sorted(value for run in runs for value in run.latencies)
        peer_key = ("postgres", "INSERT", spec.concurrency, spec.batch)
        ratio = ""
        if key != peer_key and spec.op in {"Record", "RecordBatch", "COPY", "COPY+merge"}:
            ratio = f"{medians[key] / medians[peer_key]:.2f}"
        unit = " rec" if spec.batch > 1 else ""
        errors = sum(run.errors for run in runs)
        note = f" ({errors} errors)" if errors else ""
        lines.append(
            f"{_label(spec)} {statistics.median(rates):,.0f}{unit} ({min(rates):,.0f}-"
            f"{max(rates):,.0f}){note} | {percentile(latencies, 0.5) * 1000:.2f} | "
            f"{percentile(latencies, 0.99) * 1000:.2f} | {ratio} |"
        )
    return lines


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run every cell ``--reps`` times round-robin and print the table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=float, default=0.1, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=0.5, help="seconds measured per cell")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of every cell")
    parser.add_argument("--processes", type=int, default=4, help="client processes (max)")
    add_pin_flag(parser)
    args = parser.parse_args(argv)
    pin_if_asked(parser, args)
    began = time.monotonic()
    peer = start_postgres()
    work = Path(tempfile.mkdtemp(prefix="wfs-bench-pgbackend-", dir="/tmp"))
    pool: ClientPool | None = None
    daemon = None
    try:
        url = create_database(peer, "wfstore")
        from wfstored import PostgresStateStore  # noqa: PLC0415 (needs wfstore[postgres])

        with PostgresStateStore(url) as seed:  # what the Load and Save cells use
            save_states(seed, STATE_IDS)
        stores = ("--state-store", url, "--history-store", url)
        daemon = start_wfstored(work / "data", work / "d.sock", work / "d.log", *stores)
        pool = ClientPool(args.processes)
        cells = _cells(daemon.target("tcp"), url, peer.targets["tcp"])
        results: dict[tuple[object, ...], tuple[CellSpec, list[RunResult]]] = {}
        for rep in range(args.reps):
            for n, cell in enumerate(cells):
                spec = replace(cell, tag=f"{rep}-{n}")
                run = pool.run(
                    spec,
                    processes=client_processes(spec.concurrency, args.processes),
                    warmup=args.warmup,
                    window=args.window,
                )
                key = (cell.impl, cell.op, cell.concurrency, cell.batch)
                results.setdefault(key, (cell, []))[1].append(run)
            print(
                f"[{time.monotonic() - began:6.1f}s] round {rep + 1} of {args.reps}",
                file=sys.stderr,
            )
        where = "pinned: servers and PostgreSQL on CPU 0, clients on CPU 1; " if pinned() else ""
        print(
            f"# The PostgreSQL backend ({peer.version}; {where}{args.reps} repetitions of "
            f"{args.window} s; {time.monotonic() - began:.0f} s in all)\n"
        )
        print("\n".join(_table(results)))
    finally:
        if pool is not None:
            pool.close()
        if daemon is not None:
            daemon.stop()
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
