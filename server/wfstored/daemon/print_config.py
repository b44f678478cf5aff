"""``wfstored --print-config``: every effective setting, its value and where it came from.

The output is itself a valid config file: one ``key = value`` line per setting, its source as
a comment (``flag --x``, ``env WFSTORE_X``, ``file PATH`` or ``default``); unset settings are
commented out. A password in a URL or a ``password=`` connection-string parameter is shown
as ``***``.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
from collections.abc import Mapping
from typing import Final

import wfstore

from wfstored.daemon.flags import flag_parser
from wfstored.daemon.settings import Setting, Value, option_shapes

__all__ = ["print_settings", "redact", "render_settings"]

_COMMENT_COLUMN: Final = 44
_HIDDEN: Final = "***"
_NUMBER: Final = re.compile(r"^(0|[1-9][0-9]{0,17})(\.[0-9]+)?$")
_CONNINFO_PASSWORD: Final = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact(text: str) -> str:
    """Return ``text`` with any password it holds (URL userinfo, ``password=``) hidden."""
    text = _CONNINFO_PASSWORD.sub(rf"\g<1>{_HIDDEN}", text)
    if "://" not in text:
        return text
    try:
        parts = urllib.parse.urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not password:
        return text
    netloc = parts.netloc.replace(f":{password}@", f":{_HIDDEN}@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _toml(value: Value, *, switch: bool) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(redact(item)) for item in value) + "]"
    if value is None:
        return ""
    if switch:
        return "true" if value.strip().lower() in {"1", "true", "yes", "on"} else "false"
    if _NUMBER.match(value):
        return value  # a TOML integer or float, read back as the same text
    return json.dumps(redact(value))


def render_settings(settings: Mapping[str, Setting], switches: frozenset[str]) -> str:
    """Return the settings as config-file lines with their sources; ``switches`` are booleans."""
    title = f"# wfstored {wfstore.__version__}: effective settings"
    lines = [f"{title} (flag > environment > config file > default)"]
    for key, setting in settings.items():
        if setting.value is None:
            line = f"# {key} is not set"
        else:
            line = f"{key} = {_toml(setting.value, switch=key in switches)}"
        lines.append(f"{line.ljust(_COMMENT_COLUMN)} # {setting.source}")
    return "\n".join(lines) + "\n"


def print_settings(settings: Mapping[str, Setting]) -> None:
    """Write :func:`render_settings` of wfstored's settings to standard output."""
    shapes = option_shapes(flag_parser())
    switches = frozenset(key for key, shape in shapes.items() if shape.kind == "switch")
    sys.stdout.write(render_settings(settings, switches))
