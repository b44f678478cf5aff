"""Messages over the size limit, both ways, at both ends: RESOURCE_EXHAUSTED, and serving on.

The daemon's limit is ``--max-message-bytes`` (default 16 MiB) and applies to what it receives
and what it sends; the client's is ``max_message_bytes`` (the same default). gRPC enforces
both before any wfstore code runs; the client turns the status into ResourceExhaustedError.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from raw_calls import METHODS, big_channel, call
from wfstore import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ExecutionContext,
    HistoryFilter,
    ResourceExhaustedError,
)
from wfstore.v1 import state_pb2
from wfstored import JSONStateStore
from wfstored.daemon.config import parse_config

from tests.support.daemon import Daemon, start_daemon
from tests.support.factories import record

LIMIT = 64 * 1024
_PAD_FIELD = 1000  # unknown to every request: decoders skip it, but it still counts in size


def _padded(size: int) -> bytes:
    """Return a request of exactly ``size`` bytes that decodes as an empty one of any method."""
    tag = bytes([0xC2, 0x3E])  # field 1000, length-delimited
    body = size - len(tag) - 3
    return tag + bytes([body & 0x7F | 0x80, body >> 7 & 0x7F | 0x80, body >> 14]) + b"p" * body


@pytest.fixture(scope="module")
def small_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon whose messages are limited to 64 KiB."""
    running = start_daemon(
        tmp_path_factory.mktemp("oversized") / "data", extra=["--max-message-bytes", str(LIMIT)]
    )
    try:
        yield running
    finally:
        assert running.stop() == 0, running.stderr()
        assert "Traceback" not in running.stderr()


def test_the_documented_default_is_16_mib_at_both_ends(tmp_path: Path) -> None:
    config = parse_config(["--data-dir", str(tmp_path)], environ={})
    assert config.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 16 * 1024 * 1024


def test_the_padding_is_what_it_says() -> None:
    assert len(_padded(LIMIT)) == LIMIT
    assert state_pb2.StateServiceListRequest.FromString(_padded(LIMIT)).page_size == 0


@pytest.mark.parametrize("method", METHODS)
def test_a_request_over_the_limit_is_resource_exhausted(small_daemon: Daemon, method: str) -> None:
    with big_channel(small_daemon.tcp_target) as channel:
        answer = call(channel, method, _padded(LIMIT + 1))
        assert answer.code is grpc.StatusCode.RESOURCE_EXHAUSTED, answer
        assert f"larger than max ({LIMIT + 1} vs. {LIMIT})" in answer.details
        listing = call(channel, "/wfstore.v1.StateService/List", _padded(LIMIT))
        assert listing.code is grpc.StatusCode.OK, listing  # at the limit exactly: served


def test_a_reply_over_the_daemons_limit_is_resource_exhausted(small_daemon: Daemon) -> None:
    # Written embedded, beside the daemon: a state too big for the daemon to send back.
    writer = JSONStateStore(small_daemon.data_dir / "state")
    writer.save(ExecutionContext(workflow_id="huge", inputs={"blob": "x" * (2 * LIMIT)}))
    writer.close()
    with small_daemon.client(timeout=10) as client:
        with pytest.raises(ResourceExhaustedError, match="Sent message larger than max") as caught:
            client.state.load("huge")
        assert "raise wfstored --max-message-bytes" in str(caught.value)
        client.state.save(ExecutionContext(workflow_id="small"))
        assert client.state.load("small") == ExecutionContext(workflow_id="small")
        client.state.delete("huge")


def test_a_history_page_over_the_limit_is_resource_exhausted_and_smaller_pages_work(
    small_daemon: Daemon,
) -> None:
    wide = HistoryFilter(workflow_name="wide", limit=100)
    with small_daemon.client(timeout=10) as client:
        for batch in range(4):  # 25 records of ~1 KiB per request: under the limit
            client.history.record_batch(
                [
                    replace(
                        record(f"r-{batch}-{i}", workflow_name="wide"), error_message="e" * 1000
                    )
                    for i in range(25)
                ]
            )
        with pytest.raises(ResourceExhaustedError, match="Sent message larger than max"):
            client.history.list_page(wide, page_size=100)  # ~100 KiB in one reply
        pages = [client.history.list_page(wide, page_size=20)]
        while pages[-1].next_page_token:
            pages.append(client.history.list_page(wide, 20, pages[-1].next_page_token))
        assert sum(len(page.items) for page in pages) == 100


def test_the_clients_own_limit_applies_to_what_it_sends_and_receives(daemon: Daemon) -> None:
    big = ExecutionContext(workflow_id="big", inputs={"blob": "x" * 10_000})
    with (
        daemon.client(timeout=10) as roomy,
        daemon.client(timeout=10, max_message_bytes=4096) as tight,
    ):
        with pytest.raises(ResourceExhaustedError, match="larger than max") as sent:
            tight.state.save(big)  # refused before it leaves the client
        assert "raise Client(..., max_message_bytes=N)" in str(sent.value)
        assert "--max-message-bytes" not in str(sent.value)
        assert roomy.state.load("big") is None
        roomy.state.save(big)
        with pytest.raises(ResourceExhaustedError, match="larger than max") as received:
            tight.state.load("big")  # sent by the daemon, refused on arrival
        assert "raise Client(..., max_message_bytes=N)" in str(received.value)
        assert tight.state.list() == ["big"]


def test_a_request_over_the_daemons_limit_names_its_setting(small_daemon: Daemon) -> None:
    big = ExecutionContext(workflow_id="big", inputs={"blob": "x" * (2 * LIMIT)})
    with small_daemon.client(timeout=10) as client:
        with pytest.raises(ResourceExhaustedError, match="Received message larger") as caught:
            client.state.save(big)
        assert "raise wfstored --max-message-bytes" in str(caught.value)
        assert "max_message_bytes=" not in str(caught.value)
