"""Stored time text and rows read the fast way give what the row codec gives, errors included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wfstore.errors import DataCorruptedError
from wfstore.timestamps import NANOS_PER_SECOND, from_unix_nanos, to_unix_nanos
from wfstored.storage.shared import time_text
from wfstored.storage.shared.record_fields import fields_of_row
from wfstored.storage.shared.record_rows import NotUTF8, row_record
from wfstored.storage.shared.time_text import format_time, parse_time, text_of_parts, time_parts

FIRST_NANOS = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC)) + 1
LAST_NANOS = to_unix_nanos(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) + 999
_instants = st.one_of(
    st.sampled_from([FIRST_NANOS, LAST_NANOS, 0, -1, 1, 10**18 + 999]),
    st.integers(FIRST_NANOS, LAST_NANOS),
)


@given(nanos=_instants, cached=st.booleans())
def test_time_text_parts_agree_with_format_and_parse(nanos: int, *, cached: bool) -> None:
    if not cached:
        time_text._text_parts.clear()  # both the cold and the warm way
        time_text._day_seconds.clear()
        time_text._minute_texts.clear()
    text = format_time(from_unix_nanos(nanos))
    seconds, fraction = divmod(nanos, NANOS_PER_SECOND)
    assert text_of_parts(seconds, fraction) == text
    assert time_parts(text) == (seconds, fraction)
    assert time_parts(text) == divmod(to_unix_nanos(parse_time(text)), NANOS_PER_SECOND)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00.000000000Z",  # no such day
        "2026-01-01T24:00:00.000000000Z",
        "2026-01-01T00:60:00.000000000Z",
        "2026-01-01T00:00:60.000000000Z",
        "2026-01-01T00:00:00.000000000",
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:00." + "\u0660" * 9 + "Z",  # Arabic-Indic digits, which int() reads
        "2026-01-01 00:00:00.000000000Z",
        "0000-01-01T00:00:00.000000000Z",
    ],
)
def test_time_parts_refuses_what_parse_time_refuses(text: str) -> None:
    good = "2026-01-01T00:00:00.000000000Z"
    time_parts(good)  # the day and the minute are cached now
    with pytest.raises(ValueError, match=r".") as expected:
        parse_time(text)
    with pytest.raises(ValueError, match=r".") as got:
        time_parts(text)
    assert str(got.value) == str(expected.value)


_ROW = (
    "r1",
    "wf",
    "deploy",
    "success",
    0,
    "2026-01-01T00:00:00.000000001Z",
    "2026-01-01T00:01:00.000000000Z",
    60000,
    "",
)


@pytest.mark.parametrize(
    "row",
    [
        _ROW[:8],
        (*_ROW, "extra"),
        (NotUTF8(b"\xff"), *_ROW[1:]),
        (*_ROW[:3], NotUTF8(b"\xfe"), *_ROW[4:]),
        (*_ROW[:4], "0", *_ROW[5:]),
        (*_ROW[:5], 17, *_ROW[6:]),
        (*_ROW[:6], None, *_ROW[7:]),
        (*_ROW[:6], "2026-13-01T00:00:00.000000000Z", *_ROW[7:]),
        (*_ROW[:5], "yesterday", *_ROW[6:]),
        (*_ROW[:7], 1.5, _ROW[8]),
        (*_ROW[:8], None),
    ],
)
def test_a_wrong_row_fails_as_the_row_codec_fails(row: tuple[object, ...]) -> None:
    with pytest.raises(DataCorruptedError) as expected:
        row_record(row, "db")
    with pytest.raises(DataCorruptedError) as got:
        fields_of_row(row, "db")
    assert got.value.message == expected.value.message


def test_a_row_with_a_bool_reads_as_the_row_codec_reads_it() -> None:
    """Only the slow way accepts a bool for an int (as ``row_record`` does): same result."""
    row = (*_ROW[:4], True, *_ROW[5:])
    record = row_record(row, "db")
    assert fields_of_row(row, "db")[4] is record.exit_code
