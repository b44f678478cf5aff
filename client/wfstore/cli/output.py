"""Where results go: text (tables with colour on a terminal, plain when piped), JSON, JSON lines.

rich is imported only when stdout or stderr is a terminal, so piped runs stay light.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson

__all__ = ["Output", "OutputMode", "output_options"]

OutputMode = Literal["text", "json", "jsonl"]
F = TypeVar("F", bound=Callable[..., Any])


def output_options(command: F) -> F:
    """Accept ``-o`` and ``--time-format`` after the command too (they override the global ones)."""
    import click  # noqa: PLC0415 (the command line imports it anyway)

    def override(attribute: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
        def apply(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
            del param
            if value is not None:
                setattr(ctx.obj.output, attribute, value)

        return apply

    command = click.option(
        "--time-format",
        type=click.Choice(["relative", "iso"]),
        expose_value=False,
        callback=override("time_style"),
        help="As the global option.",
    )(command)
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json", "jsonl"]),
        expose_value=False,
        callback=override("mode"),
        help="As the global option: text, json or jsonl.",
    )(command)


@dataclass
class Output:
    """Writes one command's results in the chosen mode."""

    mode: OutputMode
    """``text``, ``json`` (one document) or ``jsonl`` (one document per line)."""
    time_style: str = "relative"
    """How text shows times: ``relative`` or ``iso`` (JSON is always ISO)."""
    tty: bool = field(default_factory=lambda: sys.stdout.isatty())  # noqa: PLW0108 (now's stdout)
    """Whether stdout is a terminal: tables get colour and rules."""
    err_tty: bool = field(default_factory=lambda: sys.stderr.isatty())  # noqa: PLW0108
    """Whether stderr is a terminal: progress bars and prompts are shown."""

    def json(self, value: object, *, one_line: bool = False) -> None:
        """Write ``value`` as indented JSON (``json``) or on one line (``jsonl``, ``one_line``)."""
        option = orjson.OPT_INDENT_2 if self.mode == "json" and not one_line else 0
        sys.stdout.write(orjson.dumps(value, option=option).decode() + "\n")
        sys.stdout.flush()

    def line(self, text: str, style: str = "") -> None:
        """Write one line of text (in ``style`` on a terminal)."""
        if self.tty and style:
            self._console().print(text, style=style, highlight=False, soft_wrap=True)
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """Write a remark for people to stderr (``20 of 130 shown``); dim on a terminal."""
        if self.err_tty:
            self._console(stderr=True).print(text, style="dim", highlight=False)
        else:
            sys.stderr.write(text + "\n")

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        styles: Callable[[Sequence[str]], str] | None = None,
    ) -> None:
        """Write aligned columns: a rich table on a terminal, spaces between columns when piped.

        ``styles`` gives a row's style on a terminal (e.g. red for a failed run).
        """
        if not self.tty:
            widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
            for row in (headers, *rows):
                cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
                sys.stdout.write("  ".join(cells).rstrip() + "\n")
            sys.stdout.flush()
            return
        from rich.table import Table  # noqa: PLC0415 (only on a terminal)

        table = Table(box=None, header_style="bold", pad_edge=False, highlight=False)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row, style=styles(row) if styles else None)
        self._console().print(table)

    @contextmanager
    def progress(self, total: int | None, what: str) -> Iterator[Callable[[int], None]]:
        """Show a progress bar on a terminal (stderr) while the block runs; yield ``advance``."""
        if not self.err_tty:
            yield lambda _amount: None
            return
        from rich.progress import (  # noqa: PLC0415 (only on a terminal)
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self._console(stderr=True), transient=True) as bar:
            task = bar.add_task(what, total=total)
            yield lambda amount: bar.advance(task, amount)

    def _console(self, *, stderr: bool = False) -> Any:  # noqa: ANN401 (rich.console.Console)
        return _console(stderr=stderr)


@functools.cache
def _console(*, stderr: bool) -> Any:  # noqa: ANN401 (rich.console.Console)
    from rich.console import Console  # noqa: PLC0415 (only on a terminal)

    return Console(stderr=stderr, highlight=False)
