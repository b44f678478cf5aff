"""Where each setting comes from: a flag, then its variable, then the config file, then default.

Nothing here knows wfstored's options: the layering reads them off the argument parser, so a
flag added to the parser is at once a ``WFSTORE_*`` variable and a config-file key. For a flag
``--max-message-bytes`` (destination ``max_message_bytes``):

- the variable is ``WFSTORE_MAX_MESSAGE_BYTES``; empty counts as unset;
- the file key is ``max-message-bytes`` (the flag without its dashes);
- a repeatable flag (``action="append"``) is a comma-separated variable and an array key;
- a switch (``store_const``, e.g. ``--insecure``) is ``true``/``false`` in both.

Values stay text (or tuples of text) here: the daemon's own validators check them, whichever
layer they came from, and name that layer in their errors (see :attr:`Setting.label`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from wfstored.daemon.config_file import OptionShape, read_config_file

__all__ = [
    "ENV_PREFIX",
    "NOT_IN_FILE",
    "Setting",
    "Value",
    "env_name",
    "file_key",
    "layer_settings",
    "option_shapes",
]

ENV_PREFIX: Final = "WFSTORE_"
"""What every variable's name starts with."""
NOT_IN_FILE: Final = frozenset({"help", "version", "config", "print_config"})
"""Destinations that are commands or name the file itself: no file key, not layered."""
_PATH_METAVARS: Final = frozenset({"DIR", "FILE", "PATH", "PEM"})
"""A flag with one of these metavars takes a path: relative in the file means to the file."""

Value = str | tuple[str, ...] | None
"""A setting's value as text: one string, the strings of a repeatable flag, or unset."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective setting: its value and the layer it came from."""

    key: str
    """The config-file key (``data-dir``)."""
    value: Value
    """The value as text, before validation (relative file paths already resolved)."""
    source: str
    """``flag --x``, ``env WFSTORE_X``, ``file PATH`` or ``default``."""

    @property
    def flag(self) -> str:
        """The flag (``--data-dir``)."""
        return f"--{self.key}"

    @property
    def label(self) -> str:
        """How errors name the setting: the flag, the variable, or ``FILE: key``."""
        kind, _, where = self.source.partition(" ")
        if kind == "env":
            return where
        if kind == "file":
            return f"{where}: {self.key}"
        return self.flag


def env_name(dest: str) -> str:
    """Return the variable of a parser destination (``data_dir`` -> ``WFSTORE_DATA_DIR``)."""
    return ENV_PREFIX + dest.upper()


def file_key(dest: str) -> str:
    """Return the config-file key of a parser destination (``data_dir`` -> ``data-dir``)."""
    return dest.replace("_", "-")


def _layered(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.dest not in NOT_IN_FILE]  # noqa: SLF001 (argparse has no public list)


def option_shapes(parser: argparse.ArgumentParser) -> dict[str, OptionShape]:
    """Return, by file key, what TOML value each layered option takes."""
    shapes: dict[str, OptionShape] = {}
    for action in _layered(parser):
        kind: Literal["value", "switch", "list"]
        if isinstance(action, argparse._AppendAction):  # noqa: SLF001 (no public name)
            kind = "list"
        elif action.nargs == 0:
            kind = "switch"
        else:
            kind = "value"
        shapes[file_key(action.dest)] = OptionShape(
            kind=kind, is_path=action.metavar in _PATH_METAVARS
        )
    return shapes


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _default(action: argparse.Action) -> Value:
    default = action.default
    if default is None:
        return None
    if isinstance(default, (list, tuple)):
        return tuple(str(item) for item in default)
    return str(default)


def layer_settings(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    environ: Mapping[str, str],
) -> tuple[dict[str, Setting], argparse.Namespace]:
    """Return every layered option's effective setting, by file key, and the parsed flags.

    Precedence: a flag given, then its (non-empty) variable, then the config file named by
    ``--config`` or ``WFSTORE_CONFIG``, then the parser's default. The namespace holds only
    what was given on the command line (``config``, ``print_config`` among them).
    """
    actions = _layered(parser)
    defaults = {action.dest: _default(action) for action in actions}
    for action in parser._actions:  # noqa: SLF001 (argparse has no public list)
        if action.dest not in {"help", "version"}:
            action.default = argparse.SUPPRESS  # absent from the namespace unless given
    given = parser.parse_args(list(argv))
    config_path = getattr(given, "config", None) or environ.get(ENV_PREFIX + "CONFIG") or None
    from_file: Mapping[str, Value] = {}
    shown_path = str(Path(config_path).absolute()) if config_path else ""
    if config_path:
        from_file = read_config_file(Path(shown_path), option_shapes(parser))
    settings: dict[str, Setting] = {}
    for action in actions:
        key, env = file_key(action.dest), env_name(action.dest)
        flag = action.option_strings[-1]
        if hasattr(given, action.dest):
            raw = getattr(given, action.dest)
            value: Value = tuple(raw) if isinstance(raw, list) else str(raw)
            settings[key] = Setting(key, value, f"flag {flag}")
        elif (text := environ.get(env, "").strip()) and (
            not isinstance(action, argparse._AppendAction) or _split(text)  # noqa: SLF001
        ):
            value = _split(text) if isinstance(action, argparse._AppendAction) else text  # noqa: SLF001
            settings[key] = Setting(key, value, f"env {env}")
        elif key in from_file:
            settings[key] = Setting(key, from_file[key], f"file {shown_path}")
        else:
            settings[key] = Setting(key, defaults[action.dest], "default")
    return settings, given
