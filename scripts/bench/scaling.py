"""How wfstored scales with processes: N daemons over one data directory, and a many-core model.

grpcio's Python server runs its handlers under one GIL per process, so more cores need more
processes. This command starts two wfstored over the SAME data directory (the file state store
and SQLite history are multi-process safe) and measures Load, Save, Record, history List and
GetStats with 1 and 2 daemons, at concurrency 8 and 64, round-robin, unpinned. In production
the daemons would share one port (``--reuse-port``; the kernel spreads connections), but the
benchmark's few client processes hold one connection each, which a shared port may put all on
one daemon; so each daemon listens on its own port and every client spreads its calls over
both with one ``ipv4:a:p,b:q`` target (``wfstore.Client``'s round-robin), an even split. It
also probes the caps of a bigger host: whether two daemons can share a port with ``--reuse-port``,
the disk's fsync rate (Save), and SQLite's write rate with group commit, from one process and
from several (Record). From server CPU per call it projects calls/s per core and for a 16-core
host with 15 daemons. See docs/benchmarks.md.

    python -m scripts.bench scaling --out /tmp/scaling          # about 4 minutes
    python -m scripts.bench scaling --quick --out /tmp/scaling  # under a minute
    python -m scripts.bench scaling --report /tmp/scaling/scaling.json --out /tmp/scaling
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scripts.bench._data import seed_data_dir
from scripts.bench._driver import ClientPool, RunResult
from scripts.bench._machine import describe_machine
from scripts.bench._ops import CellSpec
from scripts.bench._plan import client_processes
from scripts.bench._report import percentile
from scripts.bench._scaling_probes import fsync_rate, grpc_shares_port, wfstored_shares_port
from scripts.bench._scaling_report import render_scaling
from scripts.bench._servers import Server, start_wfstored

OPS = ("Load", "Save", "Record", "HistoryList", "GetStats")
DAEMONS = (1, 2)
CONCURRENCY = (8, 64)
FSYNC_THREADS = (1, 16)
SQLITE_CONCURRENCY = 64


@dataclass(frozen=True, kw_only=True)
class ScalingMode:
    """How long each cell and probe runs."""

    name: str
    warmup: float
    window: float
    reps: int
    probe_seconds: float


FULL = ScalingMode(name="full", warmup=0.2, window=1.0, reps=3, probe_seconds=1.0)
QUICK = ScalingMode(name="quick", warmup=0.05, window=0.15, reps=2, probe_seconds=0.2)
_STARTED = time.monotonic()


def _progress(line: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {line}", file=sys.stderr, flush=True)


def _rep(result: RunResult) -> dict[str, Any]:
    latencies = sorted(result.latencies)
    return {
        "rate": result.rate,
        "errors": result.errors,
        "first_error": result.first_error,
        "cpu_us": result.cpu_us_per_call,
        "server_cpu": result.server_cpu,
        "client_cpu": result.client_cpu,
        "p50_ms": percentile(latencies, 0.5) * 1000,
    }


def _target(daemons: Sequence[Server]) -> str:
    """Return one daemon's address, or an ``ipv4:`` list of several (round-robin)."""
    if len(daemons) == 1:
        return daemons[0].tcp
    return "ipv4:" + ",".join(daemon.tcp for daemon in daemons)


def _cells(daemons: list[Server], pool: ClientPool, mode: ScalingMode) -> list[dict[str, Any]]:
    """Run every (op, concurrency, daemon count) cell ``mode.reps`` times, round-robin."""
    cells: dict[tuple[str, int, int], dict[str, Any]] = {}
    for rep in range(mode.reps):
        for op in OPS:
            for conc in CONCURRENCY:
                for count in DAEMONS:
                    spec = CellSpec(
                        impl="wfstored",
                        op=op,
                        transport="tcp",
                        concurrency=conc,
                        target=_target(daemons[:count]),
                        tag=f"s{rep}n{count}c{conc}",
                    )
                    result = pool.run(
                        spec,
                        processes=client_processes(conc, pool.size),
                        warmup=mode.warmup,
                        window=mode.window,
                        server_pid=[daemon.pid for daemon in daemons[:count]],
                    )
                    cell = cells.setdefault(
                        (op, conc, count),
                        {"op": op, "concurrency": conc, "daemons": count, "reps": []},
                    )
                    cell["reps"].append(_rep(result))
                    _progress(
                        f"round {rep + 1}/{mode.reps} {op:11} c={conc:<2} daemons={count} "
                        f"{result.rate:8.0f}/s"
                    )
    return list(cells.values())


def _sqlite_writes(data_dir: Path, pool: ClientPool, mode: ScalingMode) -> dict[str, float]:
    """Return embedded Record rates (group commit) from one process and from every process."""
    rates: dict[str, float] = {}
    for processes in (1, pool.size):
        runs = [
            pool.run(
                CellSpec(
                    impl="embedded",
                    op="Record",
                    transport="in-process",
                    concurrency=SQLITE_CONCURRENCY,
                    target=str(data_dir),
                    tag=f"w{processes}-{rep}",
                ),
                processes=processes,
                warmup=mode.warmup,
                window=mode.window,
            ).rate
            for rep in range(mode.reps)
        ]
        rates[f"{processes} process{'es' if processes > 1 else ''}"] = statistics.median(runs)
        _progress(f"embedded Record c={SQLITE_CONCURRENCY}, {processes} processes: {runs}")
    return rates


def _run(stack: ExitStack, mode: ScalingMode, processes: int) -> dict[str, Any]:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="wfs-scaling-", dir="/tmp"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    (tmp / "probe").mkdir()
    shared, refusal = wfstored_shares_port(tmp / "probe")
    probes: dict[str, Any] = {
        "grpc_shares_port": grpc_shares_port(),
        "wfstored_shares_port": shared,
        "wfstored_second_daemon": refusal,
    }
    _progress(f"port sharing: {probes}")
    seed_data_dir(tmp / "daemon")
    seed_data_dir(tmp / "embedded")
    daemons = []
    for index in range(max(DAEMONS)):
        daemon = start_wfstored(
            tmp / "daemon", tmp / f"wfstored-{index}.sock", tmp / f"wfstored-{index}.log"
        )
        stack.callback(daemon.stop)
        daemons.append(daemon)
    pool = ClientPool(processes)
    stack.callback(pool.close)
    cells = _cells(daemons, pool, mode)
    probes["sqlite_record_rate"] = _sqlite_writes(tmp / "embedded", pool, mode)
    probes["fsync_rate"] = {
        str(threads): fsync_rate(tmp / "daemon", threads, mode.probe_seconds)
        for threads in FSYNC_THREADS
    }
    _progress(f"fsync/s: {probes['fsync_rate']}")
    meta = describe_machine()
    meta.update(client_processes=processes, wall_seconds=time.monotonic() - started)
    return {"meta": meta, "mode": asdict(mode), "cells": cells, "probes": probes}


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the scaling measurement (or redraw a saved one) and print the report."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short cells")
    parser.add_argument("--processes", type=int, default=4, help="client processes (max)")
    parser.add_argument("--out", type=Path, required=True, help="where to write scaling.*")
    parser.add_argument("--report", type=Path, help="redraw the report from a scaling.json")
    args = parser.parse_args(argv)
    if args.report:
        doc = json.loads(args.report.read_text())
    else:
        with ExitStack() as stack:
            doc = _run(stack, QUICK if args.quick else FULL, args.processes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(doc, indent=1) + "\n")
    markdown = render_scaling(doc)
    (args.out / "scaling.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
