"""Load test: 64 clients mixing all eight RPCs against one wfstored, then verify every write.

Starts wfstored on loopback over a fresh data directory, runs ``--clients`` client threads
(each with its own connection) in ``--processes`` processes for ``--seconds``, sampling the
daemon's RSS every second, then prints per-RPC throughput, p50/p99 and errors. Afterwards it
checks that every acknowledged record and every final state is stored, first on the running
daemon and again after a restart on the same data directory. Exits 1 if any call failed or
any acknowledged write is missing.

    python -m scripts.bench load                      # 64 clients, 60 s, TCP
    python -m scripts.bench load --seconds 10 --transport unix
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Self

from wfstore import Client, HistoryFilter

from scripts.bench._load_worker import RPCS, SHARED_IDS, WORKFLOW_NAME, ThreadResult, run_process
from scripts.bench._servers import Server, start_wfstored


class _RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a background thread."""

    def __init__(self, server: Server, interval: float = 1.0) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._began = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((time.monotonic() - self._began, self.server.rss_mib()))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _print_table(results: list[ThreadResult], seconds: float) -> int:
    """Print the per-RPC table; return the number of failed calls."""
    print("| RPC | calls | calls/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    failed = 0
    for rpc in RPCS:
        latencies = [v for r in results for v in r.latencies.get(rpc, [])]
        errors = sum(1 for r in results for e in r.errors if e.startswith(f"{rpc}:"))
        failed += errors
        if not latencies:
            print(f"| {rpc} | 0 | 0 | | | {errors} |")
            continue
        print(
            f"| {rpc} | {len(latencies):,} | {len(latencies) / seconds:,.0f} "
            f"| {statistics.median(latencies) * 1e3:.2f} "
            f"| {_percentile(latencies, 0.99) * 1e3:.2f} | {errors} |"
        )
    total = sum(len(v) for r in results for v in r.latencies.values())
    print(f"| all | {total:,} | {total / seconds:,.0f} | | | {failed} |")
    return failed


def _verify(client: Client, results: list[ThreadResult]) -> list[str]:
    """Return every difference between what was acknowledged and what the daemon holds."""
    problems: list[str] = []
    checked = 0
    for result in results:
        for workflow_id, marker in result.own_states.items():
            if workflow_id in result.uncertain:
                continue
            loaded = client.state.load(workflow_id)
            found = None if loaded is None else loaded.current_step
            checked += 1
            if found != marker:
                problems.append(f"state {workflow_id}: holds {found!r}, acknowledged {marker!r}")
    for workflow_id in SHARED_IDS:
        acknowledged = {m for r in results for m in r.shared_saves.get(workflow_id, [])}
        if not acknowledged:
            continue
        loaded = client.state.load(workflow_id)
        checked += 1
        if loaded is None or loaded.current_step not in acknowledged:
            found = None if loaded is None else loaded.current_step
            problems.append(f"state {workflow_id}: holds {found!r}, not an acknowledged save")
    stored: set[str] = set()
    token = ""
    while True:
        page = client.history.list_page(
            HistoryFilter(workflow_name=WORKFLOW_NAME, limit=2**31 - 1),
            page_size=1000,
            page_token=token,
        )
        stored.update(record.id for record in page.items)
        token = page.next_page_token
        if not token:
            break
    acknowledged_records = {record_id for r in results for record_id in r.records}
    missing = acknowledged_records - stored
    problems += [f"record {record_id}: acknowledged but not stored" for record_id in missing]
    print(
        f"verified {checked:,} states and {len(acknowledged_records):,} acknowledged records "
        f"({len(stored):,} stored): {len(problems)} problems"
    )
    return problems


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the load, print the report, verify, and return the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--transport", choices=("tcp", "unix"), default="tcp")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="wfs-load-", dir="/tmp"))
    server = start_wfstored(tmp / "data", tmp / "wfstored.sock", tmp / "wfstored.log")
    try:
        target = server.target(args.transport)
        with Client(target) as client:
            client.wait_until_ready(10)
        rss_start = server.rss_mib()
        per_process = [args.clients // args.processes] * args.processes
        for extra in range(args.clients % args.processes):
            per_process[extra] += 1
        print(
            f"{args.clients} clients in {args.processes} processes, {args.seconds:.0f} s, "
            f"{args.transport} {target}; daemon pid {server.pid}, RSS at start {rss_start:.1f} MiB"
        )
        began = time.monotonic()
        with (
            _RssSampler(server) as rss,
            ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool,
        ):
            futures = [
                pool.submit(run_process, target, index, threads, args.seconds)
                for index, threads in enumerate(per_process)
            ]
            results = [result for future in futures for result in future.result()]
        elapsed = time.monotonic() - began
        rss_end = server.rss_mib()
        failed = _print_table(results, args.seconds)
        for error in [e for r in results for e in r.errors][:10]:
            print(f"  error: {error}")
        peak = max((mib for _, mib in rss.samples), default=rss_end)
        tenths = [f"{mib:.1f}" for _, mib in rss.samples[:: max(1, len(rss.samples) // 10)]]
        print(f"wall time {elapsed:.1f} s (clients start, run {args.seconds:.0f} s, stop)")
        print(
            f"daemon RSS MiB: start {rss_start:.1f}, peak {peak:.1f}, end {rss_end:.1f}; "
            f"sampled through the run: {', '.join(tenths)}"
        )
        with Client(target) as client:
            problems = _verify(client, results)
        server.stop()
        server = start_wfstored(tmp / "data", tmp / "wfstored.sock", tmp / "wfstored.log")
        print("after a restart on the same data directory:")
        with Client(server.target(args.transport)) as client:
            client.wait_until_ready(10)
            problems += _verify(client, results)
        for problem in problems[:20]:
            print(f"  {problem}")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
