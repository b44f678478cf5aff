"""Pinned runs: servers on one core, the benchmark and its client processes on another.

On a small machine a ratio of two throughputs can say more about two processes fighting over
the same cores than about either of them. After :func:`pin`, every server the benchmark starts
(wfstored, the ceiling, PostgreSQL, Redis) runs on CPU :data:`SERVER_CPU` (its command is
prefixed with ``taskset``), and this process, with every client process it spawns from then
on, runs on CPU :data:`CLIENT_CPU`, so each cell measures what one core of server can do.
"""

from __future__ import annotations

import argparse
import os
import shutil

SERVER_CPU = 0
"""The core servers run on in a pinned run."""
CLIENT_CPU = 1
"""The core the benchmark's own process and its client processes run on in a pinned run."""

_pinned = False


def pin() -> None:
    """Pin from now on: servers to :data:`SERVER_CPU`, this process to :data:`CLIENT_CPU`.

    Raises RuntimeError when the machine has fewer than two usable cores or no ``taskset``.
    """
    global _pinned  # noqa: PLW0603 (one switch for the whole run)
    usable = os.sched_getaffinity(0)
    if not {SERVER_CPU, CLIENT_CPU} <= usable:
        raise RuntimeError(f"pinning needs CPUs {SERVER_CPU} and {CLIENT_CPU}; usable: {usable}")
    if shutil.which("taskset") is None:
        raise RuntimeError("pinning needs taskset (util-linux)")
    os.sched_setaffinity(0, {CLIENT_CPU})
    _pinned = True


def pinned() -> bool:
    """Whether :func:`pin` was called."""
    return _pinned


def server_command(command: list[str]) -> list[str]:
    """Return ``command``, run on :data:`SERVER_CPU` if the run is pinned."""
    return ["taskset", "-c", str(SERVER_CPU), *command] if _pinned else command


def add_pin_flag(parser: argparse.ArgumentParser) -> None:
    """Give a benchmark command the ``--pin`` flag (see :func:`pin_if_asked`)."""
    parser.add_argument(
        "--pin", action="store_true", help="servers on CPU 0, clients on CPU 1 (see _pinning)"
    )


def pin_if_asked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Pin if ``--pin`` was given; a machine that cannot be pinned is a usage error."""
    if args.pin:
        try:
            pin()
        except RuntimeError as exc:
            parser.error(str(exc))
