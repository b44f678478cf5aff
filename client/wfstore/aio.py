"""The asyncio client of wfstore: ``async with wfstore.aio.Client(target) as client``.

Same surface, errors and retry behaviour as :class:`wfstore.Client`, with ``async`` methods.
"""

from wfstore._aio_client import AsyncHistoryStore, AsyncStateStore, Client

__all__ = ["AsyncHistoryStore", "AsyncStateStore", "Client"]
