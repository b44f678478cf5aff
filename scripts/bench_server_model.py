#!/usr/bin/env python3
"""Compare gRPC server models on a no-op StateService.Load with a realistic reply.

Serves the same canned reply from a thread-pool server (8, 16 and 64 workers) and from a
``grpc.aio`` server, each in its own process, and drives each at concurrency 1, 8 and 64 from
an asyncio client for ``--seconds`` per cell, ``--repeats`` times round-robin. Prints the
median throughput (with min-max) and median p50 latency per model and concurrency; this is
how wfstored's server model (thread pool, 16 workers) was chosen.

    python scripts/bench_server_model.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
from wfstore._wire import context_to_proto
from wfstore.v1 import state_pb2, state_pb2_grpc

sys.path.insert(0, str(Path(__file__).parent))
from bench_roundtrip import _state

MODELS = ["sync8", "sync16", "sync64", "aio"]
REPLY = state_pb2.StateServiceLoadResponse(state=context_to_proto(_state("x")))
OPTIONS = [("grpc.so_reuseport", 0)]


class _SyncLoad(state_pb2_grpc.StateServiceServicer):
    def Load(self, request: object, context: object) -> state_pb2.StateServiceLoadResponse:  # noqa: N802
        del request, context
        return REPLY


class _AsyncLoad(state_pb2_grpc.StateServiceServicer):
    async def Load(self, request: object, context: object) -> state_pb2.StateServiceLoadResponse:  # type: ignore[override]  # noqa: N802
        del request, context
        return REPLY


def _serve(model: str, port: int) -> None:
    """Serve the canned Load on ``port`` with ``model`` until killed."""
    address = f"127.0.0.1:{port}"
    if model.startswith("sync"):
        server = grpc.server(futures.ThreadPoolExecutor(int(model[4:])), options=OPTIONS)
        state_pb2_grpc.add_StateServiceServicer_to_server(_SyncLoad(), server)
        server.add_insecure_port(address)
        server.start()
        server.wait_for_termination()
        return

    async def main() -> None:
        server = grpc.aio.server(options=OPTIONS)
        state_pb2_grpc.add_StateServiceServicer_to_server(_AsyncLoad(), server)
        server.add_insecure_port(address)
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


async def _drive(port: int, concurrency: int, seconds: float) -> tuple[float, float]:
    """Return (calls per second, median latency in ms) at ``concurrency``."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = state_pb2_grpc.StateServiceStub(channel)
        request = state_pb2.StateServiceLoadRequest(workflow_id="x")
        await stub.Load(request, wait_for_ready=True)
        latencies: list[float] = []
        end = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                await stub.Load(request)
                latencies.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(latencies) / (time.monotonic() - began), statistics.median(latencies) * 1e3


def main() -> int:
    """Run every model at every concurrency, round-robin, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("MODEL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve[0], int(args.serve[1]))
        return 0
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for index, model in enumerate(MODELS):
            port = 47100 + index
            server = subprocess.Popen([sys.executable, __file__, "--serve", model, str(port)])
            try:
                for concurrency in (1, 8, 64):
                    cell = asyncio.run(_drive(port, concurrency, args.seconds))
                    results.setdefault((model, concurrency), []).append(cell)
            finally:
                server.kill()
                server.wait()
    print("| model | concurrency | calls/s median (min-max) | p50 ms |")
    print("| --- | ---: | ---: | ---: |")
    for (model, concurrency), cells in sorted(results.items()):
        rates = [rate for rate, _ in cells]
        p50 = statistics.median(latency for _, latency in cells)
        print(
            f"| {model} | {concurrency} | {statistics.median(rates):.0f} "
            f"({min(rates):.0f}-{max(rates):.0f}) | {p50:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
