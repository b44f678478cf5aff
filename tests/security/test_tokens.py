"""Token authentication: every call but health needs an accepted token, on every listener."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from wfstore import ExecutionContext, HistoryFilter, UnauthenticatedError

from tests.support.daemon import Daemon, TLSFiles, run_wfstored, write_token_file

pytestmark = pytest.mark.daemon


def _token_daemon(start: Callable[..., Daemon], token_file: Path, *flags: str) -> Daemon:
    return start(extra=["--auth-token-file", str(token_file), *flags])


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_a_call_without_a_token_is_unauthenticated(
    start: Callable[..., Daemon], token_file: Path, transport: str
) -> None:
    daemon = _token_daemon(start, token_file)
    with daemon.client(transport, timeout=10) as client:
        with pytest.raises(UnauthenticatedError, match="needs a token"):
            client.state.load("run-1")
        with pytest.raises(UnauthenticatedError):
            client.history.list(HistoryFilter())


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_a_wrong_token_is_unauthenticated_and_the_right_one_works(
    start: Callable[..., Daemon], token_file: Path, token: str, transport: str
) -> None:
    daemon = _token_daemon(start, token_file)
    wrong = secrets.token_urlsafe(32)
    with daemon.client(transport, timeout=10, token=wrong) as client:
        with pytest.raises(UnauthenticatedError, match="not accepted") as caught:
            client.state.save(ExecutionContext.new("run-1", "deploy"))
        assert wrong not in str(caught.value)
    with daemon.client(transport, timeout=10, token=token) as client:
        client.state.save(ExecutionContext.new("run-1", "deploy"))
        assert client.state.list() == ["run-1"]


def test_the_asyncio_client_sends_its_token(
    start: Callable[..., Daemon], token_file: Path, token: str
) -> None:
    daemon = _token_daemon(start, token_file)

    async def calls() -> list[str]:
        async with daemon.aio_client(timeout=10) as anonymous:
            with pytest.raises(UnauthenticatedError):
                await anonymous.state.list()
        async with daemon.aio_client(timeout=10, token=token) as client:
            await client.state.save(ExecutionContext.new("run-2", "deploy"))
            return await client.state.list()

    assert asyncio.run(calls()) == ["run-2"]


def test_every_token_in_the_file_is_accepted(start: Callable[..., Daemon], tmp_path: Path) -> None:
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    tokens = write_token_file(tmp_path / "rotating", "# old, until Friday", old, "  ", f"  {new}  ")
    daemon = _token_daemon(start, tokens)
    for token in (old, new):
        with daemon.client(timeout=10, token=token) as client:
            assert client.state.list() == []
    assert "(2 accepted)" in daemon.stderr()


def test_health_needs_no_token(start: Callable[..., Daemon], token_file: Path) -> None:
    daemon = _token_daemon(start, token_file)
    with daemon.client(timeout=10) as client:
        client.wait_until_ready(10)  # the health check, with no token
    with grpc.insecure_channel(daemon.tcp_target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="wfstore.v1.StateService"), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _list_services(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = stub.ServerReflectionInfo(iter([request]), timeout=10, metadata=metadata)
    return [s.name for reply in replies for s in reply.list_services_response.service]


def test_reflection_needs_the_token(
    start: Callable[..., Daemon], token_file: Path, token: str
) -> None:
    daemon = _token_daemon(start, token_file)
    with grpc.insecure_channel(daemon.tcp_target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            _list_services(channel, ())
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        services = _list_services(channel, (("authorization", f"Bearer {token}"),))
    assert "wfstore.v1.StateService" in services


def test_an_unknown_method_without_a_token_reveals_nothing(
    start: Callable[..., Daemon], token_file: Path, token: str
) -> None:
    daemon = _token_daemon(start, token_file)
    with grpc.insecure_channel(daemon.tcp_target) as channel:
        probe = channel.unary_unary("/wfstore.v1.StateService/NoSuchMethod")
        with pytest.raises(grpc.RpcError) as anonymous:
            probe(b"", timeout=10)
        with pytest.raises(grpc.RpcError) as authenticated:
            probe(b"", timeout=10, metadata=(("authorization", f"Bearer {token}"),))
    assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert authenticated.value.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Token {token}", "{token}"],
)
def test_a_header_that_is_not_bearer_token_is_unauthenticated(
    start: Callable[..., Daemon], token_file: Path, token: str, header: str
) -> None:
    daemon = _token_daemon(start, token_file)
    with grpc.insecure_channel(daemon.tcp_target) as channel:
        method = channel.unary_unary("/wfstore.v1.StateService/List")
        with pytest.raises(grpc.RpcError) as caught:
            method(b"", timeout=10, metadata=(("authorization", header.format(token=token)),))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_tokens_never_reach_the_log(
    start: Callable[..., Daemon], token_file: Path, token: str, tls_files: TLSFiles, tls: bool
) -> None:
    flags = ["--auth-token-file", str(token_file), "--log-level", "DEBUG"]
    if tls:
        daemon = start(extra=[*flags, *tls_files.server_flags()], tls=tls_files.client_tls())
    else:
        daemon = start(extra=flags)
    wrong = secrets.token_urlsafe(32)
    for transport in ("tcp", "unix"):
        with daemon.client(transport, timeout=10, token=token) as client:
            client.state.save(ExecutionContext.new("run-1", "deploy"))
            client.history.list(HistoryFilter())
        with daemon.client(transport, timeout=10, token=wrong) as client:
            with pytest.raises(UnauthenticatedError):
                client.state.load("run-1")
            with pytest.raises(UnauthenticatedError):
                client.history.list(HistoryFilter())
    log = daemon.stderr()
    assert "UNAUTHENTICATED" in log  # the refusals are logged, so the log was looked at
    assert token not in log
    assert wrong not in log


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ((), "holds no token"),
        (("# only a comment", "   "), "holds no token"),
        (("too-short",), "line 1: the token has 9 characters"),
        (("# ok", "has a space inside it really"), "line 2: a token must be printable ASCII"),
    ],
)
def test_an_unusable_token_file_stops_the_start(
    tmp_path: Path, lines: tuple[str, ...], problem: str
) -> None:
    path = write_token_file(tmp_path / "tokens", *lines)
    result = run_wfstored(
        "--data-dir",
        str(tmp_path / "data"),
        "--listen",
        "127.0.0.1:0",
        "--auth-token-file",
        str(path),
    )
    assert result.returncode == 2
    assert problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for line in lines:
        if line.strip() and not line.startswith("#"):
            assert line not in result.stderr  # never echo what might be a token


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o620, 0o666])
def test_a_token_file_others_can_read_or_write_stops_the_start(
    tmp_path: Path, token_file: Path, mode: int
) -> None:
    token_file.chmod(mode)
    result = run_wfstored(
        "--data-dir",
        str(tmp_path / "data"),
        "--listen",
        "127.0.0.1:0",
        "--auth-token-file",
        str(token_file),
    )
    assert result.returncode == 2
    assert f"has mode {mode:03o}, so other users may read or change it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_missing_token_file_stops_the_start(tmp_path: Path) -> None:
    result = run_wfstored(
        "--data-dir", str(tmp_path / "data"), "--auth-token-file", str(tmp_path / "nope")
    )
    assert result.returncode == 2
    assert "cannot read token file" in result.stderr
    assert "No such file" in result.stderr
