"""``wfstore history``: list runs, aggregate them, and clean old ones up."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from wfstore.cli.confirm import confirm
from wfstore.cli.exits import CommandError, Exit
from wfstore.cli.formatting import (
    format_duration_ms,
    format_time,
    iso_time,
    parse_duration,
    parse_time_bound,
)
from wfstore.cli.jsonable import record_json, stats_json
from wfstore.cli.output import output_options
from wfstore.domain import HistoryFilter, HistoryGrouping, HistoryStats
from wfstore.timestamps import from_unix_nanos, to_unix_nanos

if TYPE_CHECKING:
    from wfstore._client import Client
    from wfstore.cli.app import Settings
    from wfstore.domain import ExecutionRecord

__all__ = ["group"]

DEFAULT_LIMIT: Final = 20
"""Records ``history ls`` shows without ``-n`` (the store's own default)."""
_PAGE: Final = 1000
_BIG_CLEANUP: Final = 5000
"""From this many records on, a cleanup on a terminal deletes in time slices with a progress bar."""
_SLICES: Final = 20
_FAILED: Final = frozenset({"failed", "failure", "error", "cancelled", "canceled", "timeout"})
F = TypeVar("F", bound=Callable[..., Any])


@click.group("history")
def group() -> None:
    """Inspect execution history: one record per finished run."""


class _Parsed(click.ParamType):  # type: ignore[type-arg]
    """A value read by a parser that raises ValueError with the message for the user."""

    def __init__(self, name: str, parse: Callable[[str], object]) -> None:
        """Read values with ``parse``; ``name`` is what ``--help`` shows (``WHEN``)."""
        self.name = name
        self._parse = parse

    def convert(
        self,
        value: Any,  # noqa: ANN401 (whatever the command line or a default gave)
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> Any:  # noqa: ANN401 (what the parser returns)
        """Parse ``value``; a usage error says what is accepted."""
        if not isinstance(value, str):
            return value  # converted already (a default, or click's second pass)
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_WHEN: Final = _Parsed("WHEN", parse_time_bound)
"""A ``--since``/``--until`` value: ``24h`` (that long ago) or an ISO date or time."""
_DURATION: Final = _Parsed("DURATION", parse_duration)
"""A duration: ``30d``, ``24h``, ``90m``, ``1.5h``."""


def _filters(command: F) -> F:
    """Add awf's filter flags: -w WORKFLOW, -s STATUS, --since, --until."""
    options = (
        click.option("--workflow", "-w", default="", help="Only runs of this workflow."),
        click.option("--status", "-s", default="", help="Only runs with this status."),
        click.option("--since", type=_WHEN, help="Completed at or after: 24h, 2026-11-01."),
        click.option("--until", type=_WHEN, help="Completed at or before (same forms)."),
    )
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def _filter(
    workflow: str, status: str, since: datetime | None, until: datetime | None, limit: int = 0
) -> HistoryFilter:
    return HistoryFilter(
        workflow_name=workflow, status=status, since=since, until=until, limit=limit
    )


@group.command("ls")
@_filters
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most N records, newest first.",
)
@output_options
@click.pass_obj
def list_history(  # noqa: PLR0913 (one parameter per flag)
    settings: Settings,
    *,
    workflow: str,
    status: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> int:
    """List finished runs, newest first (20 unless -n)."""
    out = settings.output
    wanted = _filter(workflow, status, since, until, limit)
    with settings.connect() as client:
        total = client.history.get_stats(wanted).total_executions
        records = _collect(client, settings, wanted, min(limit, total))
    if out.mode == "json":
        out.json([record_json(record) for record in records])
    elif out.mode == "jsonl":
        for record in records:
            out.json(record_json(record))
    else:
        _print_records(settings, records)
    if out.mode == "text" or out.err_tty:
        out.note(f"{len(records)} of {total} shown")
    return 0


def _collect(
    client: Client, settings: Settings, wanted: HistoryFilter, expected: int
) -> list[ExecutionRecord]:
    records: list[ExecutionRecord] = []
    token = ""
    show = expected > _PAGE  # a bar only for a long listing
    with settings.output.progress(expected if show else 0, "listing records") as advance:
        while len(records) < wanted.limit:
            size = min(_PAGE, wanted.limit - len(records))
            page = client.history.list_page(wanted, size, token)
            records.extend(page.items)
            if show:
                advance(len(page.items))
            token = page.next_page_token
            if not token:
                break
    return records[: wanted.limit]


def _print_records(settings: Settings, records: list[ExecutionRecord]) -> None:
    style = settings.output.time_style
    now = datetime.now(UTC)
    rows = [
        [
            record.id,
            record.workflow_name,
            record.status,
            str(record.exit_code),
            format_time(record.completed_at, style, now),
            format_duration_ms(record.duration_ms),
            record.error_message.replace("\n", " "),
        ]
        for record in records
    ]
    headers = ["ID", "WORKFLOW", "STATUS", "EXIT", "COMPLETED", "DURATION", "ERROR"]
    settings.output.table(headers, rows, styles=_row_style)


def _row_style(row: list[str] | Any) -> str:  # noqa: ANN401 (a table row)
    return "red" if row[2] in _FAILED else ""


@group.command("stats")
@_filters
@click.option(
    "--by", "by", type=click.Choice(["workflow"]), help="One line per workflow, then the total."
)
@click.option(
    "--no-percentiles",
    is_flag=True,
    help="Leave out P50/P95/P99: a cost that does not grow with the runs matched.",
)
@output_options
@click.pass_obj
def history_stats(  # noqa: PLR0913 (one parameter per flag)
    settings: Settings,
    *,
    workflow: str,
    status: str,
    since: datetime | None,
    until: datetime | None,
    by: str | None,
    no_percentiles: bool,
) -> int:
    """Aggregate the matching runs: counts, durations, and statuses."""
    out = settings.output
    wanted = _filter(workflow, status, since, until)
    percentiles = not no_percentiles
    with settings.connect() as client:
        if by is None:
            groups: list[tuple[str, HistoryStats]] = []
            total = client.history.get_stats(wanted, percentiles=percentiles)
        else:
            groups, total = _breakdown(client, wanted, percentiles=percentiles)
    if out.mode != "text":
        if by is None:
            out.json(stats_json(total))
        else:
            document = {
                "groups": [{"workflow_name": key, **stats_json(stats)} for key, stats in groups],
                "total": stats_json(total),
            }
            out.json(document)
        return 0
    _print_stats(settings, groups, total, grouped=by is not None, percentiles=percentiles)
    return 0


def _breakdown(
    client: Client, wanted: HistoryFilter, *, percentiles: bool
) -> tuple[list[tuple[str, HistoryStats]], HistoryStats]:
    breakdown = client.history.get_stats_breakdown(
        wanted, group_by=HistoryGrouping.WORKFLOW_NAME, percentiles=percentiles
    )
    return [(group.key, group.stats) for group in breakdown.groups], breakdown.total


_STAT_COLUMNS: Final = (
    ("RUNS", "total_executions", str),
    ("OK", "success_count", str),
    ("FAILED", "failed_count", str),
    ("CANCELLED", "cancelled_count", str),
    ("AVG", "avg_duration_ms", format_duration_ms),
    ("MIN", "min_duration_ms", format_duration_ms),
    ("P50", "p50_duration_ms", format_duration_ms),
    ("P95", "p95_duration_ms", format_duration_ms),
    ("P99", "p99_duration_ms", format_duration_ms),
    ("MAX", "max_duration_ms", format_duration_ms),
)
_PERCENTILE_COLUMNS: Final = frozenset({"P50", "P95", "P99"})


def _print_stats(
    settings: Settings,
    groups: list[tuple[str, HistoryStats]],
    total: HistoryStats,
    *,
    grouped: bool,
    percentiles: bool,
) -> None:
    columns = [
        column for column in _STAT_COLUMNS if percentiles or column[0] not in _PERCENTILE_COLUMNS
    ]

    def cells(stats: HistoryStats) -> list[str]:
        return [render(getattr(stats, attribute)) for _, attribute, render in columns]

    headers = [name for name, _, _ in columns]
    if grouped:
        rows = [[key, *cells(stats)] for key, stats in groups]
        rows.append(["(all)", *cells(total)])
        settings.output.table(["WORKFLOW", *headers], rows)
    else:
        settings.output.table(headers, [cells(total)])
    counts = total.status_counts
    if counts:
        listed = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        settings.output.line(f"statuses: {listed}")


@group.command("cleanup")
@click.option(
    "--older-than",
    required=True,
    type=_DURATION,
    help="Delete runs completed longer ago than this: 30d, 12h.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output_options
@click.pass_obj
def cleanup(settings: Settings, older_than: timedelta, dry_run: bool, yes: bool) -> int:
    """Delete the runs that completed more than --older-than ago."""
    out = settings.output
    if older_than <= timedelta(0):
        raise CommandError("--older-than must be more than 0", Exit.USAGE)
    with settings.connect() as client:
        cutoff = datetime.now(UTC) - older_than
        count = _count_before(client, cutoff)
        if dry_run:
            _report(settings, count, cutoff, dry_run=True)
            return 0
        if count == 0:
            _report(settings, 0, cutoff, dry_run=False)
            return 0
        confirm(
            f"Delete {count} history records completed before {iso_time(cutoff)}?",
            yes=yes,
            action=f"delete {count} history records",
        )
        if out.err_tty and count >= _BIG_CLEANUP:
            deleted = _sliced_cleanup(client, settings, older_than, count)
        else:
            deleted = client.history.cleanup(older_than)
    _report(settings, deleted, cutoff, dry_run=False)
    return 0


def _count_before(client: Client, cutoff: datetime) -> int:
    """Count the records Cleanup would delete: completed strictly before ``cutoff``."""
    until = from_unix_nanos(to_unix_nanos(cutoff) - 1)  # GetStats' until is inclusive
    return client.history.get_stats(HistoryFilter(until=until)).total_executions


def _sliced_cleanup(client: Client, settings: Settings, older_than: timedelta, count: int) -> int:
    """Delete oldest first, in time slices, advancing a progress bar; the last slice is exact."""
    cutoff = datetime.now(UTC) - older_than
    span = timedelta(days=1)
    while _count_before(client, cutoff - span) and span < timedelta(days=365 * 1000):
        span *= 2  # back until nothing is older: the oldest slice starts there
    deleted = 0
    with settings.output.progress(count, "deleting records") as advance:
        for index in range(1, _SLICES):
            extra = span * (_SLICES - index) / _SLICES  # older than the cutoff by this much
            removed = client.history.cleanup(older_than + extra)
            deleted += removed
            advance(removed)
        removed = client.history.cleanup(older_than)
        deleted += removed
        advance(removed)
    return deleted


def _report(settings: Settings, count: int, cutoff: datetime, *, dry_run: bool) -> None:
    out = settings.output
    if out.mode != "text":
        key = "would_delete" if dry_run else "deleted_count"
        out.json({key: count, "completed_before": iso_time(cutoff), "dry_run": dry_run})
    elif dry_run:
        out.line(f"would delete {count} records completed before {iso_time(cutoff)}")
    else:
        out.line(f"deleted {count} records completed before {iso_time(cutoff)}")
