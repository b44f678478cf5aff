"""A Node.js worker reaches a daemon with mutual TLS and a token, through ``wfstore.js``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, TLSFiles

WORKER_DIR = Path(__file__).resolve().parents[2] / "examples" / "node-worker"
NODE = shutil.which("node")
REQUIRED = os.environ.get("WFSTORE_REQUIRE_NODE") == "1"
pytestmark = [
    pytest.mark.daemon,
    pytest.mark.skipif(
        (NODE is None or not (WORKER_DIR / "node_modules").is_dir()) and not REQUIRED,
        reason="needs node and npm ci in examples/node-worker",
    ),
]

# Saves and reloads a state with the right token, then tries a wrong one.
_SCRIPT = """
const fs = require('node:fs');
const { WfstoreClient } = require('./wfstore');
const [target, ca, cert, key, token] = process.argv.slice(1);
const tls = { ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
(async () => {
  const client = new WfstoreClient(target, { tls, token });
  await client.saveState({ workflow_id: 'node-1', workflow_name: 'n', status: 'running' });
  const loaded = await client.loadState('node-1');
  client.close();
  const wrong = new WfstoreClient(target, { tls, token: token + 'x' });
  let code = 'none';
  try { await wrong.listStatesPage(); } catch (error) { code = error.code; }
  wrong.close();
  console.log(JSON.stringify({ name: loaded.workflow_name, wrong: code }));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_node_worker_with_mutual_tls_and_a_token(
    start: Callable[..., Daemon], tls_files: TLSFiles, token_file: Path, token: str
) -> None:
    assert NODE is not None
    daemon = start(
        extra=[*tls_files.server_flags(mutual=True), "--auth-token-file", str(token_file)]
    )
    files = (tls_files.ca, tls_files.client_cert, tls_files.client_key)
    result = subprocess.run(
        [NODE, "-e", _SCRIPT, daemon.tcp_target, *map(str, files), token],
        cwd=WORKER_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "n", "wrong": "UNAUTHENTICATED"}
    with daemon.client(token=token, tls=tls_files.client_tls(with_cert=True)) as client:
        assert client.state.list() == ["node-1"]
