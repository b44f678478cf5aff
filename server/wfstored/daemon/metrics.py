"""The Prometheus endpoint: a registry of the daemon's metrics, served over HTTP.

Only the daemon imports this module, and only with ``--metrics-listen``: a daemon without it
loads no ``prometheus_client`` and installs no interceptor. Everything goes into a registry of
its own (never the library's global one), so nothing else in the process adds to it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.registry import Collector
from wfstore.domain import StoreInfo
from wfstore.ports import HistoryStore, StateStore

from wfstored.daemon.store_metrics import StoreCollector
from wfstored.rpc.call_metrics import CallMetrics
from wfstored.storage.shared.table_history_store import TableHistoryStore

__all__ = ["METRICS_LINE", "MetricsError", "MetricsServer", "start_metrics"]

_log = logging.getLogger("wfstored")

METRICS_LINE: Final = re.compile(r" metrics on (?P<url>http://\S+/metrics)")
"""Finds the line that says where metrics are served (port 0 becomes the real port)."""


class MetricsError(Exception):
    """The metrics endpoint cannot be served; the message says where and why."""


@dataclass(kw_only=True)
class MetricsServer:
    """The registry, the interceptor counting calls into it, and the HTTP server serving it."""

    registry: CollectorRegistry
    interceptor: CallMetrics
    http: WSGIServer
    url: str

    def stop(self) -> None:
        """Stop serving metrics and close the listening socket."""
        self.http.shutdown()
        self.http.server_close()


def _describers(*stores: object) -> list[Callable[[], StoreInfo]]:
    found = (getattr(store, "describe", None) for store in stores)
    return [describe for describe in found if callable(describe)]


def start_metrics(
    address: str,
    state: StateStore,
    history: HistoryStore,
    collectors: Sequence[Collector] = (),
) -> MetricsServer:
    """Serve the metrics of ``state``, ``history`` and the calls on ``address`` (host:port).

    ``collectors`` report more of the daemon (e.g. the retention rounds).

    Raises :class:`MetricsError` when the address cannot be listened on.
    """
    registry = CollectorRegistry()
    interceptor = CallMetrics(registry)
    batch_sizes = history.commit_batch_sizes if isinstance(history, TableHistoryStore) else None
    registry.register(StoreCollector(_describers(state, history), batch_sizes))
    for collector in collectors:
        registry.register(collector)
    host, _, port = address.rpartition(":")
    try:
        http, _thread = start_http_server(int(port), host.strip("[]"), registry)
    except OSError as exc:
        raise MetricsError(
            f"cannot serve metrics on {address}: {exc.strerror or exc}"
            " (is another process using it? see --metrics-listen)"
        ) from None
    bound = http.server_port
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    url = f"http://{shown}:{bound}/metrics"
    _log.info("metrics on %s (plain HTTP, no authentication)", url)
    return MetricsServer(registry=registry, interceptor=interceptor, http=http, url=url)
