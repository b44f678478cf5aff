"""Store URLs: which forms name which backend and path, and what is refused, with what message."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfstore import ExecutionContext, HistoryStore, StateStore
from wfstored import (
    JSONStateStore,
    SQLiteHistoryStore,
    StoreURLError,
    open_history_store,
    open_state_store,
)
from wfstored.daemon.config import ConfigError, parse_config
from wfstored.storage import parse_history_url, parse_state_url
from wfstored.storage.factory import ServerOptions

from tests.support.factories import record


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("file:///var/lib/wf/state", "/var/lib/wf/state"),
        ("file://localhost/var/lib/wf/state", "/var/lib/wf/state"),
        ("FILE:///x", "/x"),
        ("file:relative/state", "relative/state"),
        ("file:///with%20space/state", "/with space/state"),
        ("/plain/absolute", "/plain/absolute"),
        ("plain/relative", "plain/relative"),
        ("./odd:name", "odd:name"),
        ("C:state", "C:state"),  # one letter is not a scheme
    ],
)
def test_state_urls_name_a_json_directory(text: str, path: str) -> None:
    url = parse_state_url(text)
    assert (url.scheme, url.path, url.text) == ("file", Path(path), text)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("sqlite:///var/lib/wf/history.db", "/var/lib/wf/history.db"),
        ("sqlite://localhost/h.db", "/h.db"),
        ("sqlite:relative/h.db", "relative/h.db"),
        ("history.db", "history.db"),
    ],
)
def test_history_urls_name_a_sqlite_file(text: str, path: str) -> None:
    url = parse_history_url(text)
    assert (url.scheme, url.path) == ("sqlite", Path(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("redis://cache:6379/0", "unknown state store scheme 'redis'"),
        ("sqlite:///h.db", "unknown state store scheme 'sqlite'"),
        ("file://otherhost/state", "names host 'otherhost'"),
        ("file:///state?mode=rw", "take no ?query"),
        ("file:///state#frag", "take no ?query or #part"),
        ("file://", "has no path"),
    ],
)
def test_bad_state_urls_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message.replace("?", r"\?")):
        parse_state_url(text)


def test_an_unknown_history_scheme_lists_the_known_ones() -> None:
    with pytest.raises(StoreURLError) as caught:
        parse_history_url("mysql://db/wf")
    assert str(caught.value) == (
        "unknown history store scheme 'mysql' in 'mysql://db/wf' (known: sqlite:, postgresql:, "
        "postgres: or a plain path)"
    )
    assert isinstance(caught.value, ValueError)


def test_a_database_url_is_handed_over_as_it_is_and_shown_without_its_password() -> None:
    text = "postgresql://app:s3cret@db1,db2/wf?target_session_attrs=read-write"
    url = parse_history_url(text)
    assert (url.scheme, url.text) == ("postgresql", text)
    assert url.shown() == "postgresql://app:***@db1,db2/wf?target_session_attrs=read-write"
    assert parse_history_url("postgres://db/wf").scheme == "postgres"
    assert parse_state_url(text).text == text
    with pytest.raises(StoreURLError) as caught:
        parse_history_url("mysql://app:s3cret@db/wf")
    assert "s3cret" not in str(caught.value)


def test_the_factory_opens_working_stores(tmp_path: Path) -> None:
    state = open_state_store(f"file://{tmp_path}/state")
    history = open_history_store(f"sqlite://{tmp_path}/h.db")
    try:
        assert isinstance(state, JSONStateStore)
        assert isinstance(state, StateStore)
        assert isinstance(history, SQLiteHistoryStore)
        assert isinstance(history, HistoryStore)
        state.save(ExecutionContext(workflow_id="run-1"))
        history.record(record("r-1"))
        assert (tmp_path / "state" / "run-1.json").is_file()
        assert [r.id for r in history.list()] == ["r-1"]
    finally:
        state.close()
        history.close()


def test_the_daemon_takes_store_urls_from_flags_and_the_environment() -> None:
    env = {"WFSTORE_STATE_STORE": "file:///env/state", "WFSTORE_HISTORY_STORE": "/env/h.db"}
    config = parse_config([], env)
    assert config.state_url().path == Path("/env/state")
    assert config.history_url().path == Path("/env/h.db")
    assert not config.uses_data_dir()
    flags = parse_config(["--history-store", "sqlite:///flag/h.db"], env)
    assert flags.history_url().path == Path("/flag/h.db")


def test_pool_size_and_connect_timeout_come_from_flags_or_the_environment() -> None:
    assert parse_config([], {}).server_options == ServerOptions(pool_size=10, connect_timeout=10.0)
    env = {"WFSTORE_POOL_SIZE": "32", "WFSTORE_CONNECT_TIMEOUT": "2.5"}
    assert parse_config([], env).server_options == ServerOptions(pool_size=32, connect_timeout=2.5)
    flags = parse_config(["--pool-size", "4", "--connect-timeout", "1"], env).server_options
    assert flags == ServerOptions(pool_size=4, connect_timeout=1.0)
    for argv in (["--pool-size", "0"], ["--connect-timeout", "0"], ["--pool-size", "x"]):
        with pytest.raises(ConfigError):
            parse_config(argv, {})


def test_without_urls_the_stores_live_in_the_data_dir() -> None:
    config = parse_config(["--data-dir", "/srv/wf"], {})
    assert (config.state_url().scheme, config.state_url().path) == ("file", Path("/srv/wf/state"))
    assert config.history_url().path == Path("/srv/wf/history.db")
    assert config.uses_data_dir()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--state-store", "redis://x"], "--state-store: unknown state store scheme 'redis'"),
        (["--history-store", "file:///h.db"], "--history-store: unknown history store scheme"),
    ],
)
def test_a_bad_url_is_a_config_error_naming_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(argv, {})
