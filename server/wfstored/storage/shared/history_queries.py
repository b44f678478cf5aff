"""What every history backend does the same way: filters, keyset pages and statistics.

A filter becomes a ``WHERE`` clause over the shared schema (:func:`where_clause`, in the
backend's placeholder style). Listings are newest first, ordered by ``(completed_at, id)``;
pages are keyset pages: a page token holds the ``(completed_at, id)`` of the last record
returned and how many records the listing has returned so far, bound to the filter it was
issued for (:func:`plan_page` reads it, :meth:`PagePlan.page` issues the next). Statistics are
:mod:`wfstored.storage.shared.history_stats`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

from wfstore.domain import HistoryFilter, Page
from wfstore.errors import InvalidArgumentError

from wfstored.storage.shared.history_schema import (
    INDEX_BY_NAME,
    INDEX_BY_NAME_STATUS,
    INDEX_BY_STATUS,
    INDEX_BY_TIME,
    SELECT_COLUMNS,
    TABLE,
)
from wfstored.storage.shared.page_tokens import (
    decode_page_token,
    encode_page_token,
    page_size_or_default,
)
from wfstored.storage.shared.record_rows import COMPLETED_AT, RECORD_ID, Row
from wfstored.storage.shared.time_text import format_time, parse_time

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PagePlan",
    "Position",
    "index_for",
    "listing_statement",
    "plan_page",
    "where_clause",
]

DEFAULT_LIST_LIMIT: Final = 20
"""How many records ``list`` returns (over all pages) when the filter's limit is 0."""
DEFAULT_PAGE_SIZE: Final = 100
"""The page size of ``list_page`` when the caller asks for 0."""
MAX_PAGE_SIZE: Final = 1000
"""The largest page ``list_page`` returns, whatever the caller asks for."""

ItemT = TypeVar("ItemT")
Position: TypeAlias = tuple[str, str]
"""Where a keyset page resumes: the stored ``(completed_at, id)`` of the last record returned."""


def index_for(history_filter: HistoryFilter) -> str:
    """Return the name of the index that serves ``history_filter``'s shape."""
    if history_filter.workflow_name and history_filter.status:
        return INDEX_BY_NAME_STATUS
    if history_filter.workflow_name:
        return INDEX_BY_NAME
    if history_filter.status:
        return INDEX_BY_STATUS
    return INDEX_BY_TIME


def where_clause(
    history_filter: HistoryFilter, after: Position | None = None, placeholder: str = "?"
) -> tuple[str, list[object]]:
    """Return ``" WHERE ..."`` (or ``""``) and its parameters for a filter and a position."""
    clauses: list[str] = []
    params: list[object] = []
    if history_filter.workflow_name:
        clauses.append(f"workflow_name = {placeholder}")
        params.append(history_filter.workflow_name)
    if history_filter.status:
        clauses.append(f"status = {placeholder}")
        params.append(history_filter.status)
    if history_filter.since is not None:
        clauses.append(f"completed_at >= {placeholder}")
        params.append(format_time(history_filter.since))
    if after is not None:
        # The position is at or before ``until`` (checked when the token is read), so the
        # keyset bound replaces it: given both upper bounds, a database seeks to ``until`` and
        # then filters every row down to the position, which makes deep pages linear.
        clauses.append(f"(completed_at, id) < ({placeholder}, {placeholder})")
        params.extend(after)
    elif history_filter.until is not None:
        clauses.append(f"completed_at <= {placeholder}")
        params.append(format_time(history_filter.until))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


def listing_statement(
    history_filter: HistoryFilter,
    *,
    limit: int,
    after: Position | None = None,
    placeholder: str = "?",
    table_hint: str = "",
) -> tuple[str, list[object]]:
    """Return the SQL and parameters listing matching rows newest first, ``limit`` of them.

    ``table_hint`` follows the table name (SQLite's ``INDEXED BY``); rows come back in the
    column order of the table.
    """
    where, params = where_clause(history_filter, after, placeholder)
    sql = (
        f"SELECT {SELECT_COLUMNS} FROM {TABLE}{table_hint}{where}"  # noqa: S608 (constants and placeholders only)
        f" ORDER BY completed_at DESC, id DESC LIMIT {placeholder}"
    )
    return sql, [*params, limit]


@dataclass(frozen=True, slots=True)
class PagePlan:
    """One page to read: where it resumes, how many rows to fetch, and the token's binding."""

    binding: str
    after: Position | None
    returned: int
    """How many records earlier pages returned."""
    size: int
    """How many records this page returns at most."""
    last_page: bool
    """Whether the filter's limit ends the listing with this page."""

    @property
    def fetch(self) -> int:
        """How many rows to ask for: one extra tells whether another page exists."""
        return self.size if self.last_page else self.size + 1

    def page(self, rows: Sequence[Row], decode: Callable[[Row], ItemT]) -> Page[ItemT]:
        """Return the page of the rows fetched (newest first), with the next page's token.

        ``decode`` makes an item of a row (a record, or its fields).
        """
        items = [decode(row) for row in rows[: self.size]]
        if self.last_page or len(rows) <= self.size:
            return Page(items=items)
        last = rows[self.size - 1]
        position = {"c": last[COMPLETED_AT], "i": last[RECORD_ID], "n": self.returned + self.size}
        return Page(items=items, next_page_token=encode_page_token(position, self.binding))


def plan_page(history_filter: HistoryFilter, page_size: int, page_token: str) -> PagePlan:
    """Return the page that ``page_token`` asks for, under a checked filter and page size.

    ``page_size`` 0 means 100; larger than 1000 means 1000. The filter's limit (0: 20) caps
    the records over all pages. A token works only with the filter it was issued for.
    """
    limit = history_filter.limit or DEFAULT_LIST_LIMIT
    binding = _binding(history_filter, limit)
    after: Position | None = None
    returned = 0
    position = decode_page_token(page_token, binding)
    if position is not None:
        after, returned = _read_position(position, history_filter, limit)
    size = min(page_size_or_default(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), limit - returned)
    return PagePlan(binding, after, returned, size, last_page=returned + size >= limit)


def _binding(history_filter: HistoryFilter, limit: int) -> str:
    """Return the canonical text of what a page token is bound to (page size excluded)."""
    since, until = history_filter.since, history_filter.until
    fields = {
        "workflow_name": history_filter.workflow_name,
        "status": history_filter.status,
        "since": None if since is None else format_time(since),
        "until": None if until is None else format_time(until),
        "limit": limit,
    }
    return "history.list:" + json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _read_position(
    position: dict[str, Any], history_filter: HistoryFilter, limit: int
) -> tuple[Position, int]:
    """Return ``((completed_at, id), returned)`` from a decoded token, or reject it."""
    completed_at, record_id, returned = position.get("c"), position.get("i"), position.get("n")
    if (
        not isinstance(completed_at, str)
        or not isinstance(record_id, str)
        or not isinstance(returned, int)
        or isinstance(returned, bool)
        or not 0 < returned < limit
    ):
        raise InvalidArgumentError("invalid page_token: malformed position")
    try:
        parse_time(completed_at)
    except ValueError:
        raise InvalidArgumentError("invalid page_token: malformed position") from None
    since, until = history_filter.since, history_filter.until
    if (since is not None and completed_at < format_time(since)) or (
        until is not None and completed_at > format_time(until)
    ):
        raise InvalidArgumentError("invalid page_token: position outside the filter's range")
    return (completed_at, record_id), returned
