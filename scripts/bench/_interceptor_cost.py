"""What an interceptor adds to one call, in-process: no network, no storage, no gRPC core.

Calls a registered unary handler through each interceptor ``--calls`` times on one thread,
as gRPC's server does (``intercept_service`` then the handler's behaviour), and subtracts
the same loop with no interceptor. The behaviour returns a canned reply at once and the
context is a stand-in that reports no status code set, so what remains is the interceptor's
own work: label lookups, counters, the histogram, the span. A live server adds the same on
top of its call path (see ``python -m scripts.bench observability``).

    python -m scripts.bench._interceptor_cost --calls 100000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import grpc

from scripts.bench._observed_ceiling import OBSERVERS, observer

METHOD = "/wfstore.v1.StateService/Load"


class _Context:
    """The parts of a servicer context the interceptors read, for a call that succeeds."""

    _state = SimpleNamespace(client=None, code=None)  # py-grpc-prometheus reads these

    def code(self) -> None:
        return None

    def is_active(self) -> bool:
        return True

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"


def _handler() -> Any:  # noqa: ANN401 (the stubs' generic handler)
    return grpc.unary_unary_rpc_method_handler(lambda request, _context: request)


def _loop(name: str, calls: int) -> float:
    """Return the seconds ``calls`` calls take through observer ``name``."""
    interceptors = observer(name)
    handler = _handler()
    details = SimpleNamespace(method=METHOD, invocation_metadata=())
    context = _Context()

    def continuation(_: object) -> Any:  # noqa: ANN401
        return handler

    intercept = interceptors[0].intercept_service if interceptors else None
    started = time.perf_counter()
    for _ in range(calls):
        found = intercept(continuation, details) if intercept else continuation(details)
        found.unary_unary(b"", context)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Print the median cost per call of each observer, in microseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    names = [name for name in OBSERVERS if _available(name)]
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):  # round-robin, so noise spreads over every observer
        for name in names:
            times[name].append(_loop(name, args.calls) / args.calls * 1e6)
    base = statistics.median(times["none"])
    print("| interceptor | µs per call (median of repeats) | added µs per call |")
    print("| --- | --- | --- |")
    for name in names:
        cost = statistics.median(times[name])
        print(f"| {name} | {cost:.2f} | {cost - base:+.2f} |")
    return 0


def _available(name: str) -> bool:
    try:
        observer(name)
    except ImportError:
        print(f"skipping {name}: not installed", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
