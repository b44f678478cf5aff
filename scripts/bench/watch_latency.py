"""Measure Save-to-event latency: how soon watchers see a Save, per backend and watcher count.

For the file backend and PostgreSQL, through one daemon, across two daemons on the same data
directory or database, and embedded (one store object, or two), a saver saves at a steady
rate while 1 or 100 watchers watch the saved ids' prefix; each latency is an event's arrival
at a watcher minus the start of its Save (``CLOCK_MONOTONIC``, machine-wide). Two more cells
time back-to-back Saves on the file daemon with no watcher and with 100 (does watching slow
writers?). Daemon watchers run in a separate process on ``wfstore.aio`` (see
``scripts/bench/_watch_remote.py``); embedded ones on threads beside the saver.

    python -m scripts.bench watch                  # about 3 minutes
    python -m scripts.bench watch --pin --json watch.json
    python -m scripts.bench watch --saves 20 --watchers 1 --backends files   # a smoke run

Progress goes to stderr; the table (markdown) to stdout. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from scripts.bench._machine import describe_machine
from scripts.bench._payloads import state_bytes
from scripts.bench._peers import start_postgres
from scripts.bench._pg_backend import create_database
from scripts.bench._pinning import add_pin_flag, pin_if_asked, pinned
from scripts.bench._watch_report import (
    Doc,
    json_ready,
    latency_cell,
    render_markdown,
    throughput_cell,
)
from scripts.bench._watch_samples import match
from scripts.bench._watch_saver import back_to_back_saves, paced_saves, states_for
from scripts.bench._watch_setups import Setup, WatcherGroup, file_setups, postgres_setups

BACKENDS = ("files", "postgresql")
"""The state backends measured, by their ``--backends`` names."""
IDS = 8
"""How many workflow ids the saves go round (so files spread over several lock stripes)."""
GRACE_SECONDS = 5.0
"""How long after the last Save events may still arrive before they count as missed (at
least; as long as the Saves took if that is longer, for watchers that fell behind)."""
FELL_BEHIND_MS = 20.0
"""Growth of the latency from the first to the last tenth of a cell's Saves that says the
watchers fell behind (if it is also more than a quarter of where it started)."""
THROUGHPUT_WATCHERS = 100
"""The watchers present in the back-to-back Save cell that has some."""

_began = time.monotonic()


def _progress(line: str) -> None:
    print(f"[{time.monotonic() - _began:6.1f}s] {line}", file=sys.stderr, flush=True)


class _Run:
    """The cells run so far and the settings they share; gives each cell its own prefix."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cells: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._prefixes = 0

    def prefix(self) -> str:
        """Return a prefix no earlier cell used, so no cell sees another's changes."""
        self._prefixes += 1
        return f"wl{self._prefixes:03d}-"

    def latency(self, setup: Setup, watchers: int) -> None:
        """Run one latency cell: paced Saves, ``watchers`` watchers; keep its result."""
        args, prefix = self.args, self.prefix()
        states = states_for(prefix, IDS)
        group = setup.open_watchers(watchers, prefix)
        try:
            server_before, watcher_before = setup.server_cpu_seconds(), group.cpu_seconds()
            began = time.monotonic()
            marks = paced_saves(setup.save, states, args.warmup + args.saves, args.interval)
            received = group.finish(len(marks), _grace(time.monotonic() - began))
            server_cpu = _spent(server_before, setup.server_cpu_seconds())
            watcher_cpu = _spent(watcher_before, group.cpu_seconds())
        finally:
            group.close()
        matched = match(marks, received, watchers, warmup=args.warmup)
        cell = latency_cell(
            setup.cell,
            setup.backend,
            watchers,
            marks,
            matched,
            warmup=args.warmup,
            server_cpu=server_cpu,
            watcher_cpu=watcher_cpu,
            errors=group.errors,
        )
        self._keep(cell, group.errors)

    def throughput(self, setup: Setup, watchers: int) -> None:
        """Run one back-to-back Save cell with ``watchers`` watchers present (maybe none)."""
        args, prefix = self.args, self.prefix()
        states = states_for(prefix, IDS)
        group: WatcherGroup | None = setup.open_watchers(watchers, prefix) if watchers else None
        try:
            server_before = setup.server_cpu_seconds()
            began = time.monotonic()
            marks = back_to_back_saves(setup.save, states, args.window)
            seconds = time.monotonic() - began
            received = group.finish(len(marks), _grace(seconds)) if group else []
            server_cpu = _spent(server_before, setup.server_cpu_seconds())
        finally:
            if group is not None:
                group.close()
        matched = match(marks, received, watchers) if group else None
        cell = throughput_cell(
            setup.backend, watchers, marks, matched, seconds=seconds, server_cpu=server_cpu
        )
        self._keep(cell, group.errors if group else [])

    def _keep(self, cell: dict[str, Any], errors: Sequence[str]) -> None:
        self.cells.append(cell)
        what = f"{cell['cell']}, {cell['backend']}, {cell['watchers']} watchers"
        _progress(
            f"{what}: p50 {cell['p50_ms']:.2f} ms, p99 {cell['p99_ms']:.2f} ms, "
            f"max {cell['max_ms']:.2f} ms, {cell['saves_per_s']:,.0f} saves/s, "
            f"missed {cell['missed']}"
        )
        drift = cell.get("drift_ms")
        if drift and _fell_behind(drift["first_tenth_p50"], drift["last_tenth_p50"]):
            self.notes.append(
                f"{what}: the watchers fell behind (p50 {drift['first_tenth_p50']:.1f} ms over "
                f"the first tenth of the Saves, {drift['last_tenth_p50']:.1f} ms over the last): "
                "more Saves would give higher figures"
            )
        if cell["missed"] or cell["unexpected"] or errors:
            self.notes.append(
                f"{what}: {cell['missed']:,} events missed, {cell['unexpected']:,} unexpected"
                + (f"; first error: {errors[0]}" if errors else "")
            )


def _fell_behind(first_ms: float, last_ms: float) -> bool:
    """Whether latency grew over a cell by more than noise: 20 ms and a quarter of its start."""
    return last_ms - first_ms > max(FELL_BEHIND_MS, first_ms / 4)


def _grace(saving: float) -> float:
    return max(GRACE_SECONDS, saving)


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _run_backend(run: _Run, setups: list[Setup]) -> None:
    """Run every latency cell of one backend, then (file daemon) the throughput cells."""
    for setup in setups:
        for watchers in run.args.watchers:
            run.latency(setup, watchers)
    daemon = next(s for s in setups if s.cell == "daemon")
    if daemon.backend == "files" and run.args.window > 0:
        for watchers in (0, THROUGHPUT_WATCHERS):
            run.throughput(daemon, watchers)


def _postgres(stack: ExitStack, work: Path, run: _Run) -> list[Setup] | None:
    """Start a throw-away cluster and its setups; None (with a note) if it cannot start."""
    try:
        peer = start_postgres()
    except (RuntimeError, ImportError, OSError, subprocess.SubprocessError) as exc:
        run.notes.append(f"postgresql skipped: {exc}")
        _progress(f"postgresql skipped: {exc}")
        return None
    stack.callback(peer.stop)
    _progress(f"PostgreSQL: {peer.version}")
    url = create_database(peer, "wfwatch")
    return postgres_setups(stack, work, url, run.args.watcher_processes)


def _measure(args: argparse.Namespace) -> Doc:
    """Run every cell asked for and return the results."""
    run = _Run(args)
    starters: dict[str, Callable[[ExitStack, Path], list[Setup] | None]] = {
        "files": lambda stack, work: file_setups(stack, work, args.watcher_processes),
        "postgresql": lambda stack, work: _postgres(stack, work, run),
    }
    with ExitStack() as outer:
        work = Path(tempfile.mkdtemp(prefix="wfs-bench-watch-", dir="/tmp"))
        outer.callback(shutil.rmtree, work, ignore_errors=True)
        for backend in args.backends:
            with ExitStack() as stack:  # each backend's servers stop before the next starts
                setups = starters[backend](stack, work)
                if setups is not None:
                    _progress(f"{backend}: servers up")
                    _run_backend(run, setups)
    meta = describe_machine()
    meta.update(pinned=pinned(), wall_seconds=time.monotonic() - _began)
    settings = {
        "saves": args.saves,
        "warmup": args.warmup,
        "interval": args.interval,
        "window": args.window,
        "ids": IDS,
        "state_bytes": len(state_bytes("wl001-00")),
        "watcher_processes": args.watcher_processes,
        "backends": list(args.backends),
        "watchers": list(args.watchers),
    }
    return {"meta": meta, "settings": settings, "cells": run.cells, "notes": run.notes}


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("watcher counts must be 1 or more")
    return values


def _backend_list(text: str) -> list[str]:
    values = [part for part in text.split(",") if part]
    unknown = sorted(set(values) - set(BACKENDS))
    if unknown or not values:
        raise argparse.ArgumentTypeError(f"backends are {', '.join(BACKENDS)}; got {text!r}")
    return values


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the cells, print the markdown table, and write ``--json`` if asked."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--saves", type=int, default=300, help="counted Saves per latency cell (default 300)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="Saves first, not counted (default 20)"
    )
    parser.add_argument(
        "--interval", type=float, default=0.02, help="seconds between Saves (default 0.02)"
    )
    parser.add_argument(
        "--watchers", type=_int_list, default=[1, 100], help="watcher counts (default 1,100)"
    )
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=list(BACKENDS),
        help="files, postgresql or both (default)",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=3.0,
        help="seconds of back-to-back Saves per throughput cell; 0 skips them",
    )
    parser.add_argument(
        "--watcher-processes",
        type=int,
        default=1,
        help="processes the daemon watchers are spread over (default 1)",
    )
    parser.add_argument("--json", type=Path, help="also write every result and sample here")
    add_pin_flag(parser)
    args = parser.parse_args(argv)
    if args.saves < 2 or args.warmup < 0 or args.interval < 0 or args.watcher_processes < 1:
        parser.error(
            "--saves must be 2 or more, --watcher-processes 1 or more, --warmup and "
            "--interval 0 or more"
        )
    pin_if_asked(parser, args)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        doc = _measure(args)
    except KeyboardInterrupt:
        _progress("interrupted; servers stopped")
        return 130
    if args.json is not None:
        args.json.write_text(json.dumps(json_ready(doc), indent=1, allow_nan=False) + "\n")
        _progress(f"wrote {args.json}")
    print(render_markdown(doc), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
