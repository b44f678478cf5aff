r"""Text with NUL characters in PostgreSQL, which cannot store them, in an order-kept escape.

wfstore accepts any Unicode text, NUL included (SQLite and JSON files keep it), but
PostgreSQL's ``text`` refuses ``\\x00``. Text holding ``\\x00`` or ``\\x01`` is stored with
``\\x00`` as ``\\x01\\x01`` and ``\\x01`` as ``\\x01\\x02``; all other text is stored as it is.
The escape keeps byte order (so ids sort as on every other backend) and is undone on read.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["escape_json", "escape_text", "unescape_json", "unescape_text"]

# In JSON text: an escaped backslash (skipped, so that "\\u0000" is left alone) or the
# escape of NUL or SOH; and, stored, the escapes of the two-character forms.
_JSON_TO_STORE: Final = re.compile(rb"\\\\|\\u000[01]")
_JSON_FROM_STORE: Final = re.compile(r"\\\\|\\u0001\\u000[12]")
_STORED_ESCAPES: Final = {b"\\u0000": b"\\u0001\\u0001", b"\\u0001": b"\\u0001\\u0002"}
_READ_ESCAPES: Final = {"\\u0001\\u0001": "\\u0000", "\\u0001\\u0002": "\\u0001"}


def escape_text(text: str) -> str:
    """Return ``text`` as PostgreSQL stores it."""
    if "\x00" not in text and "\x01" not in text:
        return text
    return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")


def unescape_text(text: str) -> str:
    """Return the text that :func:`escape_text` stored as ``text``."""
    if "\x01" not in text:
        return text
    return text.replace("\x01\x01", "\x00").replace("\x01\x02", "\x01")


def escape_json(document: bytes) -> str:
    """Return a JSON document with the same escape applied inside its strings, as text."""
    if b"\\u000" in document:
        document = _JSON_TO_STORE.sub(lambda m: _STORED_ESCAPES.get(m.group(), m.group()), document)
    return document.decode()


def unescape_json(stored: str) -> bytes:
    """Return the JSON document that :func:`escape_json` stored as ``stored``."""
    if "\\u0001" in stored:
        stored = _JSON_FROM_STORE.sub(lambda m: _READ_ESCAPES.get(m.group(), m.group()), stored)
    return stored.encode()
