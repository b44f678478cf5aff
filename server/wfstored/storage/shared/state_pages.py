"""Pages of workflow ids, the same on every state backend: sizes, tokens and where they resume.

Ids are listed in ascending code-point order (UTF-8 byte order); a page token holds the last id
returned, so a token issued by one state backend resumes on any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from wfstore.domain import Page
from wfstore.errors import InvalidArgumentError

from wfstored.storage.shared.page_tokens import (
    decode_page_token,
    encode_page_token,
    page_size_or_default,
)

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "page_of_ids", "resume_after", "state_page_size"]

DEFAULT_PAGE_SIZE: Final = 1000
"""The page size of ``list_page`` when the caller asks for 0."""
MAX_PAGE_SIZE: Final = 10000
"""The largest page of ids ``list_page`` returns, whatever the caller asks for."""
_BINDING: Final = "state"


def state_page_size(page_size: int) -> int:
    """Return the page size to use for a (checked) requested size."""
    return page_size_or_default(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def resume_after(page_token: str) -> str | None:
    """Return the id a page token resumes after, or None for the first page."""
    position = decode_page_token(page_token, _BINDING)
    if position is None:
        return None
    after = position.get("after")
    if not isinstance(after, str) or not after:
        raise InvalidArgumentError("invalid page_token: not a token this service issued")
    return after


def page_of_ids(ids: Sequence[str], *, more: bool) -> Page[str]:
    """Return the page of ``ids``, with a token to resume after the last when ``more``."""
    items = list(ids)
    token = encode_page_token({"after": items[-1]}, _BINDING) if more and items else ""
    return Page(items=items, next_page_token=token)
