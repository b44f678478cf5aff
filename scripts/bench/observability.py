"""What metrics and tracing cost per call: Load with and without them, and beside libraries.

Starts wfstored three times on copies of the benchmark's data directory (plain,
``--metrics-listen``, and ``--metrics-listen`` with ``--tracing file:/dev/null``), and the
ceiling (no-op stores: gRPC and the servicers only, where an interceptor's cost shows most)
with each call observer of ``scripts.bench._observed_ceiling`` whose library is installed:
none, wfstored's metrics interceptor, py-grpc-prometheus, wfstored's tracing interceptor,
opentelemetry-instrumentation-grpc. Each runs StateService.Load over TCP at concurrency 1
and 8 (fixed-duration cells, as ``run`` does), ``--rounds`` times round-robin; prints the
median throughput (min-max), p50 and p99 latency, and the change against the plain server.

    python -m scripts.bench observability --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from scripts.bench._data import seed_data_dir
from scripts.bench._driver import ClientPool, RunResult
from scripts.bench._ops import CellSpec
from scripts.bench._servers import REPO_ROOT, Server, _start, start_wfstored

CONCURRENCIES = (1, 8)
_LIBRARIES = {
    "py-grpc-prometheus": "py_grpc_prometheus",
    "otel-instrumentation": "opentelemetry.instrumentation.grpc",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _ceilings(tmp: Path) -> dict[str, Server]:
    found: dict[str, Server] = {}
    for observer in ("none", "metrics", "py-grpc-prometheus", "tracing", "otel-instrumentation"):
        module = _LIBRARIES.get(observer)
        if module is not None and not _installed(module):
            print(f"skipping ceiling {observer}: {module} is not installed", file=sys.stderr)
            continue
        sock = tmp / f"c-{observer}.sock"
        command = [
            sys.executable,
            "-m",
            "scripts.bench._observed_ceiling",
            "--observer",
            observer,
            "--listen",
            "127.0.0.1:0",
            "--listen",
            f"unix://{sock}",
        ]
        name = f"ceiling {observer}"
        found[name] = _start(name, command, tmp / f"c-{observer}.log", sock, cwd=REPO_ROOT)
    return found


def _daemons(tmp: Path) -> dict[str, Server]:
    variants = {
        "wfstored": [],
        "wfstored metrics": ["--metrics-listen", "127.0.0.1:0"],
        "wfstored metrics+tracing": [
            "--metrics-listen",
            "127.0.0.1:0",
            "--tracing",
            "file:/dev/null",
        ],
    }
    found: dict[str, Server] = {}
    for index, (name, extra) in enumerate(variants.items()):
        data = tmp / f"data-{index}"
        seed_data_dir(data, history=100)
        found[name] = start_wfstored(data, tmp / f"w-{index}.sock", tmp / f"w-{index}.log", *extra)
    return found


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, runs: list[RunResult], base: list[RunResult] | None) -> str:
    rates = [run.rate for run in runs]
    cpu = statistics.median((run.cpu_ms_per_call or 0.0) * 1000 for run in runs)
    latencies = [value for run in runs for value in run.latencies]
    p50, p99 = _pct(latencies, 0.5) * 1e6, _pct(latencies, 0.99) * 1e6
    change = ""
    if base is not None and base is not runs:
        base_rate = statistics.median(run.rate for run in base)
        base_p50 = _pct([v for run in base for v in run.latencies], 0.5) * 1e6
        base_cpu = statistics.median((run.cpu_ms_per_call or 0.0) * 1000 for run in base)
        change = (
            f"{statistics.median(rates) / base_rate - 1:+.1%} | {p50 - base_p50:+.0f} "
            f"| {cpu - base_cpu:+.0f}"
        )
    else:
        change = " | "
    return (
        f"| {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) "
        f"| {p50:.0f} | {p99:.0f} | {cpu:.0f} | {change} |"
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the cells and print the table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="measured window per cell")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wfs-obs-", dir="/tmp") as directory:
        tmp = Path(directory)
        servers: dict[str, Server] = {}
        pool = ClientPool(2)
        try:
            servers.update(_daemons(tmp))
            servers.update(_ceilings(tmp))
            results: dict[tuple[str, int], list[RunResult]] = {}
            for round_number in range(args.rounds):
                print(f"round {round_number + 1} of {args.rounds}", file=sys.stderr)
                for conc in CONCURRENCIES:
                    for name, server in servers.items():
                        spec = CellSpec(
                            impl="wfstored",
                            op="Load",
                            transport="tcp",
                            concurrency=conc,
                            target=server.tcp,
                        )
                        run = pool.run(
                            spec,
                            processes=2,
                            warmup=0.2,
                            window=args.seconds,
                            server_pid=server.pid,
                        )
                        if run.errors:
                            raise RuntimeError(f"{name}: {run.errors} errors: {run.first_error}")
                        results.setdefault((name, conc), []).append(run)
        finally:
            pool.close()
            for server in servers.values():
                server.stop()
    print(
        "| server, StateService.Load over TCP | calls/s median (min-max) | p50 µs | p99 µs "
        "| server CPU µs/call | calls/s vs plain | p50 µs vs plain | CPU µs/call vs plain |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for conc in CONCURRENCIES:
        print(f"| **concurrency {conc}** | | | | | | | |")
        for name in servers:
            base_name = "ceiling none" if name.startswith("ceiling") else "wfstored"
            base = results.get((base_name, conc))
            print(_row(name, results[name, conc], base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
