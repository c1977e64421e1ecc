"""The vector side of the index: FAISS inner product over normalised vectors, int64 chunk ids.

Exact (``IndexIDMap`` over ``IndexFlatIP``) while small; above the configured size an HNSW
graph, whose recall@10 against exact search stays above 0.95 (tests/index/test_dense.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# A filtered search over at most this many rows is done exactly, whatever the index kind.
EXACT_FILTER_ROWS = 20_000

# One query is searched on one thread: OpenMP's fan-out costs more than it saves for a single
# vector, and on a busy 2-core machine its spinning threads multiply latency. Building uses all.
faiss.omp_set_num_threads(1)


@contextlib.contextmanager
def _all_cores() -> Iterator[None]:
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


class DenseIndex:
    """Top-k inner-product search, optionally restricted to some rows (a doc_ids filter)."""

    def __init__(self, index: faiss.Index, embeddings: np.ndarray, approximate: bool) -> None:
        self._index = index
        self._embeddings = embeddings
        self.approximate = approximate
        self.exact_filter_rows = EXACT_FILTER_ROWS

    @classmethod
    def build(cls, embeddings: np.ndarray, ids: np.ndarray, approximate: bool) -> DenseIndex:
        dimension = embeddings.shape[1]
        inner: faiss.Index
        if approximate:
            inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIDMap(inner)
        if len(ids):
            with _all_cores():
                index.add_with_ids(embeddings, np.ascontiguousarray(ids, dtype=np.int64))
        return cls(index, embeddings, approximate)

    def extended(
        self, embeddings: np.ndarray, new_embeddings: np.ndarray, new_ids: np.ndarray
    ) -> DenseIndex:
        """A copy with rows appended (this snapshot stays as it was)."""
        index = faiss.clone_index(self._index)
        if len(new_ids):
            with _all_cores():
                index.add_with_ids(new_embeddings, np.ascontiguousarray(new_ids, dtype=np.int64))
        return DenseIndex(index, embeddings, self.approximate)

    def save(self, path: Path) -> None:
        # The exact index is rebuilt from the stored embeddings at load; only the graph is saved.
        if self.approximate:
            faiss.write_index(self._index, str(path))

    @classmethod
    def load(
        cls, path: Path, embeddings: np.ndarray, ids: np.ndarray, approximate: bool
    ) -> DenseIndex:
        if not approximate:
            return cls.build(embeddings, ids, approximate=False)
        index = faiss.read_index(str(path))
        if index.ntotal != len(ids):
            raise ValueError(f"vector index holds {index.ntotal} vectors, expected {len(ids)}")
        wrapper: Any = faiss.downcast_index(index)
        graph: Any = faiss.downcast_index(wrapper.index)
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, embeddings, approximate=True)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of the ``k`` nearest rows, best first."""
        if self.size == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self._index.search(query, min(k, self.size))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def search_rows(
        self, vector: np.ndarray, k: int, ranges: list[tuple[int, int]], ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like ``search`` but only over the row ``ranges`` (start, end) of the store."""
        total = sum(end - start for start, end in ranges)
        if total == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if total <= self.exact_filter_rows or not self.approximate:
            rows = np.concatenate([np.arange(start, end) for start, end in ranges])
            scores = np.concatenate([self._embeddings[s:e] @ query for s, e in ranges])
            top = top_indices(scores, k)
            return ids[rows[top]], scores[top]
        selected = np.concatenate([ids[start:end] for start, end in ranges])
        selector = faiss.IDSelectorBatch(selected)
        # IndexIDMap passes only the selector on to the graph, which keeps its own efSearch.
        params = faiss.SearchParameters()
        params.sel = selector
        found_scores, found_ids = self._index.search(
            query.reshape(1, -1), min(k, total), params=params
        )
        keep = found_ids[0] >= 0
        return found_ids[0][keep], found_scores[0][keep]


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first."""
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.argsort(-scores[part], kind="stable")]
