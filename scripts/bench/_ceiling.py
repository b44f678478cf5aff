"""The benchmark's ceiling: wfstored's own server, serving no-op stores with canned replies.

Runs ``wfstored.rpc.start_server`` (same thread pool, options, servicers, health and
reflection) on a StateStore and a HistoryStore that do no storage work: writes return at
once, reads return canned values of the same size as what the benchmark's wfstored cells get
back. What remains is gRPC, protobuf and the servicers' conversions: the limit wfstored
could reach with free storage.

    python -m scripts.bench._ceiling --listen 127.0.0.1:0 --listen unix:///tmp/ceiling.sock

Logs a ready line in wfstored's form (``serving_line``, so ``SERVING_LINE`` finds it) to
stderr and serves until SIGTERM or SIGINT. Started by the benchmark from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta

from wfstore import (
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    StateWatch,
    StatsBreakdown,
    StoredState,
    UnavailableError,
)
from wfstored.daemon.config import parse_config
from wfstored.daemon.serving_line import serving_line
from wfstored.rpc import RpcOptions, start_server

from scripts.bench._payloads import CANNED_STATS, STATE_IDS, canned_records, make_state

_log = logging.getLogger("wfstored")


class NullStateStore:
    """A StateStore that stores nothing; ``load`` returns the benchmark's state."""

    def __init__(self) -> None:
        """Prepare the canned states, one per benchmark id."""
        self._states = {workflow_id: make_state(workflow_id) for workflow_id in STATE_IDS}
        self._ids = list(STATE_IDS)

    def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Do nothing; return version 1."""
        del state, expected_version
        return 1

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the canned state of ``workflow_id`` (any id gets one)."""
        return self._states.get(workflow_id) or self._states[STATE_IDS[0]]

    def get(self, workflow_id: str) -> StoredState | None:
        """Return the canned state of ``workflow_id`` at version 1."""
        state = self.load(workflow_id)
        return None if state is None else StoredState(state=state, version=1)

    def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Do nothing."""
        del workflow_id, expected_version

    def list(self) -> list[str]:
        """Return the benchmark's state ids."""
        return list(self._ids)

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return the first ``page_size`` (0: 1000) benchmark ids, as one last page."""
        del page_token
        return Page(items=self._ids[: page_size or 1000])

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> StateWatch:
        """Refuse: a store that keeps nothing has no changes to watch."""
        del prefix, workflow_id, resume_token, include_state
        raise UnavailableError("the benchmark's no-op store has no changes to watch")

    def close(self) -> None:
        """Do nothing."""


class NullHistoryStore:
    """A HistoryStore that stores nothing; reads return canned records and stats."""

    def __init__(self) -> None:
        """Prepare the canned records."""
        self._records = canned_records(1000)

    def record(self, record: ExecutionRecord) -> None:
        """Do nothing."""
        del record

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Do nothing."""
        del records

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return ``limit`` (0: 20) canned records."""
        return self._records[: (history_filter or HistoryFilter()).limit or 20]

    def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return as many canned records as wfstored's first page would hold."""
        del page_token
        limit = (history_filter or HistoryFilter()).limit or 20
        count = min(limit, page_size or 100, len(self._records))
        return Page(items=self._records[:count])

    def get_stats(
        self, history_filter: HistoryFilter | None = None, *, percentiles: bool = False
    ) -> HistoryStats:
        """Return canned stats."""
        del history_filter, percentiles
        return CANNED_STATS

    def get_stats_breakdown(
        self,
        history_filter: HistoryFilter | None = None,
        *,
        group_by: HistoryGrouping = HistoryGrouping.WORKFLOW_NAME,
        percentiles: bool = False,
    ) -> StatsBreakdown:
        """Return the canned stats as the total, with no groups."""
        del history_filter, group_by, percentiles
        return StatsBreakdown(total=CANNED_STATS, groups=[])

    def cleanup(self, older_than: timedelta) -> int:
        """Delete nothing."""
        del older_than
        return 0

    def close(self) -> None:
        """Do nothing."""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the no-op stores on the ``--listen`` addresses until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR")
    args = parser.parse_args(argv)
    listen = [arg for address in args.listen for arg in ("--listen", address)]
    config = parse_config(listen, environ={})  # wfstored's defaults: workers, message limits
    options = RpcOptions(
        listen=config.listen,
        workers=config.workers,
        max_message_bytes=config.max_message_bytes,
        socket_mode=config.socket_mode,
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    running = start_server(options, NullStateStore(), NullHistoryStore())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stores = f"data none, {options.workers} workers"
    _log.info("%s", serving_line("ceiling", running.addresses, stores, os.getpid()))
    while not stop.wait(0.2):
        pass
    running.stop(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
