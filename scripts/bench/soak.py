"""Soak: SIGKILL wfstored under load hundreds of times on one data directory, verifying each time.

The same kill-and-verify loop as ``tests/faults/test_kill9.py`` (see
``tests/support/kill_driver.py``), for as many rounds as asked: every round loads the daemon
with Saves and Records, kills it at a random moment, restarts it on the same directory and
checks every write acknowledged so far (in all rounds). Stops at the first problem.

    python -m scripts.bench soak --kills 300
    python -m scripts.bench soak --kills 100 --postgres   # both stores in PostgreSQL

Run it from the repository root (or with the root on ``PYTHONPATH``): the kill driver is
imported from the tests, as ``tests.support.kill_driver``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from tests.support.kill_driver import KillLoop
from tests.support.postgres import running_cluster


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the rounds, print progress and the summary; exit 1 on the first problem."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300, help="rounds of load, kill, restart")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="keep both stores in a throw-away PostgreSQL cluster instead of the data directory",
    )
    args = parser.parse_args(argv)
    with ExitStack() as cleanup:
        url = None
        if args.postgres:
            url = cleanup.enter_context(running_cluster()).new_database()
        return _soak(args.kills, args.seed, url)


def _soak(kills: int, seed: int, database_url: str | None) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="wfs-soak-", dir="/tmp"))
    loop = KillLoop(tmp / "data", seed=seed, database_url=database_url)
    saves = records = conditional = 0
    problems: list[str] = []
    began = time.monotonic()
    events = 0
    try:
        for _ in range(kills):
            result = loop.run_round()
            saves += result.acked_saves
            records += result.acked_records
            conditional += result.acked_conditional
            problems = result.problems
            if problems:
                break
            if loop.rounds % 25 == 0:
                print(
                    f"{loop.rounds} kills survived, {saves:,} saves and {records:,} records "
                    f"acknowledged so far ({time.monotonic() - began:.0f} s)",
                    flush=True,
                )
        if not problems:
            events, problems = loop.verify_watch()
        loop.close()
    finally:
        if loop.daemon is not None:
            loop.daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    survived = loop.rounds - (1 if problems else 0)
    print(
        f"kills: {loop.rounds}; survived with every acknowledged write intact: {survived}; "
        f"acknowledged: {saves:,} saves (of them {conditional:,} conditional saves and "
        f"deletes, each version checked never to repeat), {records:,} records; "
        f"records verified after the last "
        f"restart: {len(loop.ledger.records):,}; state ids verified: "
        f"{len(loop.ledger.own) + len(loop.ledger.shared) + len(loop.ledger.versioned):,}; "
        f"change log replayed from before the first kill: {events:,} events, every "
        f"acknowledged save among them once; wall time {time.monotonic() - began:.0f} s"
    )
    for problem in problems[:20]:
        print(f"  problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
