"""Vector search: HNSW above the size threshold keeps recall@10 >= 0.95 against exact search."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.dense import DenseIndex
from index.store import open_index
from tests.fakes import HashEmbedder
from tests.index.helpers import SEEDS, writer


def _clustered(
    rng: np.random.Generator, count: int, dimension: int, centers: np.ndarray
) -> np.ndarray:
    # Sentence embeddings cluster by topic; uniform noise on a sphere would be unlike them.
    picks = centers[rng.integers(0, len(centers), count)]
    vectors = picks + 0.15 * rng.standard_normal((count, dimension)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_hnsw_recall_at_10_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    dimension = 64
    centers = rng.standard_normal((200, dimension)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    vectors = _clustered(rng, 10_000, dimension, centers)
    queries = _clustered(rng, 200, dimension, centers)
    ids = np.arange(1000, 1000 + len(vectors), dtype=np.int64)  # explicit ids, not row numbers
    exact = DenseIndex.build(vectors, ids, approximate=False)
    approximate = DenseIndex.build(vectors, ids, approximate=True)
    hits = 0
    for query in queries:
        truth = set(exact.search(query, 10)[0].tolist())
        hits += len(truth & set(approximate.search(query, 10)[0].tolist()))
    recall = hits / (10 * len(queries))
    print(f"recall@10 = {recall:.3f}")
    assert recall >= 0.95, recall

    # A filter over many rows goes through the graph with a FAISS ID selector.
    approximate.exact_filter_rows = 0
    ranges = [(0, 2000), (5000, 6000)]
    allowed = set(ids[0:2000].tolist()) | set(ids[5000:6000].tolist())
    hits = 0
    for query in queries[:50]:
        found, _ = approximate.search_rows(query, 10, ranges, ids)
        assert set(found.tolist()) <= allowed
        truth = set(exact.search_rows(query, 10, ranges, ids)[0].tolist())
        hits += len(truth & set(found.tolist()))
    assert hits / 500 >= 0.9


def test_a_store_above_the_threshold_is_approximate_and_still_filters(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    store = writer(index_dir, approx_threshold=20).build([SEEDS]).store
    assert store.stats().approximate
    embedder = HashEmbedder()
    reloaded = open_index(index_dir, embedder)
    assert reloaded.stats().approximate
    vector = embedder.embed(["hostages prisoners exchange"])[0]
    assert [c.chunk_id for c, _ in reloaded.search_dense(vector, 5)] == [
        c.chunk_id for c, _ in store.search_dense(vector, 5)
    ]
    only = frozenset({"004_6a7ff6555c728629"})
    filtered = reloaded.search_dense(vector, 3, doc_ids=only)
    assert len(filtered) == 3 and {c.doc_id for c, _ in filtered} == set(only)
    # Growing an approximate index adds to the graph; the new document is found.
    from index.loaders import make_document

    doc = make_document(
        "Desalination plant\n\nA desalination plant reopened in Gaza.", doc_id="water"
    )
    grown = writer(index_dir, approx_threshold=20).add_documents([doc]).store
    top = grown.search_dense(embedder.embed(["desalination plant reopened"])[0], 1)
    assert top[0][0].doc_id == "water"
