"""``wfstore state``: list, show, save, delete and watch execution states."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from wfstore.cli.confirm import confirm
from wfstore.cli.exits import CommandError, Exit
from wfstore.cli.formatting import format_time
from wfstore.cli.jsonable import event_json, state_from_json, state_json, state_text
from wfstore.cli.output import output_options
from wfstore.errors import StoreError

if TYPE_CHECKING:
    from wfstore._client import Client
    from wfstore.cli.app import Settings
    from wfstore.cli.jsonable import StateFormat
    from wfstore.cli.output import Output

__all__ = ["group"]

_PAGE = 1000
_STATE_FORMAT = click.option(
    "--format",
    "form",
    type=click.Choice(["awf", "proto"]),
    default="awf",
    show_default=True,
    help="awf: the awf tool's state file; proto: wfstore.v1.ExecutionContext as JSON.",
)


@click.group("state")
def group() -> None:
    """Manage execution states: one document per workflow id."""


@group.command("ls")
@click.option("--prefix", "-p", default="", help="Only ids starting with this.")
@click.option(
    "--limit", "-n", type=click.IntRange(min=0), default=0, help="At most N ids (0: all)."
)
@output_options
@click.pass_obj
def list_states(settings: Settings, prefix: str, limit: int) -> int:
    """List the workflow ids that have a stored state, in byte order."""
    out = settings.output
    with settings.connect() as client:
        ids = _collect(client, out, prefix, limit)
    if out.mode == "json":
        out.json([{"workflow_id": workflow_id} for workflow_id in ids])
    elif out.mode == "jsonl":
        for workflow_id in ids:
            out.json({"workflow_id": workflow_id})
    else:
        for workflow_id in ids:
            out.line(workflow_id)
    return 0


def _collect(client: Client, out: Output, prefix: str, limit: int) -> list[str]:
    """Page through the ids (with a progress bar on a terminal) and keep the matching ones."""
    total = None
    if out.err_tty:
        try:
            total = client.server_info().stores[0].item_count
        except (StoreError, IndexError):
            total = None  # an indeterminate bar then
    ids: list[str] = []
    token = ""
    with out.progress(total, "listing states") as advance:
        while True:
            page = client.state.list_page(_PAGE, token)
            advance(len(page.items))
            for workflow_id in page.items:
                if workflow_id.startswith(prefix):
                    ids.append(workflow_id)
                    if limit and len(ids) >= limit:
                        return ids
                elif workflow_id > prefix:
                    return ids  # ids come in byte order: none after this can match
            token = page.next_page_token
            if not token:
                return ids


@group.command("get")
@click.argument("workflow_id")
@click.option("--version", "version_only", is_flag=True, help="Print only its version.")
@_STATE_FORMAT
@output_options
@click.pass_obj
def get_state(settings: Settings, workflow_id: str, version_only: bool, form: StateFormat) -> int:
    """Show the state of WORKFLOW_ID as JSON: the awf tool's state file (or --format proto)."""
    out = settings.output
    with settings.connect() as client:
        stored = client.state.get(workflow_id)
    if stored is None:
        raise CommandError(f"no state stored for workflow id {workflow_id!r}", Exit.NOT_FOUND)
    if out.mode != "text":
        document = {"workflow_id": workflow_id, "version": stored.version}
        if not version_only:
            document["state"] = state_json(stored.state, form)
        out.json(document)
    elif version_only:
        out.line(str(stored.version))
    else:
        _print_document(out, state_text(stored.state, form))
    return 0


def _print_document(out: Output, text: str) -> None:
    if not out.tty:
        sys.stdout.write(text + "\n")
        return
    from rich.json import JSON  # noqa: PLC0415 (only on a terminal)

    from wfstore.cli.output import _console  # noqa: PLC0415 (the shared console)

    _console(stderr=False).print(JSON(text))


@group.command("put")
@click.argument("workflow_id")
@click.option(
    "--expected-version",
    type=click.IntRange(min=0),
    help="Save only if the stored version is this one (0: only if nothing is stored).",
)
@_STATE_FORMAT
@output_options
@click.pass_obj
def put_state(
    settings: Settings, workflow_id: str, expected_version: int | None, form: StateFormat
) -> int:
    """Save the state read from stdin (as `state get` prints it) under WORKFLOW_ID."""
    if sys.stdin.isatty():
        raise CommandError(
            "pipe the state into stdin: wfstore state put ID < state.json", Exit.USAGE
        )
    text = sys.stdin.read()
    try:
        state = state_from_json(text, workflow_id, form)
    except ValueError as exc:
        raise CommandError(f"stdin: {exc}", Exit.USAGE) from None
    with settings.connect() as client:
        version = client.state.save(state, expected_version=expected_version)
    out = settings.output
    if out.mode != "text":
        out.json({"workflow_id": workflow_id, "version": version})
    else:
        out.line(f"saved {workflow_id} (version {version})")
    return 0


@group.command("rm")
@click.argument("workflow_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--expected-version", type=click.IntRange(min=1), help="Delete only if this is its version."
)
@output_options
@click.pass_obj
def remove_state(
    settings: Settings, workflow_id: str, yes: bool, expected_version: int | None
) -> int:
    """Delete the state of WORKFLOW_ID (asks first on a terminal unless --yes)."""
    with settings.connect() as client:
        stored = client.state.get(workflow_id)
        if stored is None:
            raise CommandError(f"no state stored for workflow id {workflow_id!r}", Exit.NOT_FOUND)
        confirm(
            f"Delete the state of {workflow_id} (version {stored.version})?",
            yes=yes,
            action=f"delete the state of {workflow_id!r}",
        )
        if expected_version is None and not yes:
            # Delete what the user agreed to: a state saved since the question is kept (exit 4).
            expected_version = stored.version
        client.state.delete(workflow_id, expected_version=expected_version)
    out = settings.output
    if out.mode != "text":
        out.json({"workflow_id": workflow_id, "deleted": True})
    else:
        out.line(f"deleted {workflow_id}")
    return 0


@group.command("watch")
@click.option("--prefix", "-p", default="", help="Only ids starting with this.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N events.")
@output_options
@click.pass_obj
def watch_states(settings: Settings, prefix: str, count: int | None) -> int:
    """Print every save and delete as it happens, one line each, until interrupted."""
    out = settings.output
    seen = 0
    with settings.connect() as client, client.state.watch(prefix) as watch:
        try:
            for event in watch:
                if out.mode == "text":
                    status = f" {event.state.status}" if event.state is not None else ""
                    updated = event.state.updated_at if event.state is not None else None
                    when = f"  {format_time(updated, out.time_style)}" if updated else ""
                    style = "green" if event.kind == "saved" else "yellow"
                    out.line(
                        f"{event.kind:<7} {event.workflow_id}  v{event.version}{status}{when}",
                        style,
                    )
                else:
                    out.json(event_json(event), one_line=True)
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            return 0
    return 0
