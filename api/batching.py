"""Query embeddings of concurrent requests, coalesced into batches, two model calls at a time.

Under load the server embeds whatever queries are waiting together, in at most two model calls at
once: each runs on one core with the GIL released, so the two cores of the target both embed.
Batching itself saves little on a CPU (16 short queries cost ~8x one on onnxruntime, measured),
but it bounds the number of calls in flight. Nothing waits on a timer: an idle server embeds a
lone query at once, so latency at low load is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from index.embedder import Embedder, WrappingEmbedder

__all__ = ["BatchingEmbedder"]


class _Pending:
    __slots__ = ("done", "error", "lead", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()  # set when embedded, or when made a lead
        self.lead = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder(WrappingEmbedder):
    """An ``Embedder`` whose one-text calls from many threads share model calls.

    A caller that finds fewer than ``max_calls`` model calls running leads one: it embeds its
    own query and those waiting, then hands the lead to the oldest query still waiting, so no
    caller works for others for long. Calls with several texts go straight through.
    """

    def __init__(self, inner: Embedder, max_batch: int = 16, max_calls: int = 2) -> None:
        # 16: the most the embedder sends down its onnxruntime path (FAST_PATH_MAX_TEXTS).
        # 2: the cores of the target; more calls would only take turns on them.
        super().__init__(inner)
        self._max_batch = max_batch
        self._max_calls = max_calls
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._running = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self._inner.embed(texts)
        me = _Pending(texts[0])
        with self._lock:
            if self._running < self._max_calls:
                self._running += 1
                me.lead = True
            else:
                self._waiting.append(me)
        if not me.lead:
            me.done.wait()
        if me.lead:
            self._embed_batch(me)
        if me.error is not None:
            raise me.error
        assert me.vector is not None
        return me.vector.reshape(1, -1)

    def _embed_batch(self, lead: _Pending) -> None:
        with self._lock:
            batch = [lead, *self._waiting[: self._max_batch - 1]]
            del self._waiting[: len(batch) - 1]
        vectors: np.ndarray | None = None
        error: BaseException | None = None
        try:
            vectors = self._inner.embed([p.text for p in batch])
        except BaseException as exc:  # every caller in the batch gets the model's error
            error = exc
        with self._lock:
            successor = self._waiting.pop(0) if self._waiting else None
            if successor is None:
                self._running -= 1
            else:
                successor.lead = True
        for row, pending in enumerate(batch):
            pending.vector = vectors[row] if vectors is not None else None
            pending.error = error
            pending.lead = False
            pending.done.set()
        if successor is not None:
            successor.done.set()
