"""What HistoryService.Record and .List cost in our own Python, per call, without gRPC.

Calls :class:`~wfstored.rpc.servicers.HistoryServicer` directly with real request messages and
a stand-in context (only what the servicer touches), on a real SQLite store seeded as the
benchmark seeds it (10,000 rows over 8 names, "deploy" about a fifth). Each round makes
``--calls`` calls; the figures are the median over ``--rounds`` rounds of each round's median
wall time per call, and of its process CPU time per call (Record's wall time includes the
fsync of its commit; its CPU time does not). ``--profile`` prints cProfile's top 25 instead.
``--daemon N`` also runs N calls of each from a client through a real ``python -m wfstored``
and prints the daemon's CPU time per call (utime + stime from /proc).

    python -m scripts.bench history-cost --dir /dev/shm
    python -m scripts.bench history-cost --profile list
    python -m scripts.bench history-cost --daemon 3000 --concurrency 8
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import grpc
from google.protobuf.message import Message
from wfstore import Client, HistoryFilter, wire
from wfstore.v1 import history_pb2
from wfstored import SQLiteHistoryStore
from wfstored.rpc.drain import Drain
from wfstored.rpc.servicers import HistoryServicer

from scripts.bench._data import seed_data_dir
from scripts.bench._payloads import LIST_NAME, make_record
from scripts.bench._servers import start_wfstored

_LIST_FILTER = HistoryFilter(workflow_name=LIST_NAME, limit=20)
"""What the benchmark's history List cell asks for: one page of 20 "deploy" records."""


class _Context:
    """The parts of a ``grpc.ServicerContext`` the history servicer touches, for calls that work."""

    def time_remaining(self) -> float | None:
        return None

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise RuntimeError(f"the call failed: {code.name}: {details}")

    def set_trailing_metadata(self, metadata: object) -> None:
        del metadata


Call = Callable[[], object]


class _Calls:
    """Makes the requests of each round ahead of it, so that only the servicer is timed."""

    def __init__(self, servicer: HistoryServicer) -> None:
        self._servicer = servicer
        self._context = _Context()
        self._next_id = 0

    def records(self, count: int) -> list[Call]:
        """Return ``count`` Record calls, each of a new finished-run record."""
        calls: list[Call] = []
        for _ in range(count):
            self._next_id += 1
            message = wire.record_to_proto(make_record(f"cost-{self._next_id:08d}"))
            request = history_pb2.HistoryServiceRecordRequest(record=message)
            calls.append(self._call(self._servicer.Record, request))
        return calls

    def lists(self, count: int) -> list[Call]:
        """Return ``count`` List calls of the benchmark's page."""
        request = history_pb2.HistoryServiceListRequest(filter=wire.filter_to_proto(_LIST_FILTER))
        return [self._call(self._servicer.List, request) for _ in range(count)]

    def _call(self, method: Callable[..., Message], request: Message) -> Call:
        # As wfstored's server does: parse the request's bytes, call, serialise the reply.
        data, parse = request.SerializeToString(), type(request).FromString
        context = self._context

        def call() -> bytes:
            return method(parse(data), context).SerializeToString()

        return call


def _round(calls: Sequence[Call]) -> tuple[float, float, float]:
    """Run ``calls``; return the median wall µs of one call, and user and system CPU µs per call."""
    walls: list[float] = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for call in calls:
        started = time.perf_counter()
        call()
        walls.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_SELF)
    user = (after.ru_utime - before.ru_utime) / len(calls)
    system = (after.ru_stime - before.ru_stime) / len(calls)
    return statistics.median(walls) * 1e6, user * 1e6, system * 1e6


def _measure(made: _Calls, rounds: int, calls: int) -> None:
    """Print the median over rounds of each round's figures, the two methods interleaved."""
    figures: dict[str, list[tuple[float, float, float]]] = {"Record": [], "List": []}
    made.lists(50)[0]()  # open this thread's read connection before timing
    for _ in range(rounds):
        figures["Record"].append(_round(made.records(calls)))
        figures["List"].append(_round(made.lists(calls)))
    for name, samples in figures.items():
        wall, user, system = (statistics.median(s[k] for s in samples) for k in range(3))
        print(
            f"{name:7s} median {wall:7.1f} µs wall per call;"
            f" CPU per call {user:6.1f} µs user + {system:6.1f} µs system"
        )


def _concurrent_records(made: _Calls, store: SQLiteHistoryStore, threads: int, calls: int) -> None:
    """Print CPU per Record call and writes per transaction, ``threads`` calling at once."""
    work = [made.records(calls) for _ in range(threads)]
    sizes = store.commit_batch_sizes
    batches, writes = sizes.batches, sizes.writes
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda calls: [call() for call in calls], work))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    total = threads * calls
    user = (after.ru_utime - before.ru_utime) / total * 1e6
    system = (after.ru_stime - before.ru_stime) / total * 1e6
    per_batch = (sizes.writes - writes) / max(1, sizes.batches - batches)
    print(
        f"Record  {threads} threads: CPU per call {user:6.1f} µs user + {system:6.1f} µs system;"
        f" {total / elapsed:.0f} calls/s; {per_batch:.1f} writes per transaction"
    )


def _profile(made: _Calls, which: str, calls: int) -> None:
    """Print cProfile's top 25 (by own time) over ``calls`` calls of ``which``."""
    work = made.records(calls) if which == "record" else made.lists(calls)
    profiler = cProfile.Profile()
    profiler.enable()
    for call in work:
        call()
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)


def _daemon(data_dir: Path, calls: int, concurrency: int) -> None:
    """Print the daemon's CPU time per Record and per List call, from clients over TCP."""
    server = start_wfstored(data_dir, data_dir / "wfstored.sock", data_dir / "wfstored.log")
    try:
        with Client(server.tcp, timeout=30) as client, ThreadPoolExecutor(concurrency) as pool:
            jobs: dict[str, Callable[[int], object]] = {
                "Record": lambda n: client.history.record(make_record(f"daemon-{n:08d}")),
                "List": lambda _n: client.history.list_page(_LIST_FILTER),
            }
            list(pool.map(jobs["List"], range(200)))  # warm up: connections, reader threads
            for name, job in jobs.items():
                before = server.cpu_seconds()
                started = time.perf_counter()
                list(pool.map(job, range(calls)))
                elapsed = time.perf_counter() - started
                used = server.cpu_seconds() - before
                print(
                    f"{name:7s} daemon {used / calls * 1e6:7.1f} µs CPU per call"
                    f" ({calls} calls, {concurrency} at a time, {calls / elapsed:.0f}/s)"
                )
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Seed a store, then measure, profile, or measure through a daemon."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", choices=("record", "list"), help="print a cProfile top 25")
    parser.add_argument(
        "--dir", help="where the store lives (/dev/shm: no disk, so Record's fsync costs nothing)"
    )
    parser.add_argument("--threads", type=int, default=8, help="concurrent Record threads")
    parser.add_argument("--daemon", type=int, metavar="N", help="also N calls through wfstored")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads (--daemon)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wfstore-histcost-", dir=args.dir) as tmp:
        data_dir = Path(tmp) / "data"
        seed_data_dir(data_dir)
        store = SQLiteHistoryStore(data_dir / "history.db")
        try:
            made = _Calls(HistoryServicer(store, Drain()))
            if args.profile:
                _profile(made, args.profile, args.calls)
            else:
                _measure(made, args.rounds, args.calls)
                _concurrent_records(made, store, args.threads, args.calls)
        finally:
            store.close()
        if args.daemon:
            _daemon(data_dir, args.daemon, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
