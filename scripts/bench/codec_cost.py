"""What the kernel's codec and validation cost per call, in-process, on the benchmark state.

Times the functions the daemon runs on Save (``context_from_proto``, ``check_context``,
``encode_state``) and on Load (``decode_state``, ``context_to_proto``) on
:func:`scripts.bench._payloads.make_state`, and prints the median µs per call: each round
times ``--calls`` calls, and the median of ``--rounds`` round medians is reported (the
machine is shared, so the median of rounds resists interference).

    python -m scripts.bench.codec_cost --rounds 5 --calls 2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from wfstore.awf_state import decode_state, encode_state
from wfstore.validation import check_context
from wfstore.wire import context_from_proto, context_to_proto

from scripts.bench._payloads import make_state

_WORKFLOW_ID = "state-000"
_BATCH = 20  # calls timed together, so the clock's own cost stays negligible


def cases() -> dict[str, Callable[[], object]]:
    """Return the timed calls, by name, each bound to its input."""
    state = make_state(_WORKFLOW_ID)
    message = context_to_proto(state)
    document = encode_state(state)
    return {
        "context_from_proto": lambda: context_from_proto(message),
        "context_to_proto": lambda: context_to_proto(state),
        "check_context": lambda: check_context(state),
        "encode_state": lambda: encode_state(state),
        "decode_state": lambda: decode_state(document, _WORKFLOW_ID),
    }


def _round_median(call: Callable[[], object], calls: int) -> float:
    """Return the median µs per call over ``calls`` calls, timed in batches."""
    samples = []
    clock = time.perf_counter_ns
    for _ in range(max(1, calls // _BATCH)):
        start = clock()
        for _ in range(_BATCH):
            call()
        samples.append((clock() - start) / _BATCH / 1000)
    return statistics.median(samples)


def measure(rounds: int, calls: int) -> dict[str, float]:
    """Return the median of round medians, µs per call, of every case."""
    timed = cases()
    results: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(rounds):  # interleaved, so drift in the machine's load hits every case
        for name, call in timed.items():
            results[name].append(_round_median(call, calls))
    return {name: statistics.median(values) for name, values in results.items()}


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Print the cost table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (default 2000)")
    args = parser.parse_args(argv)
    figures = measure(args.rounds, args.calls)
    print(f"{'function':<20} {'µs/call':>9}")
    for name, micros in figures.items():
        print(f"{name:<20} {micros:>9.1f}")
    save = figures["context_from_proto"] + figures["check_context"] + figures["encode_state"]
    load = figures["decode_state"] + figures["context_to_proto"]
    print(f"{'Save path total':<20} {save:>9.1f}")
    print(f"{'Load path total':<20} {load:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
