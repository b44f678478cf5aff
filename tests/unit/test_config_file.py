"""The config file: every flag is a key; flag > environment > file > default; bad keys fail."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest
from wfstored.daemon.config import DEFAULT_LISTEN, ConfigError, flag_parser, read_config
from wfstored.daemon.print_config import redact
from wfstored.daemon.settings import NOT_IN_FILE, env_name, file_key, option_shapes


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wfstore.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _layered_actions() -> list[argparse.Action]:
    return [a for a in flag_parser()._actions if a.option_strings and a.dest not in NOT_IN_FILE]


def test_every_flag_is_a_file_key_and_names_its_variable_in_its_help() -> None:
    actions = _layered_actions()
    assert {file_key(a.dest) for a in actions} == set(option_shapes(flag_parser()))
    for action in actions:
        assert action.option_strings == [f"--{file_key(action.dest)}"]
        assert env_name(action.dest) in (action.help or ""), action.dest


@pytest.mark.parametrize(
    ("key", "values"),
    [
        ("workers", ("3", "4", "5", "16")),
        ("grace-seconds", ("1.5", "2.5", "3.5", "10")),
        ("history-retention", ("1d", "2d", '"3d"', "off")),
        ("log-level", ("DEBUG", "WARNING", '"ERROR"', "INFO")),
    ],
)
def test_precedence_at_every_level(tmp_path: Path, key: str, values: tuple[str, ...]) -> None:
    flag, env, file, default = values
    path = _write(tmp_path, f"{key} = {file}\n")
    variable = env_name(key.replace("-", "_"))
    argv = ["--config", str(path)]
    layers = [
        ([*argv, f"--{key}", flag], {variable: env}, flag, f"flag --{key}"),
        (argv, {variable: env}, env, f"env {variable}"),
        (argv, {variable: ""}, file.strip('"'), f"file {path}"),  # empty: unset
        ([], {variable: ""}, default, "default"),
    ]
    for args, environ, value, source in layers:
        setting = read_config(args, environ).settings[key]
        assert (setting.value, setting.source) == (value, source)


def test_the_file_is_named_by_the_variable_too(tmp_path: Path) -> None:
    path = _write(tmp_path, 'listen = ["127.0.0.1:1", "unix:///tmp/w.sock"]\ninsecure = true\n')
    config = read_config([], {"WFSTORE_CONFIG": str(path)}).config
    assert config.listen == ("127.0.0.1:1", "unix:///tmp/w.sock")
    assert config.insecure
    assert read_config(
        ["--listen", "127.0.0.1:2"], {"WFSTORE_CONFIG": str(path)}
    ).config.listen == ("127.0.0.1:2",)
    env = {"WFSTORE_CONFIG": str(path), "WFSTORE_LISTEN": "127.0.0.1:3,127.0.0.1:4"}
    assert read_config([], env).config.listen == ("127.0.0.1:3", "127.0.0.1:4")
    assert read_config([], {}).config.listen == (DEFAULT_LISTEN,)


def test_typed_values_and_relative_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'data-dir = "data"\nauth-token-file = "/abs/tokens"\nhistory-store = "h/history.db"\n'
        'state-store = "file:rel/state"\nmax-message-bytes = 2048\nconnect-timeout = 0.5\n'
        'history-retention = "30d"\ncleanup-interval = "90m"\nsocket-mode = "660"\n',
    )
    config = read_config(["--config", str(path)], {}).config
    assert config.data_dir == tmp_path / "data"
    assert config.auth_token_file == Path("/abs/tokens")
    assert config.history_url().path == tmp_path / "h/history.db"
    assert config.state_url().path == Path("rel/state")  # a URL is taken as written
    assert config.max_message_bytes == 2048
    assert config.server_options.connect_timeout == 0.5
    assert config.history_retention == timedelta(days=30)
    assert config.cleanup_interval == timedelta(minutes=90)
    assert config.socket_mode == 0o660


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workerz = 3\n", r"wfstore\.toml: unknown key 'workerz' \(did you mean workers\?\)"),
        ("config = 'x.toml'\n", "unknown key 'config'"),
        ("print-config = true\n", "unknown key 'print-config'"),
        ("workers = true\n", "wfstore.toml: workers must be a string or a number, not a boolean"),
        ("workers = [1]\n", "workers must be a string or a number, not an array"),
        ("[workers]\n", "workers must be a string or a number, not a table"),
        ("insecure = 'yes'\n", "wfstore.toml: insecure must be true or false, not a string"),
        ('listen = "127.0.0.1:1"\n', "listen must be an array of strings"),
        ("listen = [1]\n", "listen must be an array of strings"),
        ("workers = 0\n", "wfstore.toml: workers must be at least 1, not 0"),
        ("history-retention = 30\n", "history-retention must be a duration such as 30d"),
        ('listen = ["nowhere"]\n', "listen address 'nowhere' is not host:port"),
        ("workers = \n", r"wfstore\.toml: not valid TOML: Invalid value \(at line 1"),
    ],
)
def test_bad_files_are_one_line_errors_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        read_config(["--config", str(path)], {})
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*missing\.toml"):
        read_config(["--config", str(tmp_path / "missing.toml")], {})


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--history-retention", "30x"], {}, "--history-retention must be a duration such as"),
        (["--history-retention", "0d"], {}, "--history-retention must be a duration"),
        ([], {"WFSTORE_CLEANUP_INTERVAL": "off"}, "WFSTORE_CLEANUP_INTERVAL must be a duration"),
        (["--cleanup-interval=-1h"], {}, "--cleanup-interval must be a duration"),
        ([], {"WFSTORE_WORKERS": "0"}, "WFSTORE_WORKERS must be at least 1"),
    ],
)
def test_bad_durations_and_variables_name_their_layer(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        read_config(argv, environ)


def test_retention_is_off_unless_asked_for() -> None:
    config = read_config([], {}).config
    assert (config.history_retention, config.cleanup_interval) == (None, timedelta(hours=1))
    assert read_config(["--history-retention", "12h"], {}).config.history_retention == timedelta(
        hours=12
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("host=h password=secret dbname=d", "host=h password=*** dbname=d"),
        ("host=h password='se cret' dbname=d", "host=h password=*** dbname=d"),
        ("/var/lib/wfstore", "/var/lib/wfstore"),
    ],
)
def test_passwords_are_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown
