"""The clients' TLS and token options: bad combinations and files are clear errors, up front."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from wfstore import TLS, Client, InvalidArgumentError, aio
from wfstore._security import is_local_target

from tests.support.daemon import TLSFiles

TOKEN = "a-token-of-thirty-two-characters"  # noqa: S105 (a test value)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"cert": "client.pem"}, "needs its key"),
        ({"key": "client.key"}, "needs its key"),
        ({"server_name": " "}, "server_name must not be empty"),
    ],
)
def test_tls_settings_that_do_not_go_together(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        TLS(**settings)  # type: ignore[arg-type]


def test_an_unreadable_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(InvalidArgumentError, match=r"cannot read TLS CA file .*nope\.pem"):
        Client("127.0.0.1:1", tls=TLS(ca=missing))


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(InvalidArgumentError, match="not a PEM bundle"):
        Client("127.0.0.1:1", tls=TLS(ca=junk))


def test_a_client_key_that_does_not_match_its_certificate(tls_files: TLSFiles) -> None:
    tls = TLS(ca=tls_files.ca, cert=tls_files.client_cert, key=tls_files.server_key)
    with pytest.raises(InvalidArgumentError, match="does not go with certificate"):
        Client("127.0.0.1:1", tls=tls)


def test_tls_on_a_unix_socket_is_refused(tls_files: TLSFiles) -> None:
    with pytest.raises(InvalidArgumentError, match="Unix socket"):
        Client("unix:///tmp/wfstore.sock", tls=tls_files.client_tls())


@pytest.mark.parametrize("target", ["10.0.0.7:50551", "db.example.test:50551", "[2001:db8::1]:1"])
def test_a_token_in_clear_text_to_another_machine_is_refused(target: str) -> None:
    with pytest.raises(InvalidArgumentError, match="clear text") as caught:
        Client(target, token=TOKEN)
    assert TOKEN not in str(caught.value)
    Client(target, token=TOKEN, allow_plaintext_token=True).close()


def test_a_token_over_tls_or_to_this_machine_is_allowed(tls_files: TLSFiles) -> None:
    Client("db.example.test:50551", token=TOKEN, tls=tls_files.client_tls()).close()
    for target in ("127.0.0.1:50551", "localhost:50551", "[::1]:50551", "unix:///tmp/w.sock"):
        Client(target, token=TOKEN).close()


def test_the_asyncio_client_checks_the_same_way(tls_files: TLSFiles) -> None:
    async def build() -> None:
        with pytest.raises(InvalidArgumentError, match="clear text"):
            aio.Client("10.0.0.7:50551", token=TOKEN)
        with pytest.raises(InvalidArgumentError, match="Unix socket"):
            aio.Client("unix:///tmp/w.sock", tls=tls_files.client_tls())
        await aio.Client("10.0.0.7:1", token=TOKEN, tls=tls_files.client_tls()).close()

    asyncio.run(build())


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", "naïve"])
def test_a_token_that_cannot_be_a_header_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="printable ASCII") as caught:
        Client("127.0.0.1:1", token=token)
    assert token not in str(caught.value) or not token


@pytest.mark.parametrize(
    ("target", "local"),
    [
        ("127.0.0.1:50551", True),
        ("127.9.9.9:1", True),
        ("localhost:50551", True),
        ("[::1]:50551", True),
        ("unix:///run/wfstore.sock", True),
        ("unix-abstract:wfstore", True),
        ("dns:///localhost:50551", True),
        ("ipv4:127.0.0.1:1,127.0.0.2:1", True),
        ("ipv4:127.0.0.1:1,10.0.0.1:1", False),
        ("0.0.0.0:50551", False),
        ("10.1.2.3:50551", False),
        ("wfstore.internal:50551", False),
        ("dns:///wfstore.internal:50551", False),
        ("[2001:db8::1]:50551", False),
    ],
)
def test_which_targets_are_local(target: str, local: bool) -> None:
    assert is_local_target(target) is local
