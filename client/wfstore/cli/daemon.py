"""``wfstore health`` (a probe with grpc_health_probe's exit codes) and ``wfstore status``."""

from __future__ import annotations

import threading
from enum import IntEnum
from typing import TYPE_CHECKING

import click

from wfstore.cli.formatting import format_bytes, format_duration_ms, format_time, iso_time
from wfstore.cli.jsonable import server_info_json
from wfstore.cli.output import output_options

if TYPE_CHECKING:
    import grpc

    from wfstore.cli.app import Settings
    from wfstore.domain import ServerInfo

__all__ = ["HealthExit", "health", "status"]


class HealthExit(IntEnum):
    """``wfstore health``'s exit codes: grpc_health_probe's, for container and Kubernetes probes."""

    SERVING = 0
    CANNOT_CONNECT = 2
    RPC_FAILED = 3
    NOT_SERVING = 4


@click.command()
@click.option("--service", default="", help="A service's status (default: the whole daemon).")
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Seconds to wait for a connection before exit 2.",
)
@output_options
@click.pass_obj
def health(settings: Settings, service: str, connect_timeout: float) -> int:
    """Check the daemon's health: exit 0 serving, 2 cannot connect, 3 RPC failed, 4 not serving.

    Needs no token (the health service is open to probes); TLS options apply.
    """
    import grpc  # noqa: PLC0415 (gRPC loads only when a command needs it)
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    from wfstore._client import DEFAULT_MAX_MESSAGE_BYTES, channel_settings  # noqa: PLC0415
    from wfstore._security import channel_security  # noqa: PLC0415

    security = channel_security(
        settings.address, settings.tls_settings(), None, allow_plaintext_token=False
    )
    options = channel_settings(DEFAULT_MAX_MESSAGE_BYTES, security.options)
    if security.credentials is None:
        channel = grpc.insecure_channel(settings.address, options=options)
    else:
        channel = grpc.secure_channel(settings.address, security.credentials, options=options)
    out = settings.output
    with channel:
        if not _connected(channel, connect_timeout):
            return _report(settings, service, "CANNOT_CONNECT", HealthExit.CANNOT_CONNECT)
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=settings.timeout
            )
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            if out.mode == "text":
                click.echo(f"wfstore: error: health check failed: {code}: {details}", err=True)
            return _report(settings, service, code, HealthExit.RPC_FAILED, quiet=True)
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    return _report(
        settings, service, name, HealthExit.SERVING if serving else HealthExit.NOT_SERVING
    )


def _connected(channel: grpc.Channel, timeout: float) -> bool:
    """Return whether ``channel`` connects within ``timeout`` s (False at its first failure)."""
    import grpc  # noqa: PLC0415

    settled = threading.Event()
    ready: list[bool] = []

    def watch(state: grpc.ChannelConnectivity) -> None:
        if state is grpc.ChannelConnectivity.READY:
            ready.append(True)
            settled.set()
        elif state in {
            grpc.ChannelConnectivity.TRANSIENT_FAILURE,
            grpc.ChannelConnectivity.SHUTDOWN,
        }:
            settled.set()

    channel.subscribe(watch, try_to_connect=True)
    try:
        settled.wait(timeout)
    finally:
        channel.unsubscribe(watch)
    return bool(ready)


def _report(
    settings: Settings, service: str, status_name: str, code: HealthExit, *, quiet: bool = False
) -> int:
    out = settings.output
    if out.mode != "text":
        out.json({"address": settings.address, "service": service, "status": status_name})
    elif code is HealthExit.CANNOT_CONNECT:
        click.echo(f"wfstore: error: cannot connect to {settings.address}", err=True)
    elif not quiet:
        out.line(status_name, "bold green" if code is HealthExit.SERVING else "bold red")
    return int(code)


@click.command()
@output_options
@click.pass_obj
def status(settings: Settings) -> int:
    """Show the daemon's version, uptime, listeners and what each store holds."""
    with settings.connect() as client:
        info = client.server_info()
    out = settings.output
    if out.mode != "text":
        out.json(server_info_json(info))
        return 0
    _print_status(settings, info)
    return 0


def _print_status(settings: Settings, info: ServerInfo) -> None:
    out = settings.output
    started = format_time(info.started_at, out.time_style)
    uptime_ms = int(info.uptime.total_seconds() * 1000)
    out.line(f"wfstored {info.version} on {info.hostname} (pid {info.pid})", "bold")
    out.line(
        f"started    {started} (up {format_duration_ms(uptime_ms)}, {iso_time(info.started_at)})"
    )
    out.line(f"listening  {', '.join(info.listeners)}")
    out.line(f"watches    {info.open_watches} open")
    out.line("")
    rows = [
        [
            store.role,
            store.backend,
            store.location,
            "-" if store.item_count is None else str(store.item_count),
            format_bytes(store.size_bytes),
            store.error,
        ]
        for store in info.stores
    ]
    headers = ["STORE", "BACKEND", "LOCATION", "ITEMS", "SIZE", "ERROR"]
    if not any(store.error for store in info.stores):
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    out.table(headers, rows, styles=lambda row: "red" if len(row) > 5 and row[5] else "")
