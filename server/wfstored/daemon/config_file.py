"""Reading the daemon's TOML config file (``--config``) into text values, key by key.

The keys are the flags without their dashes (``data-dir = "/var/lib/wfstore"``). A value is
what TOML allows for its option: a string or a number for a flag taking a value, a boolean
for a switch, an array of strings for a repeatable flag. Numbers become their decimal text
and go through the same validators as flags. A relative path in a path option (``DIR``,
``FILE``, ``PEM`` flags, and a plain path as a store URL) is relative to the file's
directory. Unknown keys, tables and wrong types are one-line errors naming the file and key.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

__all__ = ["ConfigFileError", "OptionShape", "read_config_file"]

_URL_KEYS = frozenset({"state-store", "history-store"})
"""Keys holding a store URL: a plain path among them is relative to the file too."""


class ConfigFileError(Exception):
    """The config file cannot be read or holds a bad key; the message names file and key."""


@dataclass(frozen=True, slots=True)
class OptionShape:
    """What a key takes: a value, a switch (boolean) or a list; and whether it is a path."""

    kind: Literal["value", "switch", "list"]
    is_path: bool = False


def _toml_type(value: object) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((datetime, date, time), "a date or time"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a value")


def _has_scheme(text: str) -> bool:
    scheme, colon, _ = text.partition(":")
    return bool(colon) and len(scheme) > 1 and scheme[0].isalpha()


def _resolved(text: str, base: Path) -> str:
    return text if not text or Path(text).is_absolute() else str(base / text)


def _convert(
    name: str, key: str, value: object, shape: OptionShape, base: Path
) -> str | tuple[str, ...]:
    where = f"{name}: {key}"
    if shape.kind == "switch":
        if not isinstance(value, bool):
            raise ConfigFileError(f"{where} must be true or false, not {_toml_type(value)}")
        return "true" if value else "false"
    if shape.kind == "list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigFileError(
                f'{where} must be an array of strings (e.g. {key} = ["...", "..."]), '
                f"not {_toml_type(value)}"
            )
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigFileError(f"{where} must be a string or a number, not {_toml_type(value)}")
    text = value if isinstance(value, str) else str(value)
    if shape.is_path or (key in _URL_KEYS and not _has_scheme(text)):
        return _resolved(text, base)
    return text


def read_config_file(
    path: Path, shapes: Mapping[str, OptionShape]
) -> dict[str, str | tuple[str, ...]]:
    """Return the file's settings as text, by key; raise ConfigFileError naming what is wrong.

    ``shapes`` lists the known keys and what each takes; any other key is an error.
    """
    name = str(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {name}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{name}: not valid TOML: {exc}") from None
    base = path.absolute().parent
    values: dict[str, str | tuple[str, ...]] = {}
    for key, value in document.items():
        shape = shapes.get(key)
        if shape is None:
            close = difflib.get_close_matches(key.replace("_", "-"), list(shapes), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigFileError(
                f"{name}: unknown key {key!r}{hint}; keys are wfstored's flags without the "
                "leading dashes (see wfstored --help)"
            )
        values[key] = _convert(name, key, value, shape, base)
    return values
