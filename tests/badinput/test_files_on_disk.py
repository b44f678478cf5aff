"""Bad bytes and bad names in the data directory, as other tools or damage leave them.

Each is reported precisely (DATA_LOSS naming the id or record, or left out of a listing when
it is no state file at all) while every other id and record keeps working, through the daemon
and embedded alike.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfstore import (
    Client,
    DataCorruptedError,
    ExecutionContext,
    HistoryFilter,
    HistoryStore,
    StateStore,
)
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.daemon import Daemon, serving
from tests.support.factories import T0, full_context, record


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """This module's daemon: its data dir gets odd files on purpose, so only its log is checked."""
    with serving(tmp_path_factory.mktemp("disk") / "data") as running:
        yield running
    assert "Traceback" not in running.stderr()
    assert "INTERNAL" not in running.stderr()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    """A client of the module's daemon."""
    with daemon.client(timeout=10) as opened:
        yield opened


@pytest.fixture(params=["daemon", "embedded"])
def state(request: pytest.FixtureRequest, daemon: Daemon) -> Iterator[tuple[StateStore, Path]]:
    """The daemon's state store, through a client or embedded, and its directory."""
    state_dir = daemon.data_dir / "state"
    if request.param == "embedded":
        store = JSONStateStore(state_dir)
        yield store, state_dir
        store.close()
        return
    with daemon.client(timeout=10) as opened:
        yield opened.state, state_dir


@pytest.fixture(params=["daemon", "embedded"])
def history(request: pytest.FixtureRequest, daemon: Daemon) -> Iterator[tuple[HistoryStore, Path]]:
    """The daemon's history store, through a client or embedded, and its database file."""
    db_path = daemon.data_dir / "history.db"
    if request.param == "embedded":
        with SQLiteHistoryStore(db_path) as store:
            yield store, db_path
        return
    with daemon.client(timeout=10) as opened:
        yield opened.history, db_path


# --- state files whose bytes are not valid UTF-8 JSON -------------------------------------


def _state_file(workflow_id: str, inputs: bytes) -> bytes:
    return b'{"WorkflowID": "' + workflow_id.encode() + b'", "Inputs": ' + inputs + b"}"


BAD_STATE_BYTES = {
    "invalid byte in a value": (b'{"k": "\xff"}', "not UTF-8 text"),
    "truncated sequence": (b'{"k": "\xe2\x82"}', "not UTF-8 text"),
    "overlong NUL": (b'{"k": "\xc0\x80"}', "not UTF-8 text"),
    "encoded surrogate": (b'{"k": "\xed\xa0\x80"}', "not UTF-8 text"),
    "invalid byte in a key": (b'{"\xfe": 1}', "not UTF-8 text"),
    "NaN literal": (b'{"k": NaN}', "NaN"),
    "Infinity literal": (b'{"k": -Infinity}', "Infinity"),
}


@pytest.mark.parametrize("case", BAD_STATE_BYTES)
def test_a_state_file_with_bad_bytes_is_data_loss_naming_the_id(
    state: tuple[StateStore, Path], case: str
) -> None:
    store, state_dir = state
    inputs, problem = BAD_STATE_BYTES[case]
    store.save(full_context("neighbour"))
    (state_dir / "broken.json").write_bytes(_state_file("broken", inputs))
    with pytest.raises(DataCorruptedError, match=f"state of 'broken' is corrupted: .*{problem}"):
        store.load("broken")
    assert store.load("neighbour") == full_context("neighbour")
    assert "broken" in store.list()
    store.save(ExecutionContext(workflow_id="broken"))  # a new save replaces the damage
    assert store.load("broken") == ExecutionContext(workflow_id="broken")
    store.delete("broken")
    store.delete("neighbour")


def test_an_escaped_lone_surrogate_reads_as_the_replacement_character(
    state: tuple[StateStore, Path],
) -> None:
    """As Go's encoding/json reads it; wfstore never writes one."""
    store, state_dir = state
    (state_dir / "surrogate.json").write_bytes(_state_file("surrogate", b'{"k": "a\\ud800b"}'))
    loaded = store.load("surrogate")
    assert loaded is not None
    assert loaded.inputs == {"k": "a\ufffdb"}
    store.delete("surrogate")


# --- names in the state directory that are no state file -------------------------------------


@pytest.fixture
def odd_names(daemon: Daemon, tmp_path: Path) -> Iterator[Path]:
    """Entries no store wrote: bad names, a directory, a FIFO, a link to a file outside."""
    state_dir = daemon.data_dir / "state"
    secret = tmp_path / "secret.json"
    secret.write_text('{"WorkflowID": "link", "Inputs": {"password": "hunter2"}}')
    made = [
        os.fsencode(state_dir) + b"/\xff\xfe.json",  # not UTF-8
        os.fsencode(state_dir) + b"/latin-\xe9.json",  # Latin-1, not UTF-8
        os.fsencode(state_dir / "ctl\x01.json"),
        os.fsencode(state_dir / "..json"),
        os.fsencode(state_dir / "...json"),
        os.fsencode(state_dir / "back\\slash.json"),
    ]
    for name in made:
        with open(name, "wb") as file:  # noqa: PTH123 (bytes names)
            file.write(b"{}")
    (state_dir / "dir.json").mkdir()
    os.mkfifo(state_dir / "fifo.json")
    (state_dir / "link.json").symlink_to(secret)
    yield state_dir
    for name in made:
        os.unlink(name)  # noqa: PTH108 (bytes names)
    for leftover in ("dir.json", "fifo.json", "link.json"):
        path = state_dir / leftover
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
    assert secret.read_text().endswith('"hunter2"}}')  # untouched


def test_entries_that_are_no_state_file_are_left_out_or_reported(
    state: tuple[StateStore, Path], odd_names: Path
) -> None:
    store, _ = state
    store.save(ExecutionContext(workflow_id="regular"))
    assert store.list() == ["regular"]
    page = store.list_page(page_size=1)
    assert page.items == ["regular"]
    assert not page.next_page_token
    for workflow_id, problem in (
        ("dir", "not a regular file"),
        ("fifo", "not a regular file"),
        ("link", "symbolic link"),
    ):
        with pytest.raises(DataCorruptedError, match=f"state of '{workflow_id}'.*{problem}") as e:
            store.load(workflow_id)
        assert "hunter2" not in str(e.value)
    with pytest.raises(DataCorruptedError, match="'dir' cannot be saved: its file is a directory"):
        store.save(ExecutionContext(workflow_id="dir"))
    with pytest.raises(DataCorruptedError, match="'dir' cannot be deleted: its file is a dir"):
        store.delete("dir")
    store.delete("link")  # removes the link, never what it points to
    assert not (odd_names / "link.json").is_symlink()
    store.delete("regular")


# --- history rows written by another tool ----------------------------------------------------

_ROW = (
    "INSERT INTO executions (id, workflow_id, workflow_name, status, exit_code, started_at,"
    " completed_at, duration_ms, error_message) VALUES ({}, {}, {}, {}, {}, NULL, {}, 5, {})"
)
WHEN = "'2025-06-02T12:05:07.123456000Z'"
BAD_ROWS = {
    "non-UTF-8 workflow_name": (
        _ROW.format("'bad-name'", "'w'", "CAST(X'6F6BFF' AS TEXT)", "'failed'", 1, WHEN, "''"),
        "record 'bad-name' has text that is not UTF-8 in workflow_name",
    ),
    "non-UTF-8 error_message and status": (
        _ROW.format(
            "'bad-text'", "'w'", "'odd'", "CAST(X'FE' AS TEXT)", 1, WHEN, "CAST(X'C0' AS TEXT)"
        ),
        "record 'bad-text' has text that is not UTF-8 in status, error_message",
    ),
    "non-UTF-8 id": (
        _ROW.format("CAST(X'6964FF' AS TEXT)", "'w'", "'odd'", "'failed'", 1, WHEN, "''"),
        r"record b'id\\xff' has text that is not UTF-8 in id",
    ),
    "text in exit_code": (
        _ROW.format("'bad-type'", "'w'", "'odd'", "'failed'", "'one'", WHEN, "''"),
        "record 'bad-type' has a column of the wrong type",
    ),
    "unreadable completed_at": (
        _ROW.format("'bad-time'", "'w'", "'odd'", "'failed'", 1, "'yesterday'", "''"),
        "record 'bad-time' has a bad time",
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_history_row_is_data_loss_naming_the_record(
    history: tuple[HistoryStore, Path], case: str
) -> None:
    store, db_path = history
    insert, message = BAD_ROWS[case]
    good = record(f"good-{case}", workflow_name="fine", completed_at=T0)
    store.record(good)
    with sqlite3.connect(db_path) as other_tool:
        other_tool.execute(insert)
    try:
        with pytest.raises(DataCorruptedError, match=message):
            store.list(HistoryFilter(limit=1000))
        assert good in store.list(HistoryFilter(workflow_name="fine", limit=1000))  # the rest works
        stats = store.get_stats(HistoryFilter())
        assert stats.total_executions >= 2
        # Every row is counted; text that is not UTF-8 reads with U+FFFD for each bad byte.
        assert sum(stats.status_counts.values()) == stats.total_executions
        breakdown = store.get_stats_breakdown(HistoryFilter())
        assert breakdown.total == stats
        assert sum(g.stats.total_executions for g in breakdown.groups) == stats.total_executions
        if case == "non-UTF-8 error_message and status":
            assert stats.status_counts["\ufffd"] == 1
        store.record(record(f"after-{case}", workflow_name="fine"))
    finally:
        with sqlite3.connect(db_path) as other_tool:
            other_tool.execute("DELETE FROM executions WHERE duration_ms = 5")
    assert good in store.list(HistoryFilter(limit=1000))


def test_recording_the_id_of_a_bad_row_fails_for_that_record_only(
    history: tuple[HistoryStore, Path],
) -> None:
    store, db_path = history
    with sqlite3.connect(db_path) as other_tool:
        other_tool.execute(
            _ROW.format("'taken'", "CAST(X'FF' AS TEXT)", "'odd'", "'failed'", 1, WHEN, "''")
        )
    try:
        with pytest.raises(DataCorruptedError, match="record 'taken' is already stored, with"):
            store.record(record("taken"))
        with pytest.raises(DataCorruptedError, match="record 'taken' is already stored, with"):
            store.record_batch([record("batch-ok"), record("taken")])
        fine = record("fine-1", workflow_name="fine")
        store.record_batch([fine])
        assert fine in store.list(HistoryFilter(workflow_name="fine", limit=1000))
        assert store.list(HistoryFilter(workflow_name="deploy", limit=1000)) == []  # all or none
    finally:
        with sqlite3.connect(db_path) as other_tool:
            other_tool.execute("DELETE FROM executions WHERE duration_ms = 5")
