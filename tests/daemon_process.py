"""Start a real ``wfstored`` subprocess for tests, on port 0 and a Unix socket."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wfstore import Client

_SERVING = re.compile(r"serving on (?P<addresses>.+?) \(data ")


@dataclass
class Daemon:
    """A running ``wfstored`` process and what it printed."""

    process: subprocess.Popen[str]
    data_dir: Path
    tcp_target: str
    unix_target: str | None
    socket_dir: Path | None
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def client(self, transport: str = "tcp", **options: object) -> Client:
        """Return a client connected over ``tcp`` or ``unix``."""
        target = self.tcp_target if transport == "tcp" else self.unix_target
        assert target is not None
        return Client(target, **options)  # type: ignore[arg-type]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        if self.reader is not None:
            self.reader.join(timeout)
        if self.process.stderr is not None:
            self.process.stderr.close()
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
        return code

    def stderr(self) -> str:
        """Return everything the daemon has logged so far."""
        return "".join(self.log)


def wfstored_command(*args: str) -> list[str]:
    """Return the command line that runs the daemon with ``args``."""
    return [sys.executable, "-m", "wfstored", *args]


def start_daemon(
    data_dir: Path, *, unix: bool = True, extra: Sequence[str] = (), timeout: float = 20
) -> Daemon:
    """Start wfstored on 127.0.0.1:0 (and a Unix socket) and wait until it serves."""
    socket_dir = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp")) if unix else None
    args = ["--data-dir", str(data_dir), "--listen", "127.0.0.1:0"]
    unix_target = None
    if socket_dir is not None:
        unix_target = f"unix://{socket_dir}/wfstored.sock"
        args += ["--listen", unix_target]
    process = subprocess.Popen(
        wfstored_command(*args, *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log: list[str] = []
    started = threading.Event()
    addresses: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = _SERVING.search(line)
            if match and not started.is_set():
                addresses.extend(match["addresses"].split(", "))
                started.set()
        started.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not started.wait(0.05):
        if time.monotonic() > deadline:
            process.kill()
            addresses.clear()
            break
    daemon = Daemon(process, data_dir, "", unix_target, socket_dir, log, reader)
    if not addresses:
        code = daemon.stop(signal.SIGKILL)
        raise RuntimeError(f"wfstored did not start (exit {code}):\n{daemon.stderr()}")
    daemon.tcp_target = next(a for a in addresses if not a.startswith("unix:"))
    return daemon
