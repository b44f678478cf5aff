"""Kill wfstored with SIGKILL under load, restart it, and check every acknowledged write.

One :class:`KillLoop` keeps a data directory and a ledger of what clients saw acknowledged
across all its rounds. A round starts the daemon on the directory, runs client threads (Saves
to ids of their own and to ids they share, and Records), SIGKILLs the daemon at a random
moment, restarts it on the same directory and verifies:

- an id saved by one thread holds its last acknowledged save, or the save that was in flight
  when the daemon died (which may or may not have landed);
- an id saved by several threads holds an acknowledged or in-flight save that no
  acknowledged save started after (the last write wins, never an older one);
- every acknowledged record is stored with its content (records in flight may be there too);
- an id written only with conditional saves and deletes (``expected_version`` = the version
  its writer last saw) holds its last acknowledged write or the one in flight, and no version
  is ever handed out twice for it, across kills and deletes;
- every state file parses, no temp file is listed or left behind, and SQLite's
  ``PRAGMA integrity_check`` says ``ok`` (on PostgreSQL: every stored state loads).

After the last round, :meth:`KillLoop.verify_watch` replays the change log from a token taken
before the first round: every acknowledged save is there exactly once, each id's versions
only grow, and the only extras are saves that were in flight at a kill.

A round may stop the daemon with SIGTERM instead: then it must exit 0, and the clients' calls
may only fail with UNAVAILABLE (the daemon refusing new calls while in-flight ones finish).

Used by ``tests/faults/test_kill9.py`` (20 rounds) and ``python -m scripts.bench soak``
(hundreds).
"""

from __future__ import annotations

import math
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfstore import (
    Client,
    ConflictError,
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    RetryPolicy,
    StoreError,
    UnavailableError,
)

from tests.support.daemon import Daemon, start_daemon
from tests.support.factories import full_context

SHARED_IDS = ("shared-0", "shared-1", "shared-2")
WORKFLOW_NAME = "kill-test"
_NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass
class _SharedSave:
    marker: str
    started: float
    acked: float  # math.inf while in flight (or never acknowledged)


@dataclass
class Ledger:
    """What the clients saw acknowledged, over every round so far."""

    own: dict[str, str | None] = field(default_factory=dict)
    """Own id -> marker of its last acknowledged save (None: nothing saved yet)."""
    own_in_doubt: dict[str, str] = field(default_factory=dict)
    """Own id -> marker of the save in flight when the daemon died."""
    shared: dict[str, list[_SharedSave]] = field(default_factory=dict)
    records: dict[str, ExecutionRecord] = field(default_factory=dict)
    records_in_doubt: dict[str, ExecutionRecord] = field(default_factory=dict)
    versioned: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    """Conditional id -> (marker, version) of its last acknowledged write (marker None:
    deleted, with the version it had)."""
    versioned_in_doubt: dict[str, str | None] = field(default_factory=dict)
    """Conditional id -> marker of the save in flight when the daemon died (None: a delete)."""
    highest_version: dict[str, int] = field(default_factory=dict)
    """Conditional id -> the highest version ever acknowledged for it (across deletes)."""
    conditional_problems: list[str] = field(default_factory=list)
    acked_versions: set[tuple[str, int]] = field(default_factory=set)
    """(id, version) of every acknowledged save, of every kind."""
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class RoundResult:
    """What one round did and found."""

    acked_saves: int
    """Saves and deletes acknowledged, conditional ones included."""
    acked_records: int
    problems: list[str]
    acked_conditional: int = 0
    """Of ``acked_saves``, those made with an ``expected_version``."""


class _Writer:
    """One client thread: saves to its own and the shared ids, or records, until it fails."""

    def __init__(self, target: str, name: str, kind: str, ledger: Ledger, seed: int) -> None:
        self.name, self.kind, self.ledger = name, kind, ledger
        self.random = random.Random(seed)  # noqa: S311 (a workload, not a secret)
        self.client = Client(target, timeout=5, retry=_NO_RETRY)
        self.template = full_context("template")
        self.own_ids = [f"{name}-{n}" for n in range(3)]
        self.versioned_id = f"versioned-{name.split('w', 1)[1]}"  # the same id every round
        self.version: int | None = None
        self.acked = 0
        self.failure: StoreError | None = None

    def run(self, stop: threading.Event) -> None:
        """Write until ``stop`` is set or a call fails (the daemon died)."""
        with self.client:
            try:
                while not stop.is_set():
                    if self.kind == "record":
                        self._record()
                    elif self.kind == "conditional":
                        self._conditional()
                    else:
                        self._save()
                    self.acked += 1
            except StoreError as exc:
                self.failure = exc

    def _marker(self) -> str:
        return f"{self.name}-{time.monotonic_ns()}"

    def _save(self) -> None:
        marker = self._marker()
        shared = self.kind == "shared"
        workflow_id = self.random.choice(SHARED_IDS if shared else self.own_ids)
        state = replace(self.template, workflow_id=workflow_id, current_step=marker)
        if shared:
            entry = _SharedSave(marker, time.monotonic(), math.inf)
            with self.ledger.lock:
                self.ledger.shared.setdefault(workflow_id, []).append(entry)
            version = self.client.state.save(state)
            entry.acked = time.monotonic()
            self.ledger.acked_versions.add((workflow_id, version))
            return
        self.ledger.own_in_doubt[workflow_id] = marker
        version = self.client.state.save(state)
        self.ledger.acked_versions.add((workflow_id, version))
        del self.ledger.own_in_doubt[workflow_id]
        self.ledger.own[workflow_id] = marker

    def _conditional(self) -> None:
        """Save (now and then delete) the writer's id on the version it last saw."""
        ledger, workflow_id = self.ledger, self.versioned_id
        if self.version is None:  # a new round: learn where the id stands
            stored = self.client.state.get(workflow_id)
            self.version = 0 if stored is None else stored.version
        try:
            if self.version and self.random.random() < 0.1:
                ledger.versioned_in_doubt[workflow_id] = None
                self.client.state.delete(workflow_id, expected_version=self.version)
                del ledger.versioned_in_doubt[workflow_id]
                ledger.versioned[workflow_id] = (None, self.version)
                self.version = 0
                return
            marker = self._marker()
            state = replace(self.template, workflow_id=workflow_id, current_step=marker)
            ledger.versioned_in_doubt[workflow_id] = marker
            version = self.client.state.save(state, expected_version=self.version)
        except ConflictError as exc:  # one writer per id: a conflict is a lost or torn write
            ledger.conditional_problems.append(f"{workflow_id}: unexpected conflict: {exc}")
            raise
        del ledger.versioned_in_doubt[workflow_id]
        if version <= ledger.highest_version.get(workflow_id, 0):
            ledger.conditional_problems.append(
                f"{workflow_id}: version {version} handed out again (highest so far "
                f"{ledger.highest_version[workflow_id]})"
            )
        ledger.highest_version[workflow_id] = version
        ledger.acked_versions.add((workflow_id, version))
        ledger.versioned[workflow_id] = (marker, version)
        self.version = version

    def _record(self) -> None:
        marker = self._marker()
        now = datetime.now(UTC)
        failed = self.random.random() < 0.1  # a tenth of the runs fail
        record = ExecutionRecord(
            id=marker,
            workflow_id=f"{self.name}-run",
            workflow_name=WORKFLOW_NAME,
            status="failed" if failed else "success",
            exit_code=1 if failed else 0,
            started_at=now - timedelta(milliseconds=1500),
            completed_at=now,
            duration_ms=1500,
            error_message=f"attempt of {self.name} ✓",
        )
        self.ledger.records_in_doubt[marker] = record
        self.client.history.record(record)
        del self.ledger.records_in_doubt[marker]
        self.ledger.records[marker] = record


class KillLoop:
    """Rounds of load, SIGKILL and restart on one data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        writers: int = 6,
        seed: int = 0,
        database_url: str | None = None,
    ) -> None:
        """Use ``data_dir`` and ``writers`` client threads per round (a third of each kind).

        With ``database_url``, both stores live in that PostgreSQL database instead of the
        data directory, and the file and SQLite checks give way to the database's.
        """
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra: tuple[str, ...] = ()
        if database_url is not None:
            self.extra = ("--state-store", database_url, "--history-store", database_url)
        self.writers = writers
        self.random = random.Random(seed)  # noqa: S311 (kill timing, not a secret)
        self.ledger = Ledger()
        self.daemon: Daemon | None = None
        self.rounds = 0
        self.start_token: str | None = None
        """Where the change log stood before the first round."""

    def run_round(
        self, load_seconds: tuple[float, float] = (0.1, 0.5), stop_signal: int = signal.SIGKILL
    ) -> RoundResult:
        """Load the daemon, stop it after a random time in ``load_seconds``, restart, verify."""
        daemon = self.daemon or start_daemon(self.data_dir, unix=False, extra=self.extra)
        if self.start_token is None:
            with daemon.client(timeout=20) as client, client.state.watch() as watch:
                self.start_token = watch.resume_token
        self.daemon = daemon
        self.rounds += 1
        kinds = ["own", "shared", "record", "conditional"]
        writers = [
            _Writer(
                daemon.tcp_target,
                f"r{self.rounds}w{n}",
                kinds[n % len(kinds)],
                self.ledger,
                self.random.randrange(2**32),
            )
            for n in range(self.writers)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        time.sleep(self.random.uniform(*load_seconds))
        daemon.process.send_signal(stop_signal)
        code = daemon.process.wait(30)
        stop.set()
        for thread in threads:
            thread.join(20)
        daemon.stop(signal.SIGKILL)
        problems = [] if stop_signal == signal.SIGKILL else self._graceful(code, daemon, writers)
        self.daemon = start_daemon(self.data_dir, unix=False, extra=self.extra)
        problems += self._verify(self.daemon)
        acked = [w.acked for w in writers]
        return RoundResult(
            acked_saves=sum(a for w, a in zip(writers, acked, strict=True) if w.kind != "record"),
            acked_records=sum(a for w, a in zip(writers, acked, strict=True) if w.kind == "record"),
            problems=problems,
            acked_conditional=sum(
                a for w, a in zip(writers, acked, strict=True) if w.kind == "conditional"
            ),
        )

    def verify_watch(self) -> tuple[int, list[str]]:
        """Replay the changes since the first round; return how many, and what is wrong."""
        assert self.daemon is not None
        assert self.start_token is not None
        events = []
        with (
            self.daemon.client(timeout=20) as client,
            client.state.watch(resume_token=self.start_token, include_state=False) as watch,
        ):
            while batch := watch.poll(1.5):
                events.extend(batch)
        problems = []
        seen = [(e.workflow_id, e.version) for e in events]
        if len(set(seen)) != len(seen):
            problems.append("the change log holds a change twice")
        last: dict[str, int] = {}
        for workflow_id, version in seen:
            if version <= last.get(workflow_id, 0):
                problems.append(f"{workflow_id}: version {version} after {last[workflow_id]}")
            last[workflow_id] = version
        saved = {(e.workflow_id, e.version) for e in events if e.kind == "saved"}
        missing = self.ledger.acked_versions - saved
        if missing:
            problems.append(f"acknowledged saves missing from the change log: {sorted(missing)}")
        extra = saved - self.ledger.acked_versions
        if len(extra) > self.rounds * self.writers:  # at most one in flight per writer per kill
            problems.append(f"{len(extra)} saves in the log were never acknowledged")
        return len(events), problems

    def close(self) -> None:
        """Stop the daemon (gracefully: it must exit 0)."""
        if self.daemon is not None:
            code = self.daemon.stop()
            if code != 0:
                raise RuntimeError(f"wfstored exited {code}:\n{self.daemon.stderr()}")
            self.daemon = None

    # --- Verification ---------------------------------------------------------------------

    def _graceful(self, code: int, daemon: Daemon, writers: list[_Writer]) -> list[str]:
        problems = [] if code == 0 else [f"stopped with exit code {code}:\n{daemon.stderr()}"]
        problems += [
            f"{w.name}: a call failed with {type(w.failure).__name__}: {w.failure}"
            for w in writers
            if w.failure is not None and not isinstance(w.failure, UnavailableError)
        ]
        return problems

    def _verify(self, daemon: Daemon) -> list[str]:
        problems: list[str] = []
        with daemon.client(timeout=20) as client:
            problems += self._verify_files(client)
            problems += self._verify_own(client)
            problems += self._verify_shared(client)
            problems += self._verify_versioned(client)
            problems += self._verify_records(client)
        problems += self._verify_database()
        return problems

    def _verify_files(self, client: Client) -> list[str]:
        problems = []
        state_dir = self.data_dir / "state"
        leftovers = sorted(p.name for p in state_dir.glob(".wfstore-*.tmp"))
        if leftovers and self.database_url is None:
            problems.append(f"temp files left after restart: {leftovers}")
        for workflow_id in client.state.list():
            if workflow_id.endswith(".tmp") or workflow_id.startswith(".wfstore-"):
                problems.append(f"a temp file is listed: {workflow_id!r}")
            try:
                client.state.load(workflow_id)
            except StoreError as exc:
                problems.append(f"state {workflow_id!r} does not load: {exc}")
        return problems

    def _loaded_marker(self, client: Client, workflow_id: str) -> str | None:
        state: ExecutionContext | None = client.state.load(workflow_id)
        return None if state is None else state.current_step

    def _verify_own(self, client: Client) -> list[str]:
        problems = []
        for workflow_id, acked in list(self.ledger.own.items()):
            found = self._loaded_marker(client, workflow_id)
            in_doubt = self.ledger.own_in_doubt.pop(workflow_id, None)
            if found not in {acked, in_doubt}:
                problems.append(
                    f"state {workflow_id}: holds {found!r}; acknowledged {acked!r}"
                    f" (in flight: {in_doubt!r})"
                )
            self.ledger.own[workflow_id] = found
        for workflow_id, in_doubt in list(self.ledger.own_in_doubt.items()):
            found = self._loaded_marker(client, workflow_id)
            if found not in {None, in_doubt}:
                problems.append(f"state {workflow_id}: holds {found!r}, never saved by anyone")
            self.ledger.own[workflow_id] = found
        self.ledger.own_in_doubt.clear()
        return problems

    def _verify_shared(self, client: Client) -> list[str]:
        problems = []
        for workflow_id, saves in self.ledger.shared.items():
            found = self._loaded_marker(client, workflow_id)
            latest_acked_start = max(
                (s.started for s in saves if s.acked < math.inf), default=-math.inf
            )
            match = next((s for s in saves if s.marker == found), None)
            if match is None:
                problems.append(f"state {workflow_id}: holds {found!r}, not a save of any client")
            elif match.acked < latest_acked_start:
                problems.append(
                    f"state {workflow_id}: holds {found!r}, older than an acknowledged save"
                )
            baseline = _SharedSave(found or "", -math.inf, -math.inf)
            self.ledger.shared[workflow_id] = [baseline] if found is not None else []
        return problems

    def _verify_versioned(self, client: Client) -> list[str]:
        """Each conditional id holds its last acknowledged write, or the one in flight."""
        ledger = self.ledger
        problems, ledger.conditional_problems = ledger.conditional_problems, []
        for workflow_id in {*ledger.versioned, *ledger.versioned_in_doubt}:
            acked_marker, acked_version = ledger.versioned.get(workflow_id, (None, 0))
            in_flight = workflow_id in ledger.versioned_in_doubt
            in_doubt = ledger.versioned_in_doubt.pop(workflow_id, None)
            stored = client.state.get(workflow_id)
            highest = ledger.highest_version.get(workflow_id, 0)
            if stored is None:
                ok = acked_marker is None or (in_flight and in_doubt is None)
                found: tuple[str | None, int] = (None, acked_version)
            else:
                found = (stored.state.current_step, stored.version)
                landed = in_flight and in_doubt == found[0] and stored.version > highest
                ok = found == (acked_marker, acked_version) or landed
                ledger.highest_version[workflow_id] = max(highest, stored.version)
            if not ok:
                problems.append(
                    f"state {workflow_id}: holds {found}; acknowledged "
                    f"{(acked_marker, acked_version)}, in flight {in_doubt!r}"
                )
            ledger.versioned[workflow_id] = found
        return problems

    def _verify_records(self, client: Client) -> list[str]:
        stored: dict[str, ExecutionRecord] = {}
        token = ""
        query = HistoryFilter(workflow_name=WORKFLOW_NAME, limit=2**31 - 1)
        while True:
            page = client.history.list_page(query, page_size=1000, page_token=token)
            stored.update((record.id, record) for record in page.items)
            token = page.next_page_token
            if not token:
                break
        problems = []
        for record_id, record in self.ledger.records.items():
            if record_id not in stored:
                problems.append(f"record {record_id}: acknowledged, but missing")
            elif stored[record_id] != record:
                problems.append(f"record {record_id}: acknowledged, but stored differently")
        for record_id, record in self.ledger.records_in_doubt.items():
            if record_id in stored and stored[record_id] != record:
                problems.append(f"record {record_id}: in flight, stored with other content")
            if record_id in stored:
                self.ledger.records[record_id] = record
        self.ledger.records_in_doubt.clear()
        unknown = set(stored) - set(self.ledger.records)
        problems += [f"record {record_id}: stored, but no client wrote it" for record_id in unknown]
        return problems

    def _verify_database(self) -> list[str]:
        if self.database_url is not None:
            return []  # PostgreSQL checks its own pages; what matters is checked through calls
        uri = f"file:{self.data_dir / 'history.db'}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
        return [] if result == [("ok",)] else [f"integrity_check: {result}"]
