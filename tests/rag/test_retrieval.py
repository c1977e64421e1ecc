"""Hybrid retrieval over a real index: fusion, near-duplicates collapsed, filters."""

from __future__ import annotations

from pathlib import Path

from index.store import IndexStore
from rag.retrieval import HybridRetriever
from tests.fakes import HashEmbedder
from tests.rag.conftest import REPORT, TRUCE, article, build_store

SHARED = "Qatar and Egypt have brokered the truce alongside the United States for months."


def test_the_passage_answering_the_question_ranks_first(small_store: IndexStore) -> None:
    hits = HybridRetriever(small_store, HashEmbedder()).search("Did the harbour reopen?", k=3)
    assert hits[0].chunk.doc_id == "harbour-news"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hits_carry_the_document_date_and_offsets(small_store: IndexStore) -> None:
    hit = HybridRetriever(small_store, HashEmbedder()).search("Steve Witkoff envoy", k=1)[0]
    assert hit.chunk.doc_id == "report-july"
    assert hit.published == "2025-07-24"
    document = small_store.document(hit.chunk.doc_id)
    assert document is not None
    assert document.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text


def test_near_duplicate_passages_become_one_hit_naming_every_document(tmp_path: Path) -> None:
    copies = [article(f"outlet-{i}", "Mediators keep the truce alive", SHARED) for i in range(3)]
    other = article("other", "Unrelated", "The harbour reopened after the storm on Monday.")
    store = build_store(tmp_path / "index", [*copies, other], HashEmbedder())
    hits = HybridRetriever(store, HashEmbedder()).search("who brokered the truce", k=5)
    carrying = [h for h in hits if h.chunk.doc_id.startswith("outlet-")]
    assert len(carrying) == 1
    assert sorted(carrying[0].doc_ids) == ["outlet-0", "outlet-1", "outlet-2"]
    assert carrying[0].doc_ids[0] == carrying[0].chunk.doc_id


def test_a_doc_ids_filter_keeps_other_documents_out(small_store: IndexStore) -> None:
    retriever = HybridRetriever(small_store, HashEmbedder())
    hits = retriever.search("negotiators in Doha", k=5, doc_ids=["harbour-news"])
    assert hits
    assert {h.chunk.doc_id for h in hits} == {"harbour-news"}
    assert retriever.search("negotiators in Doha", k=5, doc_ids=[]) == []


def test_top_k_caps_the_hits(small_store: IndexStore) -> None:
    retriever = HybridRetriever(small_store, HashEmbedder())
    assert len(retriever.search("hostages truce harbour", k=2)) == 2


def test_stage_timings_and_relevance_signals_are_reported(small_store: IndexStore) -> None:
    result = HybridRetriever(small_store, HashEmbedder()).retrieve("hostages still held", 3)
    assert {"embed", "dense", "keyword", "fusion", "retrieve"} <= set(result.timings_ms)
    assert 0.0 < result.best_dense <= 1.0
    assert result.keyword_coverage == 1.0


def test_use_store_swaps_the_snapshot(small_store: IndexStore, tmp_path: Path) -> None:
    retriever = HybridRetriever(small_store, HashEmbedder())
    retriever.use_store(build_store(tmp_path / "index", [TRUCE, REPORT], HashEmbedder()))
    hits = retriever.search("harbour reopened storm", k=5)
    assert "harbour-news" not in {h.chunk.doc_id for h in hits}
