"""Time a Save+Load round trip and a Record, embedded and through a real wfstored.

Starts wfstored on a temporary data directory (TCP loopback and a Unix socket), runs each
operation ``--calls`` times one after the other, and prints a markdown table of the median and
p99 latency per operation and transport, with the ratio to the embedded adapters.

    python -m scripts.bench roundtrip --calls 1000
"""

from __future__ import annotations

import argparse
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfstore import (
    Client,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    HistoryStore,
    StateStore,
    StepState,
)
from wfstored import JSONStore, SQLiteHistoryStore
from wfstored.daemon.serving_line import SERVING_LINE, addresses_of


def sample_state(workflow_id: str) -> ExecutionContext:
    """Return a state of realistic size (about 4 KiB on disk): inputs, two steps, env."""
    now = datetime.now(UTC)
    steps = {
        name: StepState(
            name=name,
            status=ExecutionStatus.COMPLETED,
            output="line of output\n" * 40,
            attempt=1,
            started_at=now,
            completed_at=now,
            data={"files": ["a.go", "b.go"], "ok": True},
        )
        for name in ("build", "test")
    }
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name="deploy",
        status=ExecutionStatus.RUNNING,
        inputs={"repo": "acme/widgets", "pr": 42, "labels": ["bug", "urgent"], "dry_run": False},
        states=steps,
        env={"HOME": "/home/dev"},
        started_at=now,
        updated_at=now,
    )


def _time_calls(calls: int, operation: Callable[[int], None]) -> list[float]:
    """Return the latency in microseconds of each of ``calls`` calls (after 20 warm-ups)."""
    for n in range(20):
        operation(-1 - n)
    samples = []
    for n in range(calls):
        started = time.perf_counter_ns()
        operation(n)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def _measure(
    calls: int, state: StateStore, history: HistoryStore, tag: str
) -> dict[str, list[float]]:
    base = sample_state("bench")
    now = datetime.now(UTC)

    def save_load(n: int) -> None:
        base.workflow_id = f"{tag}-{n % 100}"
        state.save(base)
        state.load(base.workflow_id)

    def record(n: int) -> None:
        history.record(
            ExecutionRecord(
                id=f"{tag}-{n}",
                workflow_id=f"{tag}-{n}",
                workflow_name="deploy",
                status="success",
                started_at=now - timedelta(seconds=1),
                completed_at=now,
                duration_ms=1000,
            )
        )

    return {"Save+Load": _time_calls(calls, save_load), "Record": _time_calls(calls, record)}


def _start_daemon(data: Path, sock: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start wfstored logging to a file beside ``data``; return it and its TCP address."""
    log = data.with_suffix(".log")
    with log.open("wb") as sink:
        listen = ["--listen", "127.0.0.1:0", "--listen", f"unix://{sock}"]
        process = subprocess.Popen(
            [sys.executable, "-m", "wfstored", "--data-dir", str(data), *listen], stderr=sink
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        match = SERVING_LINE.search(log.read_text())
        if match:
            tcp = next(a for a in addresses_of(match) if not a.startswith("unix:"))
            return process, tcp
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"wfstored did not start:\n{log.read_text()}")


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per cell")
    calls = parser.parse_args(argv).calls
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="wfs-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        state, history = (
            JSONStore(root / "embedded" / "state"),
            SQLiteHistoryStore(root / "embedded" / "history.db"),
        )
        for op, samples in _measure(calls, state, history, "emb").items():
            results[(op, "embedded")] = samples
        history.close()
        process, tcp = _start_daemon(root / "daemon", root / "wfs.sock")
        try:
            for transport, target in (("tcp", tcp), ("unix", f"unix://{root}/wfs.sock")):
                with Client(target, timeout=30) as client:
                    client.wait_until_ready(10)
                    measured = _measure(calls, client.state, client.history, transport)
                    for op, samples in measured.items():
                        results[(op, f"daemon {transport}")] = samples
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(f"{calls} calls per cell, one at a time; {platform.node()}, {platform.python_version()}")
    print()
    print("| operation | where | median µs | p99 µs | median ÷ embedded |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (op, where), samples in results.items():
        median = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        ratio = median / statistics.median(results[(op, "embedded")])
        print(f"| {op} | {where} | {median:.0f} | {p99:.0f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
