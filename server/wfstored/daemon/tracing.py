"""OpenTelemetry tracing for the daemon: a tracer provider, its exporter, and the interceptor.

``--tracing otlp`` sends spans with the OTLP/gRPC exporter, configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, certificate, timeout); ``console``
prints them to stdout; ``file:PATH`` appends them to PATH, one JSON document a line. The
service name and resource come from ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
(default service name ``wfstored``), the sampler from ``OTEL_TRACES_SAMPLER`` (default:
follow the caller's sampled flag, sample every call that has no caller's context).

The OpenTelemetry packages are the ``otel`` extra; without them, asking for tracing is a
start-up error that says what to install.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import wfstore

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from wfstored.rpc.call_tracing import CallTracing

__all__ = ["Tracing", "TracingError", "start_tracing"]

_INSTALL_HINT = "pip install 'wfstore[otel]'"


class TracingError(Exception):
    """Tracing cannot be set up; the message says why and what to do."""


@dataclass(kw_only=True)
class Tracing:
    """The provider exporting the daemon's spans, and the interceptor that makes them."""

    provider: TracerProvider
    interceptor: CallTracing
    _file: IO[str] | None = None

    def stop(self) -> None:
        """Export the spans still buffered and release the exporter."""
        self.provider.shutdown()
        if self._file is not None:
            self._file.close()


def _json_line(span: ReadableSpan) -> str:
    return f"{span.to_json(indent=None)}\n"


def start_tracing(exporter_name: str) -> Tracing:
    """Set up tracing to ``otlp``, ``console`` or ``file:PATH``; raise TracingError."""
    try:
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 (optional extra)
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        from wfstored.rpc.call_tracing import CallTracing  # noqa: PLC0415
    except ImportError as exc:
        raise TracingError(
            f"--tracing {exporter_name} needs OpenTelemetry, which is not installed "
            f"({exc.name} is missing): {_INSTALL_HINT}"
        ) from None
    attributes = {"service.version": wfstore.__version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "wfstored"
    provider = TracerProvider(resource=Resource.create(attributes))
    sink: IO[str] | None = None
    if exporter_name == "otlp":
        exporter = _otlp_exporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    elif exporter_name == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        path = Path(exporter_name.removeprefix("file:"))
        try:
            sink = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise TracingError(
                f"--tracing {exporter_name}: cannot open {path}: {exc.strerror}"
            ) from None
        formatter: Callable[[ReadableSpan], str] = _json_line
        provider.add_span_processor(
            SimpleSpanProcessor(ConsoleSpanExporter(out=sink, formatter=formatter))
        )
    tracer = provider.get_tracer("wfstored", wfstore.__version__)
    return Tracing(provider=provider, interceptor=CallTracing(tracer), _file=sink)


def _otlp_exporter() -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError as exc:
        raise TracingError(
            f"--tracing otlp needs the OTLP exporter ({exc.name} is missing): {_INSTALL_HINT}"
        ) from None
    return OTLPSpanExporter()
