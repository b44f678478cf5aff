"""TLS and mutual TLS on the daemon's TCP listener, with certificates made on the fly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from wfstore import TLS, ExecutionContext, RetryPolicy, UnavailableError

from tests.support.daemon import Daemon, TLSFiles, run_wfstored, write_tls_files

pytestmark = pytest.mark.daemon

_ONCE = RetryPolicy(max_attempts=1)


def _round_trip(daemon: Daemon, transport: str = "tcp", **options: object) -> None:
    with daemon.client(transport, timeout=10, **options) as client:
        client.state.save(ExecutionContext.new("run-1", "deploy"))
        loaded = client.state.load("run-1")
        assert loaded is not None
        assert loaded.workflow_name == "deploy"


def _refused(daemon: Daemon, **options: object) -> UnavailableError:
    with (
        daemon.client(timeout=10, retry=_ONCE, **options) as client,
        pytest.raises(UnavailableError) as caught,
    ):
        client.state.load("run-1")
    return caught.value


def test_tls_round_trip_blocking_and_asyncio(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(extra=tls_files.server_flags(), tls=tls_files.client_tls())
    _round_trip(daemon)

    async def load() -> ExecutionContext | None:
        async with daemon.aio_client(timeout=10) as client:
            return await client.state.load("run-1")

    loaded = asyncio.run(load())
    assert loaded is not None
    assert loaded.workflow_id == "run-1"
    assert "TCP listeners use TLS" in daemon.stderr()


def test_the_unix_socket_of_a_tls_daemon_stays_plaintext(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(extra=tls_files.server_flags(), tls=tls_files.client_tls())
    _round_trip(daemon, "unix")


def test_a_plaintext_client_cannot_use_a_tls_port(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(extra=tls_files.server_flags())  # no client TLS: a plaintext channel
    _refused(daemon)


def test_a_client_trusting_another_ca_is_refused(
    start: Callable[..., Daemon], tls_files: TLSFiles, tmp_path: Path
) -> None:
    daemon = start(extra=tls_files.server_flags())
    stranger = write_tls_files(tmp_path / "stranger", trustme.CA())
    _refused(daemon, tls=TLS(ca=stranger.ca))


def test_server_name_override_checks_the_certificate_against_that_name(
    start: Callable[..., Daemon], ca: trustme.CA, tmp_path: Path
) -> None:
    named = ca.issue_cert("wfstore.internal")  # not valid for 127.0.0.1
    cert, key = tmp_path / "named.pem", tmp_path / "named.key"
    named.cert_chain_pems[0].write_to_path(str(cert))
    named.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    daemon = start(extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    _refused(daemon, tls=TLS(ca=ca_file))  # 127.0.0.1 is not the certificate's name
    _round_trip(daemon, tls=TLS(ca=ca_file, server_name="wfstore.internal"))


def test_mutual_tls_accepts_a_client_certificate_from_the_ca(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(
        extra=tls_files.server_flags(mutual=True), tls=tls_files.client_tls(with_cert=True)
    )
    _round_trip(daemon)
    assert "mutual TLS" in daemon.stderr()


def test_mutual_tls_refuses_a_client_without_a_certificate(
    start: Callable[..., Daemon], tls_files: TLSFiles
) -> None:
    daemon = start(extra=tls_files.server_flags(mutual=True))
    _refused(daemon, tls=tls_files.client_tls())


def test_mutual_tls_refuses_a_client_certificate_signed_by_another_ca(
    start: Callable[..., Daemon], tls_files: TLSFiles, tmp_path: Path
) -> None:
    daemon = start(extra=tls_files.server_flags(mutual=True))
    rogue = write_tls_files(tmp_path / "rogue", trustme.CA())
    # The client trusts the daemon's CA but shows a certificate the daemon's CA never signed.
    _refused(daemon, tls=TLS(ca=tls_files.ca, cert=rogue.client_cert, key=rogue.client_key))


def test_a_key_that_does_not_match_the_certificate_stops_the_start(
    tls_files: TLSFiles, tmp_path: Path
) -> None:
    result = run_wfstored(
        "--data-dir",
        str(tmp_path / "data"),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(tls_files.server_cert),
        "--tls-key",
        str(tls_files.client_key),
    )
    assert result.returncode == 2
    assert "does not go with certificate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        ("--tls-cert", "No such file"),
        ("--tls-key", "No such file"),
        ("--tls-client-ca", "No such file"),
    ],
)
def test_a_missing_tls_file_stops_the_start(
    tls_files: TLSFiles, tmp_path: Path, flag: str, problem: str
) -> None:
    given = tls_files.server_flags(mutual=True)
    flags = dict(zip(given[::2], given[1::2], strict=True))
    flags[flag] = str(tmp_path / "missing.pem")
    args = [item for pair in flags.items() for item in pair]
    result = run_wfstored("--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", *args)
    assert result.returncode == 2
    assert problem in result.stderr
    assert str(tmp_path / "missing.pem") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_tls_key_others_can_read_stops_the_start(tls_files: TLSFiles, tmp_path: Path) -> None:
    tls_files.server_key.chmod(0o644)
    result = run_wfstored(
        "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", *tls_files.server_flags()
    )
    assert result.returncode == 2
    assert "other users may read or change it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
