"""The file backend: execution state as awf's own JSON state files, one per workflow id.

:mod:`~wfstored.storage.files.state_store` (the store: atomic writes, striped locks),
the kernel's :mod:`~wfstore.awf_state` (the Go tool's exact bytes) and
:mod:`~wfstored.storage.files.file_lock` (cross-process ``flock``).
"""

from wfstored.storage.files.state_store import JSONStateStore, JSONStore

__all__ = ["JSONStateStore", "JSONStore"]
