"""Concurrent query embeddings share model calls, and get exactly their own vectors."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from api.batching import BatchingEmbedder
from rag.errors import ModelError
from tests.fakes import HashEmbedder


class SlowCountingEmbedder(HashEmbedder):
    def __init__(self, delay: float = 0.05, error: Exception | None = None) -> None:
        super().__init__()
        self.calls: list[int] = []
        self._delay = delay
        self._error = error

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(self._delay)
        if self._error is not None:
            raise self._error
        return super().embed(texts)


def embed_concurrently(embedder: BatchingEmbedder, texts: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}
    # All threads ask at once, however slowly a loaded machine starts them.
    together = threading.Barrier(len(texts))

    def one(text: str) -> None:
        together.wait(10)
        try:
            results[text] = embedder.embed([text])
        except Exception as exc:
            results[text] = exc

    threads = [threading.Thread(target=one, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_queries_share_model_calls_and_get_their_own_vectors() -> None:
    inner = SlowCountingEmbedder()
    texts = [f"question number {n}" for n in range(16)]

    results = embed_concurrently(BatchingEmbedder(inner), texts)

    assert sum(inner.calls) == 16
    assert len(inner.calls) <= 4  # instead of 16 model calls
    reference = HashEmbedder()
    for text in texts:
        vector = results[text]
        assert isinstance(vector, np.ndarray) and vector.shape == (1, 64)
        np.testing.assert_allclose(vector, reference.embed([text]), rtol=1e-6)


def test_a_lone_query_is_embedded_at_once() -> None:
    inner = SlowCountingEmbedder(delay=0.0)
    embedder = BatchingEmbedder(inner)

    started = time.perf_counter()
    vector = embedder.embed(["just one"])

    # No batching window: far below the 0.5 s of any window worth having, even on a busy machine.
    assert time.perf_counter() - started < 0.5
    assert inner.calls == [1]
    assert vector.shape == (1, 64)
    assert embedder.embed(["a", "b", "c"]).shape == (3, 64)  # several texts go straight through
    assert inner.calls == [1, 3]


def test_a_model_error_reaches_every_caller_in_the_batch() -> None:
    embedder = BatchingEmbedder(SlowCountingEmbedder(error=ModelError("model gone")))

    results = embed_concurrently(embedder, [f"q{n}" for n in range(6)])

    assert all(isinstance(r, ModelError) for r in results.values())
    with pytest.raises(ModelError):
        embedder.embed(["after the failure the next caller leads again"])


def test_at_most_two_model_calls_run_at_once() -> None:
    class Overlapping(SlowCountingEmbedder):
        def __init__(self) -> None:
            super().__init__(delay=0.03)
            self.running = self.most_running = 0
            self._count = threading.Lock()

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            with self._count:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                return super().embed(texts)
            finally:
                with self._count:
                    self.running -= 1

    inner = Overlapping()
    texts = [f"question number {n}" for n in range(24)]

    results = embed_concurrently(BatchingEmbedder(inner, max_calls=2), texts)

    assert inner.most_running == 2, "both cores embed"
    assert sum(inner.calls) == 24 and len(inner.calls) < 24
    assert all(isinstance(results[text], np.ndarray) for text in texts)
