"""Start and stop the gRPC servers under test (wfstored and the ceilings) as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wfstored.daemon.serving_line import SERVING_LINE, addresses_of

from scripts.bench._pinning import server_command

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the working directory of the ``python -m scripts.bench...`` children."""


def process_cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of process ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cluster_cpu_seconds(postmaster_pid: int) -> float:
    """Return the CPU time of a PostgreSQL cluster so far, in seconds.

    The postmaster's own, that of the children it has reaped (its ``cutime``/``cstime``), and
    that of every child still running (backends, checkpointer, WAL writer, ...).
    """
    fields = Path(f"/proc/{postmaster_pid}/stat").read_text().rpartition(")")[2].split()
    ticks = sum(int(value) for value in fields[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(child[1]) == postmaster_pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A running server process, its addresses and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    tcp: str
    unix: str
    log: Path

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def target(self, transport: str) -> str:
        """Return the client target for ``tcp`` or ``unix``."""
        return self.tcp if transport == "tcp" else self.unix

    def rss_mib(self) -> float:
        """Return the resident set size (VmRSS) of the process, in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the process has used so far, in seconds."""
        return process_cpu_seconds(self.pid)

    def stop(self) -> None:
        """Send SIGTERM and wait for the exit; kill after 15 s."""
        terminate(self.process)


def terminate(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Send SIGTERM to a running ``process`` and wait for it; kill it after ``timeout`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(name: str, command: list[str], log: Path, sock: Path, cwd: Path | None = None) -> Server:
    """Run ``command`` (in ``cwd``) with stderr to ``log`` and wait for its ready line."""
    with log.open("wb") as sink:
        # A session of its own: Ctrl-C reaches the benchmark only, which stops servers itself.
        process = subprocess.Popen(
            server_command(command),
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
            cwd=cwd,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        match = SERVING_LINE.search(log.read_text(errors="replace"))
        if match:
            tcp = next(a for a in addresses_of(match) if not a.startswith("unix:"))
            return Server(name, process, tcp, f"unix://{sock}", log)
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}")


def start_wfstored(
    data_dir: Path, sock: Path, log: Path, *extra: str, tcp: str = "127.0.0.1:0"
) -> Server:
    """Start ``python -m wfstored`` on ``tcp`` and ``unix://sock`` over ``data_dir``.

    Raises RuntimeError (with the daemon's log) when it does not start.
    """
    listen = ["--listen", tcp, "--listen", f"unix://{sock}"]
    command = [sys.executable, "-m", "wfstored", "--data-dir", str(data_dir), *listen, *extra]
    return _start("wfstored", command, log, sock)


def start_ceiling(sock: Path, log: Path) -> Server:
    """Start the stack ceiling (``scripts.bench._ceiling``) on 127.0.0.1:0 and ``sock``.

    wfstored's own server stack over no-op stores.
    """
    listen = ["--listen", "127.0.0.1:0", "--listen", f"unix://{sock}"]
    command = [sys.executable, "-m", "scripts.bench._ceiling", *listen]
    return _start("ceiling", command, log, sock, cwd=REPO_ROOT)


def start_plain_ceiling(sock: Path, log: Path) -> Server:
    """Start the plain gRPC ceiling (``scripts.bench._plain_ceiling``) on TCP and ``sock``."""
    listen = ["--listen", "127.0.0.1:0", "--listen", f"unix://{sock}"]
    command = [sys.executable, "-m", "scripts.bench._plain_ceiling", *listen]
    return _start("plain", command, log, sock, cwd=REPO_ROOT)
