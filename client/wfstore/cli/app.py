"""The ``wfstore`` group: global options, the connection they describe, and error handling.

Every failure ends as one line on stderr and an exit code from :class:`~wfstore.cli.exits.Exit`;
no traceback reaches the terminal (``WFSTORE_DEBUG=1`` shows it, for bug reports).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from wfstore.cli import history, state
from wfstore.cli.exits import CommandError, Exit, exit_for_error
from wfstore.cli.output import Output, OutputMode
from wfstore.errors import StoreError

if TYPE_CHECKING:
    from wfstore._client import Client
    from wfstore._security import TLS

__all__ = ["DEFAULT_ADDRESS", "Settings", "cli", "main"]

DEFAULT_ADDRESS: Final = "127.0.0.1:50551"
"""Where ``wfstore`` looks for the daemon unless told otherwise (the daemon's default)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The global options: how to reach the daemon and how to show results."""

    address: str
    timeout: float
    output: Output
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_server_name: str | None = None
    tls: bool = False
    token_file: Path | None = None
    allow_plaintext_token: bool = False

    def connect(self) -> Client:
        """Return a client for the daemon (connecting lazily); usage errors raise here."""
        from wfstore._client import Client  # noqa: PLC0415 (gRPC loads only when needed)

        return Client(
            self.address,
            timeout=self.timeout,
            tls=self.tls_settings(),
            token=self.token(),
            allow_plaintext_token=self.allow_plaintext_token,
        )

    def tls_settings(self) -> TLS | None:
        """Return the client's TLS settings, or None for a plaintext channel."""
        wanted = (self.tls_ca, self.tls_cert, self.tls_key, self.tls_server_name)
        if not self.tls and all(value is None for value in wanted):
            return None
        from wfstore._security import TLS  # noqa: PLC0415 (gRPC loads only when needed)

        return TLS(
            ca=self.tls_ca, cert=self.tls_cert, key=self.tls_key, server_name=self.tls_server_name
        )

    def token(self) -> str | None:
        """Return the token: the first line of the token file that is not blank or a comment."""
        if self.token_file is None:
            return None
        try:
            text = self.token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise CommandError(
                f"cannot read token file {self.token_file}: {reason}", Exit.USAGE
            ) from None
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                return line
        raise CommandError(f"token file {self.token_file} holds no token", Exit.USAGE)


_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="wfstore", prog_name="wfstore")
@click.option(
    "--address",
    "-a",
    envvar="WFSTORE_ADDRESS",
    default=DEFAULT_ADDRESS,
    show_default=True,
    help="The daemon: host:port, unix:///path, or several (ipv4:a:1,b:2 or dns:///name:port).",
)
@click.option(
    "--timeout",
    envvar="WFSTORE_TIMEOUT",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds each call may take.",
)
@click.option(
    "--output",
    "-o",
    envvar="WFSTORE_OUTPUT",
    type=click.Choice(["text", "json", "jsonl"]),
    default="text",
    show_default=True,
    help="text (tables; colour on a terminal), json, or jsonl (one document per line).",
)
@click.option(
    "--time-format",
    envvar="WFSTORE_TIME_FORMAT",
    type=click.Choice(["relative", "iso"]),
    default="relative",
    show_default=True,
    help="How text output shows times (JSON is always ISO 8601).",
)
@click.option("--tls", is_flag=True, envvar="WFSTORE_TLS", help="Use TLS (system CAs).")
@click.option("--tls-ca", envvar="WFSTORE_TLS_CA", type=_FILE, help="Trust this CA (PEM).")
@click.option(
    "--tls-cert", envvar="WFSTORE_TLS_CLIENT_CERT", type=_FILE, help="Client certificate (mTLS)."
)
@click.option("--tls-key", envvar="WFSTORE_TLS_CLIENT_KEY", type=_FILE, help="Its private key.")
@click.option(
    "--tls-server-name",
    envvar="WFSTORE_TLS_SERVER_NAME",
    help="The name the daemon's certificate must carry, if not the address's host.",
)
@click.option(
    "--token-file",
    envvar="WFSTORE_TOKEN_FILE",
    type=_FILE,
    help="Read the token from this file (never give a secret on the command line).",
)
@click.option(
    "--allow-plaintext-token",
    is_flag=True,
    envvar="WFSTORE_ALLOW_PLAINTEXT_TOKEN",
    help="Send the token without TLS to another machine (trusted networks only).",
)
@click.pass_context
def cli(  # noqa: PLR0913 (one parameter per global option)
    ctx: click.Context,
    *,
    address: str,
    timeout: float,
    output: OutputMode,
    time_format: str,
    tls: bool,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_server_name: str | None,
    token_file: Path | None,
    allow_plaintext_token: bool,
) -> None:
    """Inspect and manage a wfstored daemon: its health, states and run history.

    Exit codes: 0 ok, 1 not found, 2 usage, 3 unavailable, 4 conflict, 5 other error
    (`wfstore health` uses grpc_health_probe's: 0 serving, 2 cannot connect, 3 RPC failed,
    4 not serving).
    """
    ctx.obj = Settings(
        address=address,
        timeout=timeout,
        output=Output(output, time_format),
        tls=tls,
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_server_name=tls_server_name,
        token_file=token_file,
        allow_plaintext_token=allow_plaintext_token,
    )


def _register() -> None:
    from wfstore.cli import daemon  # noqa: PLC0415 (kept beside the other groups)

    cli.add_command(daemon.health)
    cli.add_command(daemon.status)
    cli.add_command(state.group)
    cli.add_command(history.group)


_register()


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"wfstore: error: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 (one exit per kind of failure)
    """Run ``wfstore`` with ``argv`` (default: the process's); return the exit code."""
    debug = os.environ.get("WFSTORE_DEBUG") == "1"
    try:
        result = cli.main(args=argv, prog_name="wfstore", standalone_mode=False)
    except click.exceptions.Abort:
        return _fail("aborted", Exit.USAGE)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        return _fail(f"{exc.format_message()}{hint}".replace("\n", " "), Exit.USAGE)
    except CommandError as exc:
        return _fail(exc.message, exc.code)
    except StoreError as exc:
        code = exit_for_error(exc)
        prefix = "the daemon is unavailable: " if code is Exit.UNAVAILABLE else ""
        return _fail(prefix + exc.message.replace("\n", " "), code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # The reader went away (``wfstore ... | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return Exit.OK
    except Exception as exc:
        if debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (WFSTORE_DEBUG=1 shows more)", 5)
    return int(result or 0)


def run() -> None:
    """Run ``wfstore`` and exit with its code (the console script)."""
    sys.exit(main())
