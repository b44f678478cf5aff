"""What the kernel alone charges a durable Save and Delete of the file state store, in CPU time.

A Save of the file store makes these system calls (see ``wfstored.storage.files``): append
the intent to its stripe's change log and ``fdatasync`` it, create and write a temp file,
``fsync`` it, rename it onto the state file, ``fsync`` the directory, append the outcome. A
Delete: the intent and its ``fdatasync``, ``unlink``, the directory's ``fsync``, the outcome.
This script makes exactly those calls with no Python work around them and prints the CPU time
(user + system, of the calling thread) each costs, median over many repetitions, so that the
part of a Save's server CPU that no Python optimisation can remove is known.

    python -m scripts.bench.durable_write_cost [--dir DIR] [--repeats 2000]

``--dir`` should be on the file system the state directory will live on (default: a temp
directory under /tmp).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

_STATE_BYTES = 4126  # the benchmark's state in awf's file format


def _cpu(costs: dict[str, list[float]], name: str, call: Callable[[], object]) -> None:
    started = time.thread_time()
    call()
    costs.setdefault(name, []).append(time.thread_time() - started)


def measure(directory: Path, repeats: int) -> dict[str, list[float]]:
    """Run ``repeats`` Saves and Deletes' system calls in ``directory``; CPU seconds by step."""
    costs: dict[str, list[float]] = {}
    data = os.urandom(_STATE_BYTES)
    directory_fd = os.open(directory, os.O_RDONLY)
    log = os.open(directory / "changes.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    target = str(directory / "state-001.json")
    try:
        for n in range(repeats):
            started = time.thread_time()
            _cpu(costs, "save: intent + fdatasync", lambda: _append_synced(log, b"S 1 x\n"))
            temp = str(directory / f".t-{secrets.token_hex(8)}.tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            _cpu(costs, "save: write temp file", partial(os.write, fd, data))
            _cpu(costs, "save: fsync temp file", partial(os.fsync, fd))
            os.close(fd)
            _cpu(costs, "save: rename", partial(os.replace, temp, target))
            _cpu(costs, "save: fsync directory", lambda: os.fsync(directory_fd))
            os.write(log, b"+\n")
            costs.setdefault("save: all of the above", []).append(time.thread_time() - started)
            victim = str(directory / f"d-{n}.json")
            Path(victim).write_bytes(data)
            started = time.thread_time()
            _cpu(costs, "delete: intent + fdatasync", lambda: _append_synced(log, b"D 2 x\n"))
            _cpu(costs, "delete: unlink", partial(os.unlink, victim))
            _cpu(costs, "delete: fsync directory", lambda: os.fsync(directory_fd))
            os.write(log, b"+\n")
            costs.setdefault("delete: all of the above", []).append(time.thread_time() - started)
    finally:
        os.close(log)
        os.close(directory_fd)
    return costs


def _append_synced(fd: int, line: bytes) -> None:
    os.write(fd, line)
    os.fdatasync(fd)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Print the median CPU microseconds of each step."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, help="where to write (default: a temp directory)")
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        costs = measure(Path(scratch), args.repeats)
    print(f"| step ({args.repeats} repetitions) | CPU µs, median | mean |")
    print("| --- | --- | --- |")
    for name, values in costs.items():
        median, mean = statistics.median(values) * 1e6, statistics.mean(values) * 1e6
        print(f"| {name} | {median:.1f} | {mean:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
