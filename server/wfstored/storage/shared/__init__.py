"""What every storage backend shares, written once and backend-neutral.

History: :mod:`~.history_schema` (the table and its indexes), :mod:`~.record_rows` (records
as rows), :mod:`~.time_text` (nanosecond time text), :mod:`~.history_queries` (filters, keyset
pages, statistics) and :mod:`~.group_commit`. Every backend: :mod:`~.page_tokens`,
:mod:`~.private_files` and :mod:`~.os_errors`.
"""
