"""What every storage backend shares, written once and backend-neutral.

History: :mod:`~.table_history_store` (the port over any SQL database),
:mod:`~.history_schema` (the table and its indexes), :mod:`~.record_rows` (records as rows),
:mod:`~.time_text` (nanosecond time text), :mod:`~.history_queries` (filters, keyset pages,
statistics) and :mod:`~.group_commit`. State: :mod:`~.state_pages`. Every backend:
:mod:`~.page_tokens`, :mod:`~.private_files` and :mod:`~.os_errors`.
"""
