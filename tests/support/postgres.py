"""A throw-away PostgreSQL cluster for tests: initdb in a temp dir, a Unix socket, a free port.

The server binaries are found in ``WFSTORE_PG_BIN`` if set, else the newest
``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql`` package, which ``.ci/run``
installs). PostgreSQL refuses to run as root, so as root the cluster runs as the unprivileged
``postgres`` user (or ``nobody``). Without binaries, or without psycopg, the tests that need
the cluster skip with the reason; with ``WFSTORE_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = os.environ.get("WFSTORE_REQUIRE_POSTGRES") == "1"
"""Whether a missing PostgreSQL is a failure (CI) rather than a skip."""
_SUPERUSER = "wfstore"
_names = itertools.count(1)


class PostgresUnavailableError(Exception):
    """No PostgreSQL cluster can be had here; the message says why."""


@dataclass
class PostgresCluster:
    """A running throw-away cluster and how to reach it."""

    directory: Path
    bin_dir: Path
    port: int
    run_as: list[str]
    version: str = ""
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        """Return a ``postgresql://`` URL of ``database`` over the cluster's Unix socket."""
        return f"postgresql://{_SUPERUSER}@/{database}?host={self.directory}&port={self.port}"

    def conninfo(self, database: str = "postgres") -> str:
        """Return a libpq connection string of ``database``."""
        return f"host={self.directory} port={self.port} user={_SUPERUSER} dbname={database}"

    def new_database(self) -> str:
        """Create an empty database with a fresh name and return its URL."""
        import psycopg  # noqa: PLC0415 (an optional dependency)

        name = f"wf_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.databases.append(name)
        return self.url(name)

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        """Run ``pg_ctl`` on the cluster's data directory, as the cluster's user."""
        data = str(self.directory / "data")
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", data, *args]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if check and done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise PostgresUnavailableError(f"pg_ctl {args[-1]} failed: {output[-400:]}")

    def start_server(self) -> None:
        """Start the server (again) on the cluster's socket and port, and wait until it is up."""
        options = (
            f"-k {self.directory} -c listen_addresses='' -p {self.port} "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        self.pg_ctl("-o", options, "-l", str(self.directory / "server.log"), "-w", "start")

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: sessions are ended, as when a database goes away)."""
        self.pg_ctl("-m", "fast", "-w", "stop")

    def kill_server(self) -> None:
        """SIGKILL the postmaster, as a crash of the machine would stop it."""
        pid = int((self.directory / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        """Promote a standby to primary, and wait until it takes writes."""
        self.pg_ctl("-w", "promote")

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.pg_ctl("-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def find_bin_dir() -> Path | None:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    configured = os.environ.get("WFSTORE_PG_BIN")
    if configured:
        return Path(configured) if (Path(configured) / "initdb").exists() else None
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run_as() -> tuple[list[str], int | None, int | None]:
    """Return the command prefix that drops root, and the uid/gid the files must belong to."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], user.pw_uid, user.pw_gid
    raise PostgresUnavailableError("running as root, and neither 'postgres' nor 'nobody' exists")


def _new_cluster(bin_dir: Path, prefix: str) -> PostgresCluster:
    """Return a cluster in a new temp directory owned by the user the server runs as."""
    run_as, uid, gid = _run_as()
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    if uid is not None and gid is not None:
        os.chown(directory, uid, gid)
    return PostgresCluster(directory, bin_dir, _free_port(), run_as)


def _make_and_start(cluster: PostgresCluster, tool: str, args: list[str]) -> None:
    """Make the data directory with ``tool`` (initdb, pg_basebackup), then start the server.

    On failure the cluster is removed and :class:`PostgresUnavailableError` says why.
    """
    data = str(cluster.directory / "data")
    command = [*cluster.run_as, str(cluster.bin_dir / tool), "-D", data, *args]
    done = subprocess.run(command, capture_output=True, check=False, start_new_session=True)
    if done.returncode != 0:
        cluster.stop()
        output = (done.stdout + done.stderr).decode(errors="replace").strip()
        raise PostgresUnavailableError(f"{tool} failed: {output[-400:]}")
    try:
        cluster.start_server()
    except PostgresUnavailableError:
        cluster.stop()
        raise


def start_cluster() -> PostgresCluster:
    """Run initdb into a temp dir and start PostgreSQL on a Unix socket there (no TCP).

    Raises :class:`PostgresUnavailableError` when the binaries or psycopg are missing, or the
    server does not start.
    """
    try:
        import psycopg  # noqa: PLC0415 (an optional dependency)
    except ImportError:
        raise PostgresUnavailableError(
            "psycopg is not installed (pip install -e '.[dev]')"
        ) from None
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries: install Debian's postgresql package or set "
            "WFSTORE_PG_BIN to a directory holding initdb and pg_ctl"
        )
    cluster = _new_cluster(bin_dir, "wfs-pg-")
    _make_and_start(cluster, "initdb", ["-A", "trust", "-U", _SUPERUSER])
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        cluster.version = str(row[0]) if row else "?"
    return cluster


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a cluster for the block and stop it afterwards."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def start_standby(primary: PostgresCluster) -> PostgresCluster:
    """Make a streaming standby of ``primary`` (pg_basebackup) and start it, synchronous.

    The primary then waits for the standby to flush every commit before acknowledging it
    (``synchronous_standby_names = '*'``), so nothing acknowledged is lost when the primary
    dies and the standby is promoted.
    """
    import psycopg  # noqa: PLC0415 (an optional dependency)

    standby = _new_cluster(primary.bin_dir, "wfs-pg-standby-")
    source = ["-h", str(primary.directory), "-p", str(primary.port), "-U", _SUPERUSER]
    _make_and_start(standby, "pg_basebackup", [*source, "-R", "-X", "stream", "-c", "fast"])
    with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        conn.execute("SELECT pg_reload_conf()")
        for _ in range(100):  # until the standby streams synchronously
            row = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
            if row is not None and row[0] == "sync":
                break
            time.sleep(0.1)
        else:
            standby.stop()
            raise PostgresUnavailableError("the standby did not become synchronous in 10 s")
    standby.version = primary.version
    return standby


def multi_host_url(database: str, *clusters: PostgresCluster) -> str:
    """Return a URL naming every cluster, that connects only to the one that takes writes."""
    hosts = ",".join(str(c.directory) for c in clusters)
    ports = ",".join(str(c.port) for c in clusters)
    return (
        f"postgresql://{_SUPERUSER}@/{database}?host={hosts}&port={ports}"
        "&target_session_attrs=read-write"
    )
