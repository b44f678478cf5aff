"""Start a real ``wfstored`` subprocess for tests, on port 0 and a Unix socket.

Also makes what a protected daemon needs: TLS files from a CA made on the fly (``trustme``)
and token files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from wfstore import TLS, Client, aio
from wfstored.daemon.serving_line import SERVING_LINE, addresses_of


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
    tls: TLS | None = None
    """What a client needs for TLS on the TCP listener (Unix sockets stay plaintext)."""
    client_options: Mapping[str, Any] = field(default_factory=dict)
    """Options every client gets unless a call overrides them (e.g. ``token``)."""

    def client(self, transport: str = "tcp", **options: object) -> Client:
        """Return a client connected over ``tcp`` or ``unix``, with the daemon's defaults."""
        target = self.tcp_target if transport == "tcp" else self.unix_target
        assert target is not None
        return Client(target, **self._options(transport, options))

    def aio_client(self, transport: str = "tcp", **options: object) -> aio.Client:
        """Return an asyncio client (create it inside a running loop), as :meth:`client`."""
        target = self.tcp_target if transport == "tcp" else self.unix_target
        assert target is not None
        return aio.Client(target, **self._options(transport, options))

    def _options(self, transport: str, options: Mapping[str, object]) -> dict[str, Any]:
        defaults = dict(self.client_options)
        if transport == "tcp" and self.tls is not None:
            defaults["tls"] = self.tls
        return {**defaults, **options}

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


def run_wfstored(
    *args: str, timeout: float = 30, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run wfstored to completion (for a start that must fail) and return what it did."""
    return subprocess.run(
        wfstored_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def start_daemon(
    data_dir: Path,
    *,
    unix: bool = True,
    extra: Sequence[str] = (),
    timeout: float = 20,
    tcp_host: str = "127.0.0.1",
    tcp_port: int = 0,
    umask: int = -1,
    tls: TLS | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> Daemon:
    """Start wfstored on ``tcp_host``:``tcp_port`` (and a Unix socket); wait until it serves.

    ``tcp_port`` 0 is any free port; a given one lets a restarted daemon keep its address.
    ``umask`` is the daemon's (-1: inherited). ``tls`` and ``client_options`` are what
    :meth:`Daemon.client` passes to clients; the matching flags go in ``extra``.
    """
    socket_dir = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp")) if unix else None
    args = ["--data-dir", str(data_dir), "--listen", f"{tcp_host}:{tcp_port}"]
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
        umask=umask,
    )
    log: list[str] = []
    started = threading.Event()
    addresses: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = SERVING_LINE.search(line)
            if match and not started.is_set():
                addresses.extend(addresses_of(match))
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
    daemon = Daemon(
        process, data_dir, "", unix_target, socket_dir, log, reader, tls, client_options or {}
    )
    if not addresses:
        code = daemon.stop(signal.SIGKILL)
        raise RuntimeError(f"wfstored did not start (exit {code}):\n{daemon.stderr()}")
    daemon.tcp_target = next(a for a in addresses if not a.startswith("unix:"))
    return daemon


@contextmanager
def serving(data_dir: Path, **options: Any) -> Iterator[Daemon]:
    """Run a daemon (``options`` as for :func:`start_daemon`) for the block; it must exit 0."""
    daemon = start_daemon(data_dir, **options)
    try:
        yield daemon
    finally:
        code = daemon.stop()
        assert code == 0, f"wfstored exited with {code}:\n{daemon.stderr()}"


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for a TLS daemon and its clients, all from one CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_flags(self, *, mutual: bool = False) -> list[str]:
        """Return the daemon's TLS flags; ``mutual`` also requires client certificates."""
        flags = ["--tls-cert", str(self.server_cert), "--tls-key", str(self.server_key)]
        return [*flags, "--tls-client-ca", str(self.ca)] if mutual else flags

    def client_tls(self, *, with_cert: bool = False) -> TLS:
        """Return the client's TLS settings: trust the CA, and show a certificate if asked."""
        if with_cert:
            return TLS(ca=self.ca, cert=self.client_cert, key=self.client_key)
        return TLS(ca=self.ca)


def write_tls_files(directory: Path, ca: trustme.CA | None = None) -> TLSFiles:
    """Write a CA, a server certificate for 127.0.0.1 and localhost, and a client one."""
    ca = ca or trustme.CA()
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(str(files.server_cert))
    for pem in server.cert_chain_pems[1:]:
        pem.write_to_path(str(files.server_cert), append=True)
    _write_private(files.server_key, server.private_key_pem.bytes())
    client = ca.issue_cert("worker@example.test")
    client.cert_chain_pems[0].write_to_path(str(files.client_cert))
    _write_private(files.client_key, client.private_key_pem.bytes())
    return files


def write_token_file(path: Path, *lines: str) -> Path:
    """Write a token file (mode 0600) with ``lines`` and return its path."""
    _write_private(path, "".join(f"{line}\n" for line in lines).encode())
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    path.chmod(0o600)
