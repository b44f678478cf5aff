"""A daemon and an embedded JSONStateStore/SQLiteHistoryStore writing one data directory at once.

(Two daemons on one directory: ``tests/daemon/test_daemon.py``.) Both sides save ids of their
own and ids they share, with readers loading all the while, and record history: no reader ever
sees a torn file, every own id ends with its writer's last save, every shared id with a save
of one of them, and every record is stored.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from wfstore import ExecutionContext, ExecutionRecord, HistoryFilter, HistoryStore, StateStore
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.daemon import start_daemon
from tests.support.factories import full_context, record

pytestmark = pytest.mark.daemon

SHARED = ["shared-0", "shared-1"]
ROUNDS = 40


def _writer(
    name: str,
    state: StateStore,
    history: HistoryStore,
    saved: dict[str, list[str]],
    recorded: list[ExecutionRecord],
) -> None:
    template = full_context("template")
    for n in range(ROUNDS):
        marker = f"{name}-v{n}"
        for workflow_id in (f"{name}-own", SHARED[n % 2]):
            # Larger states make a torn write likelier to show, were writes not atomic.
            blob = "x" * (1000 * (n % 7) + 1)
            state.save(
                replace(template, workflow_id=workflow_id, current_step=marker, inputs={"b": blob})
            )
            saved.setdefault(workflow_id, []).append(marker)
        entry = record(f"{name}-{n}")
        history.record(entry)
        recorded.append(entry)


def _reader(load: Callable[[str], ExecutionContext | None], stop: threading.Event) -> None:
    while not stop.is_set():
        for workflow_id in SHARED:
            state = load(workflow_id)  # a torn file would raise DataCorruptedError
            assert state is None or state.current_step.split("-v")[0] in {"daemon", "embedded"}


def test_a_daemon_and_an_embedded_store_share_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    daemon = start_daemon(data, unix=False)
    embedded_state = JSONStateStore(data / "state")
    embedded_history = SQLiteHistoryStore(data / "history.db")
    saved: dict[str, dict[str, list[str]]] = {"daemon": {}, "embedded": {}}
    recorded: list[ExecutionRecord] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def guarded(work: Callable[..., None], *args: object) -> None:
        try:
            work(*args)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    try:
        with daemon.client(timeout=30) as client, daemon.client(timeout=30) as reading:
            sides = {
                "daemon": (client.state, client.history),
                "embedded": (embedded_state, embedded_history),
            }
            writers = [
                threading.Thread(
                    target=guarded, args=(_writer, name, *stores, saved[name], recorded)
                )
                for name, stores in sides.items()
            ]
            readers = [
                threading.Thread(target=guarded, args=(_reader, reading.state.load, stop)),
                threading.Thread(target=guarded, args=(_reader, embedded_state.load, stop)),
            ]
            for thread in writers + readers:
                thread.start()
            for thread in writers:
                thread.join()
            stop.set()
            for thread in readers:
                thread.join()
            assert errors == []

            for name in ("daemon", "embedded"):
                own = f"{name}-own"
                for store in (client.state, embedded_state):
                    loaded = store.load(own)
                    assert loaded is not None
                    assert loaded.current_step == saved[name][own][-1]
            for workflow_id in SHARED:
                every = saved["daemon"][workflow_id] + saved["embedded"][workflow_id]
                loaded = client.state.load(workflow_id)
                assert loaded is not None
                assert loaded.current_step in every
            wanted = {entry.id: entry for entry in recorded}
            everything = HistoryFilter(limit=10_000)
            for history in (client.history, embedded_history):
                assert {entry.id: entry for entry in history.list(everything)} == wanted
    finally:
        embedded_history.close()
        embedded_state.close()
        assert daemon.stop() == 0, daemon.stderr()
    assert sorted(p.name for p in (data / "state").glob("*.tmp")) == []
    conn = sqlite3.connect(data / "history.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
