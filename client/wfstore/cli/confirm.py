"""Asking before destroying: a prompt on a terminal, ``--yes`` everywhere else."""

from __future__ import annotations

import sys

import click

from wfstore.cli.exits import CommandError, Exit

__all__ = ["confirm"]


def confirm(question: str, *, yes: bool, action: str) -> None:
    """Return if the user agrees to ``question`` (or gave ``--yes``); raise CommandError if not.

    Without ``--yes`` and without a terminal on stdin there is nobody to ask: that is refused
    (exit 2) rather than taken as a yes.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(
            f"refusing to {action} without --yes: stdin is not a terminal to confirm on",
            Exit.USAGE,
        )
    if not click.confirm(question, default=False, err=True):
        raise CommandError(f"not confirmed: did not {action}", Exit.USAGE)
