"""Both clients refuse a malformed target when they are built, with InvalidArgumentError."""

from __future__ import annotations

import asyncio

import pytest
import wfstore
from wfstore import InvalidArgumentError, aio

GOOD = [
    "127.0.0.1:50551",
    "localhost:50551",
    "db-1.example.com:443",
    "[::1]:50551",
    "unix:///run/wfstore.sock",
    "unix:relative/wfstore.sock",
    "unix-abstract:wfstore",
    "ipv4:127.0.0.1:50551,127.0.0.2:50552",
    "ipv6:[::1]:50551,[::2]:50552",
    "ipv6:::1",
    "dns:///localhost:50551",
    "dns://8.8.8.8/db.example.com:50551",
]

BAD = [
    "http://127.0.0.1:50551",
    "https://db.example.com:443",
    "grpc://127.0.0.1:50551",
    "",
    " 127.0.0.1:50551",
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:port",
    "127.0.0.1:70000",
    "127.0.0.1:0",
    "[::1]",
    "[::1:50551",
    "unix://relative.sock",
    "unix:",
    "ipv4:",
    "ipv4:127.0.0.1",
    "ipv4:1.2.3:50551",
    "ipv6:[nope]:1",
    "dns://authority-only",
    "dns:///:50551",
]


@pytest.mark.parametrize("target", GOOD)
def test_good_targets_are_accepted(target: str) -> None:
    with wfstore.Client(target) as client:
        assert client.target == target


@pytest.mark.parametrize("target", BAD)
def test_bad_targets_are_refused_at_construction(target: str) -> None:
    with pytest.raises(InvalidArgumentError, match="bad target") as caught:
        wfstore.Client(target)
    assert "host:port" in str(caught.value)


def test_http_url_is_named() -> None:
    with pytest.raises(InvalidArgumentError, match=r"http:// is not a gRPC target"):
        wfstore.Client("http://127.0.0.1:50551")


def test_non_string_target_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        wfstore.Client(50551)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["http://127.0.0.1:50551", "127.0.0.1", "unix:"])
def test_aio_client_refuses_bad_targets(target: str) -> None:
    async def build() -> None:
        aio.Client(target)

    with pytest.raises(InvalidArgumentError, match="bad target"):
        asyncio.run(build())


def test_aio_client_accepts_good_targets() -> None:
    async def build() -> None:
        for target in GOOD:
            async with aio.Client(target) as client:
                assert client.target == target

    asyncio.run(build())
