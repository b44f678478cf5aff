"""The ceiling server (no-op stores) with one kind of call observer, for the metrics benchmark.

    python -m scripts.bench._observed_ceiling --observer metrics --listen 127.0.0.1:0

``--observer`` is ``none``, ``metrics`` (wfstored's own interceptor, :mod:`wfstored.rpc.
call_metrics`), ``py-grpc-prometheus`` (that library's ``PromServerInterceptor`` with its
handling-time histogram; install it first) or ``otel-instrumentation`` (the
``opentelemetry-instrumentation-grpc`` server interceptor, spans dropped by a no-op
exporter) or ``tracing`` (wfstored's own, likewise). Logs a ready line in wfstored's form.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from wfstored.daemon.serving_line import serving_line
from wfstored.rpc import RpcOptions, start_server
from wfstored.rpc.handlers import Interceptor

from scripts.bench._ceiling import NullHistoryStore, NullStateStore

OBSERVERS = ("none", "metrics", "py-grpc-prometheus", "tracing", "otel-instrumentation")
_log = logging.getLogger("wfstored")


def _tracer_provider() -> object:
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class _Drop(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            del spans
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    return provider


def observer(name: str) -> list[Interceptor]:
    """Return the interceptors of observer ``name``."""
    if name == "metrics":
        from wfstored.rpc.call_metrics import CallMetrics  # noqa: PLC0415

        return [CallMetrics(CollectorRegistry())]
    if name == "py-grpc-prometheus":
        from py_grpc_prometheus.prometheus_server_interceptor import (  # type: ignore[import-not-found]  # noqa: PLC0415
            PromServerInterceptor,
        )

        registry = CollectorRegistry()
        return [PromServerInterceptor(enable_handling_time_histogram=True, registry=registry)]
    if name == "tracing":
        from wfstored.rpc.call_tracing import CallTracing  # noqa: PLC0415

        provider = _tracer_provider()
        return [CallTracing(provider.get_tracer("bench"))]  # type: ignore[attr-defined]
    if name == "otel-instrumentation":
        from opentelemetry.instrumentation.grpc import (  # type: ignore[import-not-found]  # noqa: PLC0415
            server_interceptor,
        )

        return [server_interceptor(tracer_provider=_tracer_provider())]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the no-op stores with ``--observer`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR")
    parser.add_argument("--observer", choices=OBSERVERS, default="none")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = RpcOptions(listen=tuple(args.listen), observers=tuple(observer(args.observer)))
    running = start_server(options, NullStateStore(), NullHistoryStore())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    name = f"ceiling-{args.observer}"
    _log.info("%s", serving_line(name, running.addresses, "data none", os.getpid()))
    while not stop.wait(0.2):
        pass
    running.stop(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
