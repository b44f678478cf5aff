"""Run the real ``wfstore`` command: piped, or on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


def cli_command(*args: str) -> list[str]:
    """Return the command line that runs ``wfstore`` with ``args``."""
    return [sys.executable, "-m", "wfstore", *args]


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFSTORE_") and k != "NO_COLOR"}
    return {**env, **(extra or {})}


def run_cli(
    *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``wfstore args`` with pipes for stdin (empty unless given), stdout and stderr."""
    return subprocess.run(
        cli_command(*args),
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
        check=False,
    )


@dataclass
class TTYRun:
    """What a run on a pseudo-terminal wrote (stdout and stderr mixed, as a user sees them)."""

    returncode: int
    output: str


def run_on_tty(
    *args: str,
    answer: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
    before_answer: Callable[[], object] | None = None,
) -> TTYRun:
    """Run ``wfstore args`` with a pseudo-terminal as stdin, stdout and stderr.

    ``answer`` is typed once the command has asked a question (a confirmation prompt), after
    ``before_answer`` (if given) has run: what happens while the user thinks.
    """
    main, secondary = pty.openpty()
    terminal = {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    process = subprocess.Popen(
        cli_command(*args),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=_env({**terminal, **(env or {})}),
        close_fds=True,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    answered = answer is None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # EIO: the other end closed
                    break
                if not data:
                    break
                chunks.append(data)
                if not answered and b"?" in b"".join(chunks):
                    if before_answer is not None:
                        before_answer()
                    os.write(main, answer.encode() + b"\n")  # type: ignore[union-attr]
                    answered = True
            elif process.poll() is not None:
                break
        code = process.wait(max(0.1, deadline - time.monotonic()))
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return TTYRun(code, b"".join(chunks).decode(errors="replace"))


def one_error_line(stderr: str) -> str:
    """Return the single line a failure printed; fail if there is more, or a traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wfstore: error: "), stderr
    return lines[0]


def wait_until(predicate: object, seconds: float = 10) -> None:
    """Wait until ``predicate()`` is true."""
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.05)


Args = Sequence[str]
