r"""Text with NUL characters in PostgreSQL, which cannot store them, in an order-kept escape.

wfstore accepts any Unicode text, NUL included (SQLite and JSON files keep it), but
PostgreSQL's ``text`` refuses ``\\x00``. Text holding ``\\x00`` or ``\\x01`` is stored with
``\\x00`` as ``\\x01\\x01`` and ``\\x01`` as ``\\x01\\x02``; all other text is stored as it is.
The escape keeps byte order (so ids sort as on every other backend) and is undone on read.
"""

from __future__ import annotations

__all__ = ["escape_text", "unescape_text"]


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
