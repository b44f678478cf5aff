"""Drive one cell: N outstanding calls from several client processes for a fixed time.

A :class:`ClientPool` keeps a few spawned client processes alive for the whole run (each
with its own connections, so one GIL never limits the load). A cell at concurrency N spreads
N threads over up to ``processes`` of them; every thread repeats its call back to back. Calls
started inside the measured window (after a warm-up) count: a thread's throughput is its
counted calls over the time they took (first start to last end), the cell's is the sum over
threads (so a cell of slow calls is not quantized by the window), and the latencies of all
processes are merged for the percentiles.

CPU is sampled over the measured window alone (from its start to its end, not the warm-up):
the server process's (all its threads, from ``/proc``), optionally a database's, and each
client process's own, so that CPU per call can be given for both ends of the wire.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from scripts.bench._ops import CellSpec, Operation, Resources, build_operation
from scripts.bench._servers import process_cpu_seconds

_START_DELAY = 0.01


@dataclass
class RunResult:
    """What one run of one cell measured."""

    calls: int
    rate: float
    latencies: list[float] = field(repr=False)
    errors: int = 0
    first_error: str = ""
    misses: int = 0
    server_cpu: float | None = None
    """CPU the server process used during the measured window, in cores (1.0: one core busy)."""
    client_cpu: float | None = None
    """CPU the client processes used during the measured window, in cores (summed)."""
    db_cpu: float | None = None
    """CPU a database cluster behind the server used during the window, in cores."""

    def _per_call(self, cores: float | None) -> float | None:
        if cores is None or self.rate <= 0:
            return None
        return cores / self.rate

    @property
    def cpu_ms_per_call(self) -> float | None:
        """Server CPU time per call, ms (from its utilization and the throughput)."""
        seconds = self._per_call(self.server_cpu)
        return None if seconds is None else seconds * 1000

    @property
    def cpu_us_per_call(self) -> dict[str, float]:
        """CPU time per call in µs, by side: ``server``, ``client`` and ``db`` (when measured)."""
        sides = {"server": self.server_cpu, "client": self.client_cpu, "db": self.db_cpu}
        return {
            side: seconds * 1e6
            for side, cores in sides.items()
            if (seconds := self._per_call(cores)) is not None
        }


@dataclass
class _ThreadOutcome:
    calls: int = 0
    busy: float = 0.0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    errors: int = 0
    first_error: str = ""


def _thread_loop(
    op: Operation, start: float, warm_until: float, end: float, out: _ThreadOutcome
) -> None:
    """Call ``op`` back to back; count the calls started in [warm_until, end).

    The call in flight at ``end`` is finished and counted, and a thread whose calls are
    slower than the window keeps going until it has counted one (at most 60 s more).
    ``busy`` is the time from the first counted call's start to the last one's end.
    """
    delay = start - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    n = 0
    clock = time.perf_counter
    first = None
    while (began := clock()) < end or (out.calls == 0 and began < end + 60):
        try:
            op(n)
        except Exception as exc:  # noqa: BLE001 (counted and reported, the cell goes on)
            out.errors += 1
            out.first_error = out.first_error or f"{type(exc).__name__}: {exc}"[:300]
            n += 1
            continue
        finished = clock()
        n += 1
        if began >= warm_until:
            first = began if first is None else first
            out.calls += 1
            out.latencies.append(finished - began)
            out.busy = finished - first


def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def _worker(conn: Connection) -> None:
    """Serve prepare/go/close requests from the driver until told to close.

    Ctrl-C is left to the driver, which closes its client processes itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resources = Resources()
    ops: list[Operation] = []
    try:
        while True:
            message = conn.recv()
            if message[0] == "close":
                return
            if message[0] == "prepare":
                _, spec, first_thread, count, total = message
                # This process deletes its share of the pool, in proportion to its threads.
                pool = iter(
                    range(
                        spec.pool * first_thread // total,
                        spec.pool * (first_thread + count) // total,
                    )
                )
                try:
                    ops = [
                        build_operation(spec, resources, first_thread + k, pool)
                        for k in range(count)
                    ]
                except Exception as exc:  # noqa: BLE001 (reported to the driver)
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
                    continue
                conn.send(("ready", ""))
            elif message[0] == "go":
                _, start, warm_until, end = message
                outcomes = [_ThreadOutcome() for _ in ops]
                threads = [
                    threading.Thread(target=_thread_loop, args=(op, start, warm_until, end, out))
                    for op, out in zip(ops, outcomes, strict=True)
                ]
                for thread in threads:
                    thread.start()
                _sleep_until(warm_until)
                cpu_start = time.process_time()  # this process: every thread
                _sleep_until(end)
                cpu_spent = time.process_time() - cpu_start
                for thread in threads:
                    thread.join()
                merged = array("d")
                for out in outcomes:
                    merged.extend(out.latencies)
                conn.send(
                    (
                        sum(out.calls for out in outcomes),
                        sum(out.calls / out.busy for out in outcomes if out.busy > 0),
                        merged.tobytes(),
                        sum(out.errors for out in outcomes),
                        next((out.first_error for out in outcomes if out.first_error), ""),
                        sum(op.misses for op in ops),
                        cpu_spent,
                    )
                )
    except (EOFError, KeyboardInterrupt):
        return
    finally:
        with contextlib.suppress(Exception):
            resources.close()


class ClientPool:
    """Client processes, spawned once and reused by every cell."""

    def __init__(self, processes: int) -> None:
        """Spawn ``processes`` client processes."""
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for index in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child,), name=f"bench-client-{index}")
            proc.daemon = True
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    @property
    def size(self) -> int:
        """How many client processes there are."""
        return len(self._conns)

    def run(  # noqa: PLR0913 (keyword-only: what to run, and what to measure)
        self,
        spec: CellSpec,
        *,
        processes: int,
        warmup: float,
        window: float,
        server_pid: int | Sequence[int] | None = None,
        db_cpu: Callable[[], float] | None = None,
    ) -> RunResult:
        """Run ``spec`` at its concurrency over ``processes`` processes; return what counted.

        The client processes' CPU use over the measured window is always measured; with
        ``server_pid``, that process's too (several: their sum), and with ``db_cpu`` (which
        returns CPU seconds used so far) a database's.
        """
        used = max(1, min(processes, spec.concurrency, self.size))
        shares = [spec.concurrency // used + (k < spec.concurrency % used) for k in range(used)]
        first = 0
        for conn, share in zip(self._conns, shares, strict=False):
            conn.send(("prepare", spec, first, share, spec.concurrency))
            first += share
        problems = [
            reply[1]
            for reply in (conn.recv() for conn in self._conns[:used])
            if reply[0] != "ready"
        ]
        if problems:
            raise RuntimeError(f"cannot prepare {spec.impl} {spec.op}: {problems[0]}")
        start = time.perf_counter() + _START_DELAY
        warm_until, end = start + warmup, start + warmup + window
        for conn in self._conns[:used]:
            conn.send(("go", start, warm_until, end))
        probes: dict[str, Callable[[], float]] = {}
        if server_pid is not None:
            pids = [server_pid] if isinstance(server_pid, int) else list(server_pid)
            probes["server"] = lambda: sum(process_cpu_seconds(pid) for pid in pids)
        if db_cpu is not None:
            probes["db"] = db_cpu
        _sleep_until(warm_until)
        before = {side: probe() for side, probe in probes.items()}
        _sleep_until(end)
        spent = {side: probe() - before[side] for side, probe in probes.items()}
        result = RunResult(calls=0, rate=0.0, latencies=[], client_cpu=0.0)
        client_seconds = 0.0
        for conn in self._conns[:used]:
            calls, rate, raw, errors, first_error, misses, cpu = conn.recv()
            client_seconds += cpu
            latencies = array("d")
            latencies.frombytes(raw)
            result.calls += calls
            result.rate += rate
            result.latencies.extend(latencies)
            result.errors += errors
            result.first_error = result.first_error or first_error
            result.misses += misses
        result.client_cpu = client_seconds / window
        if "server" in spent:
            result.server_cpu = spent["server"] / window
        if "db" in spent:
            result.db_cpu = spent["db"] / window
        return result

    def close(self) -> None:
        """Stop every client process (politely, then by force)."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("close",))
        deadline = time.monotonic() + 3
        for proc in self._procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join()
