"""Query embeddings of concurrent requests, coalesced into one batch per model call.

A transformer embeds 16 short queries in a batch for little more than the cost of two alone,
so under load the server embeds whatever queries are waiting together. Nothing waits on a
timer: an idle server embeds a lone query at once, so latency at low load is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from index.embedder import Embedder

__all__ = ["BatchingEmbedder"]


class _Pending:
    __slots__ = ("done", "error", "lead", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()  # set when embedded, or when promoted to lead
        self.lead = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """An ``Embedder`` whose one-text calls from many threads share model calls.

    The first caller to find the model idle embeds the waiting queries (its own first), then
    hands the lead to the oldest query still waiting, so no caller works for others for long.
    Calls with several texts go straight through.
    """

    def __init__(self, inner: Embedder, max_batch: int = 16) -> None:
        # 16: the most the embedder sends down its onnxruntime path (FAST_PATH_MAX_TEXTS).
        self._inner = inner
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._busy = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def inner(self) -> Embedder:
        return self._inner

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self._inner.embed(texts)
        me = _Pending(texts[0])
        with self._lock:
            self._waiting.append(me)
            if not self._busy:
                self._busy = me.lead = True
        if not me.lead:
            me.done.wait()
        if me.lead:
            self._embed_batch()
        if me.error is not None:
            raise me.error
        assert me.vector is not None
        return me.vector.reshape(1, -1)

    def _embed_batch(self) -> None:
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: len(batch)]
        vectors: np.ndarray | None = None
        error: BaseException | None = None
        try:
            vectors = self._inner.embed([p.text for p in batch])
        except BaseException as exc:  # every caller in the batch gets the model's error
            error = exc
        with self._lock:
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._busy = False
            else:
                successor.lead = True
        for row, pending in enumerate(batch):
            pending.vector = vectors[row] if vectors is not None else None
            pending.error = error
            pending.lead = False
            pending.done.set()
        if successor is not None:
            successor.done.set()
