"""Dispatch ``python -m scripts.bench [COMMAND] [FLAGS]`` to one benchmark or tool.

The first argument names the command; when it is not a command name (or there is none), the
command is ``run``, so ``python -m scripts.bench --quick`` runs the quick side-by-side
benchmark. ``python -m scripts.bench COMMAND --help`` shows the flags of one command.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

PROG = "python -m scripts.bench"
"""How the commands are invoked, for their usage lines."""
DEFAULT_COMMAND = "run"
"""The command run when the first argument names none."""


class Command(NamedTuple):
    """One command: the module whose ``main(argv)`` runs it, and a one-line summary."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "run": Command(
        "scripts.bench.suite",
        "every RPC side by side with the ceiling, the embedded adapters and peers (default)",
    ),
    "roundtrip": Command(
        "scripts.bench.roundtrip", "Save+Load and Record latency, embedded and through wfstored"
    ),
    "history-cost": Command(
        "scripts.bench.history_path_cost",
        "the Python cost of HistoryService Record and List, in-process and through wfstored",
    ),
    "server-model": Command(
        "scripts.bench.server_model", "gRPC server models compared on a no-op Load"
    ),
    "scaling": Command(
        "scripts.bench.scaling",
        "1 and 2 wfstored over one data directory, and a model for many cores",
    ),
    "load": Command(
        "scripts.bench.load_test", "many clients mixing every RPC, then every write verified"
    ),
    "postgres": Command(
        "scripts.bench.postgres_backend",
        "the PostgreSQL backend: through wfstored and embedded, beside direct psycopg",
    ),
    "watch": Command(
        "scripts.bench.watch_latency",
        "Save-to-event latency of Watch, per backend and watcher count",
    ),
    "observability": Command(
        "scripts.bench.observability",
        "what --metrics-listen and --tracing cost per call, beside interceptor libraries",
    ),
    "retention": Command(
        "scripts.bench.retention",
        "Record latency while a retention round deletes 50,000 old history records",
    ),
    "durable-write-cost": Command(
        "scripts.bench.durable_write_cost",
        "the kernel's CPU per durable Save and Delete of the file store (its system calls alone)",
    ),
    "codec-cost": Command(
        "scripts.bench.codec_cost",
        "what the state codec and validation cost per call, in-process (Save and Load path)",
    ),
    "rollup-cost": Command(
        "scripts.bench.rollup_cost",
        "Record and RecordBatch with and without the history roll-up triggers",
    ),
    "soak": Command(
        "scripts.bench.soak", "SIGKILL wfstored under load many times, verifying each time"
    ),
}
"""Every command, by the name given on the command line."""


def usage() -> str:
    """Return the overview printed for ``--help`` before any command name."""
    width = max(len(name) for name in COMMANDS)
    lines = [
        f"usage: {PROG} [COMMAND] [FLAGS]",
        "",
        "The wfstore benchmarks and developer tools; each command has its own flags.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()),
        "",
        f"Without a command name first, {DEFAULT_COMMAND} is meant (e.g. {PROG} --quick).",
        f"{PROG} COMMAND --help shows the flags of one command. Run from the repository root",
        "(or with it on PYTHONPATH).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument (``run`` if none) with the rest."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    name = args.pop(0) if args and args[0] in COMMANDS else DEFAULT_COMMAND
    command_main: Callable[[list[str], str], int] = importlib.import_module(
        COMMANDS[name].module
    ).main
    return command_main(args, f"{PROG} {name}")


if __name__ == "__main__":  # not when a spawned worker process imports this as __mp_main__
    sys.exit(main())
