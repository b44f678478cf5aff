"""deploy/: the example config file is accepted as it is, and the systemd unit's command parses."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wfstored.daemon.config import read_config

from tests.support.daemon import run_wfstored

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "wfstored.service"
EXAMPLE = DEPLOY / "wfstore.toml"


def _exec_start() -> list[str]:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign] (keys keep their case)
    unit.read(UNIT, encoding="utf-8")
    return shlex.split(unit["Service"]["ExecStart"])


def test_the_example_config_is_accepted_and_printed() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFSTORE_")}
    done = run_wfstored("--print-config", "--config", str(EXAMPLE), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    source = f"# file {EXAMPLE}"
    assert any(line.startswith('data-dir = "/var/lib/wfstore"') for line in lines)
    assert any(
        line.startswith('listen = ["127.0.0.1:50551", "unix:///run/wfstore/wfstore.sock"]')
        and line.endswith(source)
        for line in lines
    )
    assert any(line.startswith('history-retention = "30d"') for line in lines)


def test_the_units_command_line_parses(tmp_path: Path) -> None:
    command = _exec_start()
    assert command[0].endswith("/wfstored")
    args = [a.replace("${CREDENTIALS_DIRECTORY}", str(tmp_path)) for a in command[1:]]
    args = [str(EXAMPLE) if a == "/etc/wfstore/wfstore.toml" else a for a in args]
    config = read_config(args, {}).config
    assert config.auth_token_file == tmp_path / "tokens"
    assert config.data_dir == Path("/var/lib/wfstore")
    assert "unix:///run/wfstore/wfstore.sock" in config.listen
    assert config.socket_mode == 0o660


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("WFSTORE_REQUIRE_SYSTEMD") == "1":
            pytest.fail("systemd-analyze is missing and WFSTORE_REQUIRE_SYSTEMD=1")
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    # verify checks that the executable exists: point it at this environment's wfstored.
    wfstored = Path(sys.executable).parent / "wfstored"
    if not wfstored.exists():
        pytest.skip(f"{wfstored} is not installed (pip install -e .)")
    text = UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/wfstored", str(wfstored))
    copy = tmp_path / "wfstored.service"
    copy.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
