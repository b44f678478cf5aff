"""Start the peers the benchmark compares wfstored with: Redis and PostgreSQL, on loopback.

Each peer is started by the benchmark in a temporary directory (TCP on 127.0.0.1 and a Unix
socket) when its binaries are installed, and stopped by :meth:`Peer.stop`; a peer that cannot
be started is skipped with a note saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfstored.storage.shared.history_schema import create_statements

from scripts.bench._payloads import STATE_IDS, state_bytes
from scripts.bench._pinning import server_command
from scripts.bench._servers import terminate

PG_SCHEMA = create_statements(
    {"text": "TEXT", "int32": "INTEGER", "int64": "BIGINT"}, if_not_exists=False
)
"""The PostgreSQL twin of wfstored's ``executions`` table: same columns, same four indexes."""


@dataclass
class Peer:
    """A running peer server: its targets per transport and how to stop it."""

    name: str
    version: str
    targets: dict[str, str]
    stop_command: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    directory: Path | None = None

    def stop(self) -> None:
        """Stop the server (politely, then by force) and remove its directory."""
        if self.stop_command:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(self.stop_command, capture_output=True, timeout=30, check=False)
        if self.process is not None:
            terminate(self.process)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(name: str, *, aof: bool) -> Peer:
    """Start ``redis-server`` with default persistence, or AOF with ``appendfsync always``.

    Raises ``RuntimeError`` when it is not installed or does not answer.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
    import redis  # noqa: PLC0415 (an optional dependency, needed only with peers)

    directory = Path(tempfile.mkdtemp(prefix=f"wfs-bench-{name}-", dir="/tmp"))
    port, sock = free_port(), directory / "redis.sock"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", str(sock)]
    command += ["--unixsocketperm", "700", "--dir", str(directory), "--logfile", "redis.log"]
    if aof:
        command += ["--appendonly", "yes", "--appendfsync", "always"]
    process = subprocess.Popen(
        server_command(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    targets = {"tcp": f"127.0.0.1:{port}", "unix": f"unix:{sock}"}
    peer = Peer(name, "", targets, process=process, directory=directory)
    client: Any = None
    deadline = time.monotonic() + 15
    while client is None:
        try:
            candidate = redis.Redis(unix_socket_path=str(sock))
            candidate.ping()
            client = candidate
        except (redis.RedisError, OSError) as exc:
            if time.monotonic() > deadline or process.poll() is not None:
                peer.stop()
                raise RuntimeError(f"redis-server did not start: {exc}") from None
            time.sleep(0.05)
    info = client.info("server")
    persistence = client.config_get("save")["save"] or "none"
    peer.version = f"Redis {info['redis_version']} (save {persistence!r}, aof {aof})"
    for workflow_id in STATE_IDS:  # what the GET cells read
        client.set(f"state:{workflow_id}", state_bytes(workflow_id))
    client.close()
    return peer


def _pg_bin() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


def start_postgres() -> Peer:
    """Run initdb into a temp dir and start PostgreSQL on 127.0.0.1 and a socket there.

    As root, both run as the unprivileged ``postgres`` user. Settings are the defaults
    (``synchronous_commit = on``, ``fsync = on``) but for more connections. Raises
    ``RuntimeError`` when it is not installed or does not start.
    """
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")
    import psycopg  # noqa: PLC0415 (an optional dependency, needed only with peers)

    as_user: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="wfs-bench-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = directory / "data", free_port()
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    peer = Peer("postgres", "", {}, stop_command=[*ctl, "-m", "fast", "-w", "stop"])
    peer.directory = directory
    options = f"-k {directory} -h 127.0.0.1 -p {port} -c max_connections=300"
    start = [*ctl, "-o", options, "-l", str(directory / "pg.log"), "-w", "-t", "60", "start"]
    steps = {
        "initdb": [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "bench",
        ],
        "pg_ctl start": server_command(start),
    }
    for step, command in steps.items():
        done = subprocess.run(command, capture_output=True, check=False, start_new_session=True)
        if done.returncode != 0:
            peer.stop()
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"{step} failed: {output[-500:]}")
    peer.targets = {
        "tcp": f"host=127.0.0.1 port={port} user=bench dbname=postgres",
        "unix": f"host={directory} port={port} user=bench dbname=postgres",
    }
    with psycopg.connect(peer.targets["unix"], autocommit=True) as conn:
        for statement in PG_SCHEMA:
            conn.execute(statement)
        row = conn.execute("SELECT version(), current_setting('synchronous_commit')").fetchone()
        version, sync = row if row is not None else ("PostgreSQL ?", "?")
    peer.version = f"{version.split(' on ')[0]} (synchronous_commit {sync})"
    return peer
