"""What caps wfstored on many cores, measured on this machine: port sharing, fsync, SQLite.

:func:`port_sharing` finds out whether two servers can listen on one TCP port (plain grpcio,
and wfstored); :func:`fsync_rate` how many small-file fsyncs the data directory's disk does per
second; the Record cap (SQLite's single writer with group commit) is measured by the scaling
command with embedded stores.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

from scripts.bench._servers import start_wfstored

_BLOCK = b"x" * 4096


def grpc_shares_port() -> bool:
    """Whether a second plain grpcio server (default options) binds a port another one holds."""
    first = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    second = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    try:
        port = first.add_insecure_port("127.0.0.1:0")
        try:
            return second.add_insecure_port(f"127.0.0.1:{port}") == port
        except RuntimeError:
            return False
    finally:
        first.stop(None)
        second.stop(None)


def wfstored_shares_port(work: Path) -> tuple[bool, str]:
    """Start two wfstored on one TCP port (``--reuse-port``); return whether both served.

    Both serve ``work / "data"``; each is stopped before returning. The second line is the
    second daemon's last log line when it did not start.
    """
    data = work / "data"
    (data / "state").mkdir(mode=0o700, parents=True, exist_ok=True)
    data.chmod(0o700)
    first = start_wfstored(data, work / "first.sock", work / "first.log", "--reuse-port")
    try:
        try:
            second = start_wfstored(
                data, work / "second.sock", work / "second.log", "--reuse-port", tcp=first.tcp
            )
        except RuntimeError as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            return False, lines[-1] if lines else "it did not start"
        second.stop()
        return True, f"both serve {first.tcp}"
    finally:
        first.stop()


def fsync_rate(directory: Path, threads: int, seconds: float) -> float:
    """Return how many 4 KiB write+fsync of a fresh file per second ``threads`` threads reach."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            path = directory / f"fsync-{index}-{n}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, _BLOCK)
                os.fsync(fd)
            finally:
                os.close(fd)
            path.unlink()
            n += 1
        counts[index] = n

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)
