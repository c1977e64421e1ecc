"""Hybrid retrieval: dense and keyword hits fused by reciprocal rank, near-duplicates collapsed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import numpy as np

from index.embedder import Embedder
from index.types import Chunk, Document
from rag.text import content_words
from rag.types import Hit

__all__ = ["HybridRetriever", "Retrieval", "Store"]


class Store(Protocol):
    """The part of ``index.store.IndexStore`` retrieval reads."""

    def search_dense(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]: ...

    def search_keyword(
        self, query: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]: ...

    def duplicate_doc_ids(self, chunk_id: int) -> tuple[str, ...]: ...

    def duplicate_group(self, chunk_id: int) -> int: ...

    def document(self, doc_id: str) -> Document | None: ...


@dataclass(frozen=True)
class Retrieval:
    """Hits plus what the pipeline needs to judge them: the query vector and relevance signals."""

    query: str
    hits: tuple[Hit, ...]
    query_vector: np.ndarray
    best_dense: float  # the highest cosine between the query and any passage
    keyword_coverage: float  # share of the query's content words found in the hits
    timings_ms: dict[str, float] = field(default_factory=dict)


class HybridRetriever:
    """Dense + keyword search over an index snapshot, fused with reciprocal rank fusion.

    RRF needs no score calibration between cosine and BM25, which differ per corpus; ``rrf_k``
    flattens the tail so a passage ranked well by both lists beats one ranked first by one.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        rrf_k: int = 20,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        candidates: int = 20,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._rrf_k = rrf_k
        self._dense_weight = dense_weight
        self._keyword_weight = keyword_weight
        self._candidates = candidates

    @property
    def store(self) -> Store:
        return self._store

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def use_store(self, store: Store) -> None:
        """Swap in a newer index snapshot; searches already running keep the old one."""
        self._store = store

    def search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        return list(self.retrieve(query, k, doc_ids).hits)

    def retrieve(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> Retrieval:
        store = self._store  # one snapshot for the whole search
        allowed = frozenset(doc_ids) if doc_ids is not None else None
        depth = max(self._candidates, 4 * k)
        timings: dict[str, float] = {}

        t0 = time.perf_counter()
        vector = np.asarray(self._embedder.embed([query])[0], dtype=np.float32)
        t1 = time.perf_counter()
        dense = store.search_dense(vector, depth, allowed) if allowed != frozenset() else []
        t2 = time.perf_counter()
        keyword = store.search_keyword(query, depth, allowed) if allowed != frozenset() else []
        t3 = time.perf_counter()
        hits = self._fuse(store, query, dense, keyword, k, allowed)
        t4 = time.perf_counter()
        timings.update(
            embed=(t1 - t0) * 1000,
            dense=(t2 - t1) * 1000,
            keyword=(t3 - t2) * 1000,
            fusion=(t4 - t3) * 1000,
        )
        timings["retrieve"] = (t4 - t0) * 1000
        return Retrieval(
            query=query,
            hits=tuple(hits),
            query_vector=vector,
            best_dense=max((score for _, score in dense), default=0.0),
            keyword_coverage=_coverage(query, hits),
            timings_ms=timings,
        )

    def _fuse(
        self,
        store: Store,
        query: str,
        dense: list[tuple[Chunk, float]],
        keyword: list[tuple[Chunk, float]],
        k: int,
        allowed: frozenset[str] | None,
    ) -> list[Hit]:
        scores: dict[int, float] = {}
        chunks: dict[int, Chunk] = {}
        for weight, ranked in ((self._dense_weight, dense), (self._keyword_weight, keyword)):
            for rank, (chunk, _) in enumerate(ranked):
                chunks[chunk.chunk_id] = chunk
                scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + weight / (
                    self._rrf_k + rank + 1
                )
        # Normalised so a passage ranked first by both lists scores 1.0.
        best = (self._dense_weight + self._keyword_weight) / (self._rrf_k + 1)
        documents: dict[str, Document | None] = {}

        def document(doc_id: str) -> Document | None:
            if doc_id not in documents:
                documents[doc_id] = store.document(doc_id)
            return documents[doc_id]

        fused = {cid: s / best for cid, s in scores.items()}

        hits: list[Hit] = []
        seen_groups: set[int] = set()
        for chunk_id in sorted(fused, key=lambda cid: (-fused[cid], cid)):
            group = store.duplicate_group(chunk_id)
            if group in seen_groups:
                continue
            seen_groups.add(group)
            chunk = chunks[chunk_id]
            carriers = store.duplicate_doc_ids(chunk_id) or (chunk.doc_id,)
            if allowed is not None:
                carriers = tuple(d for d in carriers if d in allowed or d == chunk.doc_id)
            doc = document(chunk.doc_id)
            hits.append(
                Hit(
                    chunk=chunk,
                    score=fused[chunk_id],
                    doc_ids=carriers,
                    published=doc.published if doc else None,
                    url=doc.url if doc else None,
                )
            )
            if len(hits) >= k:
                break
        return hits


def _coverage(query: str, hits: Sequence[Hit]) -> float:
    wanted = content_words(query)
    if not wanted:
        return 0.0
    found: set[str] = set()
    for hit in hits:
        found |= _passage_words(hit.chunk.text) & wanted
    return len(found) / len(wanted)


@lru_cache(maxsize=8192)
def _passage_words(text: str) -> frozenset[str]:
    # The same passages come back query after query; stemming them was a sixth of a search's
    # Python time under load (py-spy, bench/http_bench.py).
    return frozenset(content_words(text))
