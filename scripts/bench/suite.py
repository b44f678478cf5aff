"""Measure every wfstored RPC side by side with its ceiling, the embedded adapters and peers.

One command, one machine, one go: a no-op "ceiling" server built with wfstored's own server
setup, wfstored itself (TCP and Unix socket, concurrency 1, 8 and 64), the embedded adapters
(concurrency 1 and 8), Redis and PostgreSQL (when installed), wfstored and the embedded
adapters on the PostgreSQL backend (a database in the PostgreSQL peer's cluster), then a scale
phase (1M history rows and 100k state files; the same rows again on PostgreSQL). Every cell
runs several times, round-robin. Writes
``docs/bench/latest.md``, ``latest.json`` and ``throughput.png`` and prints the table.

    python -m scripts.bench            # full: about 12 minutes
    python -m scripts.bench --quick    # quick: under 2 minutes
    python -m scripts.bench --report docs/bench/latest.json   # redraw from saved results
    python -m scripts.bench --scale-only --out /tmp/scale     # the scale phase alone
    python -m scripts.bench --scale-only --scale-rows 10000000 --out /tmp/scale10m  # at 10M

(``python -m scripts.bench run ...`` is the same.)

Progress goes to stderr. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from scripts.bench._chart import render_chart
from scripts.bench._data import seed_data_dir
from scripts.bench._driver import ClientPool
from scripts.bench._machine import describe_machine
from scripts.bench._ops import record_batch_available
from scripts.bench._payloads import state_bytes
from scripts.bench._peers import Peer, start_postgres, start_redis
from scripts.bench._pg_backend import PgBackend, start_pg_backend
from scripts.bench._pg_scale_phase import run_pg_scale_phase
from scripts.bench._pinning import add_pin_flag, pin_if_asked, pinned
from scripts.bench._plan import FULL, QUICK, Mode, Targets, build_plan, run_rounds
from scripts.bench._report import Doc, render_markdown, summarize
from scripts.bench._scale_phase import run_scale_phase
from scripts.bench._servers import REPO_ROOT, start_ceiling, start_plain_ceiling, start_wfstored

OUT_DIR = REPO_ROOT / "docs" / "bench"
"""Where the results go unless ``--out`` says otherwise."""


_STARTED = time.monotonic()


def _progress(line: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {line}", file=sys.stderr, flush=True)


def _start_peers(stack: ExitStack, notes: list[str]) -> dict[str, Peer]:
    """Start Redis (twice) and PostgreSQL; skip each that cannot start, with a note."""
    starters: dict[str, Callable[[], Peer]] = {
        "redis": lambda: start_redis("redis", aof=False),
        "redis-aof": lambda: start_redis("redis-aof", aof=True),
        "postgres": start_postgres,
    }
    peers: dict[str, Peer] = {}
    for name, start in starters.items():
        try:
            peer = start()
        except (RuntimeError, ImportError, OSError, subprocess.SubprocessError) as exc:
            notes.append(f"peer {name} skipped: {exc}")
            _progress(f"peer {name} skipped: {exc}")
            continue
        stack.callback(peer.stop)
        peers[name] = peer
        _progress(f"peer {name}: {peer.version}")
    return peers


def _start_pg_backend(
    stack: ExitStack, peers: dict[str, Peer], tmp: Path, notes: list[str]
) -> PgBackend | None:
    """Start wfstored on a database of the postgres peer; None (with a note) if it cannot."""
    peer = peers.get("postgres")
    if peer is None:
        return None
    try:
        pg = start_pg_backend(peer, tmp / "pg-daemon")
    except (RuntimeError, ImportError, OSError) as exc:
        notes.append(f"the PostgreSQL backend skipped: {exc}")
        _progress(f"the PostgreSQL backend skipped: {exc}")
        return None
    stack.callback(pg.stop)
    _progress(f"wfstored on PostgreSQL: seeded in {pg.seconds['seed']:.1f} s")
    return pg


def _run(stack: ExitStack, mode: Mode, args: argparse.Namespace) -> dict[str, Any]:
    """Set everything up (registering its teardown on ``stack``), run it, return the doc."""
    started = time.monotonic()
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="wfs-bench-", dir="/tmp"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    _progress(f"{mode.name} mode; work directory {tmp}")
    seed_data_dir(tmp / "daemon")
    seed_data_dir(tmp / "embedded")
    plain = start_plain_ceiling(tmp / "plain.sock", tmp / "plain.log")
    stack.callback(plain.stop)
    ceiling = start_ceiling(tmp / "ceiling.sock", tmp / "ceiling.log")
    stack.callback(ceiling.stop)
    wfstored = start_wfstored(tmp / "daemon", tmp / "wfstored.sock", tmp / "wfstored.log")
    stack.callback(wfstored.stop)
    peers = {} if args.no_peers else _start_peers(stack, notes)
    pg = _start_pg_backend(stack, peers, tmp, notes)
    pool = ClientPool(args.processes)
    stack.callback(pool.close)
    batches = record_batch_available()
    if not batches:
        notes.append("RecordBatch cells skipped: this client has no history.record_batch")
    targets = Targets(plain, ceiling, wfstored, tmp / "daemon", tmp / "embedded", peers, pg)
    plan = [] if args.scale_only else build_plan(mode, targets, batches=batches)
    _progress(f"{len(plan)} cells x {mode.reps} rounds")
    results = run_rounds(plan, mode, targets, pool, _progress)
    if pg is not None:
        pg.stop()
    for name, peer in peers.items():
        if name != "postgres":
            peer.stop()  # idle from here on; the scale phase gets the machine to itself
    rss_before = wfstored.rss_mib()
    scale = pg_scale = None
    if not args.no_scale:
        scale = run_scale_phase(tmp, mode, pool, rss_before, _progress)
        if pg is not None:
            pg_scale = run_pg_scale_phase(peers["postgres"], tmp, mode, _progress)
    for peer in peers.values():
        peer.stop()
    for cell in results.values():
        notes += [
            f"{cell.spec.impl} {cell.spec.op} {cell.spec.transport} "
            f"c={cell.spec.concurrency}: {note}"
            for note in cell.notes
        ]
    meta = describe_machine()
    meta.update(
        client_processes=args.processes,
        pinned=pinned(),
        peers=[peer.version for peer in peers.values()],
        state_bytes=len(state_bytes("state-000")),
        wall_seconds=time.monotonic() - started,
    )
    return {
        "meta": meta,
        "mode": asdict(mode),
        "cells": summarize(results),
        "scale": scale,
        "pg_scale": pg_scale,
        "notes": notes,
    }


def write_outputs(doc: Doc, out_dir: Path) -> str:
    """Write latest.json, latest.md and throughput.png (if any cell ran) into ``out_dir``.

    Returns the markdown.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    markdown = render_markdown(doc)
    (out_dir / "latest.md").write_text(markdown)
    if doc["cells"]:  # none with --scale-only
        render_chart(doc, out_dir / "throughput.png")
    return markdown


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the benchmark (or redraw a saved one) and print the markdown table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short cells, smaller scale")
    parser.add_argument("--processes", type=int, default=4, help="client processes (max)")
    parser.add_argument("--no-peers", action="store_true", help="skip Redis and PostgreSQL")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale phase")
    parser.add_argument(
        "--scale-only", action="store_true", help="run the scale phase alone, no RPC cells"
    )
    parser.add_argument(
        "--scale-rows",
        type=int,
        help="history rows of the scale phase (default: 1000000, --quick 100000), e.g. 10000000",
    )
    add_pin_flag(parser)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write results")
    parser.add_argument("--report", type=Path, help="redraw the outputs from a latest.json")
    args = parser.parse_args(argv)
    pin_if_asked(parser, args)
    if args.report:
        doc = json.loads(args.report.read_text())
        print(write_outputs(doc, args.out))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = ExitStack()
    try:
        mode = QUICK if args.quick else FULL
        if args.scale_rows is not None:
            mode = dataclasses.replace(mode, scale_rows=args.scale_rows)
        doc = _run(stack, mode, args)
    except KeyboardInterrupt:
        _progress("interrupted; stopping servers and peers")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the teardown finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print(write_outputs(doc, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
