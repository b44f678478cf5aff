"""Drive the asyncio client from blocking tests, so the contract suite runs against it too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Self, TypeVar

ResultT = TypeVar("ResultT")


class LoopThread:
    """An event loop running in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
        """Run ``coroutine`` on the loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Blocking:
    """Calls the async methods of ``target`` as if they were blocking ones."""

    def __init__(self, target: object, loop: LoopThread) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._target, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if isinstance(result, Awaitable):
                result = self._loop.run(_awaited(result))
            if hasattr(result, "__anext__"):
                return BlockingWatch(result, self._loop)
            return result

        return call


class BlockingWatch:
    """An asyncio watch driven from blocking code: ``poll``, iteration and ``close``."""

    def __init__(self, watch: Any, loop: LoopThread) -> None:
        self._watch = watch
        self._loop = loop

    @property
    def resume_token(self) -> str:
        """The watch's token."""
        return str(self._watch.resume_token)

    def poll(self, timeout: float) -> Any:
        """Poll the watch on its loop."""
        return self._loop.run(self._watch.poll(timeout))

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run(self._watch.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """Close the watch on its loop."""
        self._loop.run(self._watch.close())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _awaited(awaitable: Awaitable[ResultT]) -> ResultT:
    return await awaitable
