"""Compare gRPC server models on a no-op StateService.Load with a realistic reply.

Serves the same canned reply from a thread-pool server (8, 16 and 64 workers), from two
16-worker processes sharing the port with ``SO_REUSEPORT`` (``sync16x2``) and from a
``grpc.aio`` server, and drives each at concurrency 1, 8 and 64 from an asyncio client for
``--seconds`` per cell, ``--repeats`` times round-robin. Prints the median throughput (with
min-max) and median p50 latency per model and concurrency; this is how wfstored's server model
(one process, thread pool, 16 workers) was chosen.

    python -m scripts.bench server-model
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent import futures

import grpc
from wfstore.v1 import state_pb2, state_pb2_grpc
from wfstore.wire import context_to_proto

from scripts.bench._servers import REPO_ROOT
from scripts.bench.roundtrip import sample_state

MODELS = ["sync8", "sync16", "sync64", "sync16x2", "aio"]
PROCESSES = {"sync16x2": 2}
"""Models served by several processes on one port (each process runs the model's pool)."""
REPLY = state_pb2.StateServiceLoadResponse(state=context_to_proto(sample_state("x")))
OPTIONS = [("grpc.so_reuseport", 0)]
SHARED_PORT_OPTIONS = [("grpc.so_reuseport", 1)]
_MODULE = "scripts.bench.server_model"
"""This module, as the servers run it: ``python -m`` from the repository root."""


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
        workers, _, copies = model[4:].partition("x")
        options = SHARED_PORT_OPTIONS if copies else OPTIONS
        server = grpc.server(futures.ThreadPoolExecutor(int(workers)), options=options)
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


CHANNELS = 4
"""Connections the driver opens (workers use them round-robin): SO_REUSEPORT spreads
connections, not calls, over the processes sharing a port."""


async def _drive(port: int, concurrency: int, seconds: float) -> tuple[float, float]:
    """Return (calls per second, median latency in ms) at ``concurrency``."""
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(min(concurrency, CHANNELS))
    ]
    stubs = [state_pb2_grpc.StateServiceStub(channel) for channel in channels]
    request = state_pb2.StateServiceLoadRequest(workflow_id="x")
    try:
        for stub in stubs:
            await stub.Load(request, wait_for_ready=True)
        latencies: list[float] = []
        end = time.monotonic() + seconds

        async def worker(stub: state_pb2_grpc.StateServiceStub) -> None:
            while time.monotonic() < end:
                started = time.perf_counter()
                await stub.Load(request)
                latencies.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(worker(stubs[i % len(stubs)]) for i in range(concurrency)))
        return len(latencies) / (time.monotonic() - began), statistics.median(latencies) * 1e3
    finally:
        for channel in channels:
            await channel.close()


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run every model at every concurrency, round-robin, and print the table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("MODEL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve[0], int(args.serve[1]))
        return 0
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for index, model in enumerate(MODELS):
            port = 47100 + index
            command = [sys.executable, "-m", _MODULE, "--serve", model, str(port)]
            servers = [
                subprocess.Popen(command, cwd=REPO_ROOT) for _ in range(PROCESSES.get(model, 1))
            ]
            time.sleep(1.0)  # every process bound before the first connection
            try:
                for concurrency in (1, 8, 64):
                    cell = asyncio.run(_drive(port, concurrency, args.seconds))
                    results.setdefault((model, concurrency), []).append(cell)
            finally:
                for server in servers:
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
