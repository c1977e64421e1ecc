"""A bounded queue in front of generation: a few run, a few wait, the rest are turned away.

On 2 cores one generation at a time is as fast as it gets; queueing more only adds memory and
latency. A full queue raises ``OverloadedError`` (503 with Retry-After) at once, never blocks.
Work runs on the queue's own threads, so the event loop stays free, and a place is given back
only when its work has really finished (a timed-out request does not free a busy worker).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from rag.errors import OverloadedError

__all__ = ["GenerationQueue"]

T = TypeVar("T")


class GenerationQueue:
    def __init__(
        self,
        capacity: int,
        workers: int = 1,
        *,
        retry_after_s: float = 2.0,
        on_reject: Callable[[], object] | None = None,
    ) -> None:
        self.capacity = capacity  # admitted at most: running plus waiting
        self.workers = workers
        self._retry_after = retry_after_s
        self._on_reject = on_reject  # e.g. a metric's counter, called for each refusal
        self._admitted = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="generate")

    @property
    def depth(self) -> int:
        return self._admitted

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn`` or raise ``OverloadedError`` at once when the queue is full."""
        with self._lock:
            if self._admitted >= self.capacity:
                if self._on_reject is not None:
                    self._on_reject()
                raise OverloadedError(
                    f"the server is busy ({self._admitted} questions queued); try again shortly",
                    retry_after=self._retry_after,
                )
            self._admitted += 1
        try:
            future = self._executor.submit(fn)
        except RuntimeError:  # shut down
            self._release()
            raise OverloadedError("the server is shutting down", retry_after=5.0) from None
        future.add_done_callback(self._release)
        return future

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a worker; cancelling the caller drops it if it has not started yet."""
        return await asyncio.wrap_future(self.submit(fn))

    def _release(self, _future: object = None) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
