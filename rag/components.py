"""Wiring from ``Settings``: the embedder, the index, the writer and the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.settings import Settings

if TYPE_CHECKING:
    from index.backend import IndexReader
    from index.embedder import Embedder
    from index.milvus_backend import MilvusIndex
    from index.writer import IndexConfig, IndexWriter
    from rag.generation import Generator
    from rag.pipeline import Pipeline

__all__ = [
    "load_answering_embedder",
    "load_embedder",
    "load_pipeline",
    "open_store",
    "open_writer",
    "pipeline_over",
]


def load_embedder(settings: Settings) -> Embedder:
    """The embedder for answering: questions and a few sentences at a time, on one thread.

    On 2 cores the LLM keeps both busy; two torch threads spinning against it took a query
    embedding from ~30 ms to ~500 ms (measured), one thread loses ~2 ms on an idle machine.
    Index builds load their own embedder (``index.embedder.LazyEmbedder``) with every thread.
    Questions take the onnxruntime fast path (same vectors, ~7 ms instead of ~20 ms), exported
    into ``settings.cache_dir`` on the first load; with ``int8_queries`` (the default) the
    retriever embeds them on its int8 copy, ~4.5 ms (see ``index.onnx_encoder``).
    """
    import torch

    from index.embedder import load_embedder as load

    embedder = load(
        settings.embed_model, settings.embed_batch_size, settings.cache_dir, settings.int8_queries
    )
    torch.set_num_threads(1)
    return embedder


def load_answering_embedder(settings: Settings) -> Embedder:
    """An embedder for answering only (no index writes): the cached ONNX export with no torch
    when a load of this model recorded one (``index.onnx_cache``), else ``load_embedder``."""
    from index.embedder import bundled_model_path
    from index.onnx_cache import load_cached

    location = Path(settings.embed_model) if settings.embed_model else bundled_model_path()
    if location.is_dir():
        cached = load_cached(
            settings.cache_dir,
            location,
            settings.embed_batch_size,
            int8_queries=settings.int8_queries,
        )
        if cached is not None:
            return cached
    return load_embedder(settings)


def open_store(settings: Settings, embedder: Embedder) -> IndexReader:
    """The index to answer from, in the configured backend (``RAG_INDEX_BACKEND``)."""
    if settings.index_backend == "milvus":
        return open_milvus(settings, embedder).check()
    from index.store import open_index

    return open_index(settings.index_dir, embedder)


def open_writer(settings: Settings, embedder: Embedder) -> IndexWriter | MilvusIndex:
    """The writer of the configured backend; both are ``IndexWrites``."""
    if settings.index_backend == "milvus":
        return open_milvus(settings, embedder)
    from index.writer import IndexWriter

    return IndexWriter(settings.index_dir, embedder, index_config(settings))


def open_milvus(settings: Settings, embedder: Embedder) -> MilvusIndex:
    """The Milvus index at ``RAG_MILVUS_URI`` (a Milvus Lite file is created on first use)."""
    from index.milvus_backend import MilvusIndex

    if "://" not in settings.milvus_uri:
        from pathlib import Path

        Path(settings.milvus_uri).parent.mkdir(parents=True, exist_ok=True)
    return MilvusIndex(settings.milvus_uri, embedder, index_config(settings))


def index_config(settings: Settings) -> IndexConfig:
    from index.writer import IndexConfig

    return IndexConfig(
        chunk_max_words=settings.chunk_max_words,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
        approx_threshold=settings.approx_threshold,
        dedup_threshold=settings.dedup_threshold,
    )


def load_pipeline(settings: Settings, embedder: Embedder | None = None) -> Pipeline:
    """The pipeline over the index in ``settings.index_dir`` with the configured models.

    The index is read first: a missing or damaged one is reported before seconds go into
    loading a model."""
    from index.store import check_model, open_index
    from rag.llm import load_generator

    if settings.index_backend == "milvus":
        embedder = embedder or load_embedder(settings)
        milvus = open_milvus(settings, embedder).check()
        return pipeline_over(milvus, embedder, load_generator(settings), settings)
    store = open_index(settings.index_dir, None)
    embedder = embedder or load_answering_embedder(settings)
    check_model(store.snapshot.manifest, embedder.name, embedder.dimension, settings.index_dir)
    return pipeline_over(store, embedder, load_generator(settings), settings)


def pipeline_over(
    store: IndexReader,
    embedder: Embedder,
    generator: Generator | None,
    settings: Settings,
    wrap_queries: Callable[[Embedder], Embedder] | None = None,
) -> Pipeline:
    """The pipeline over ``store``: it searches with ``embedder``'s query path (int8 unless
    ``settings.int8_queries`` is off; ``wrap_queries`` may wrap it, as the server batches
    concurrent queries) and picks the prompt's sentences with its exact vectors. With a
    ``generator`` the model answers, checked; without one (``extractive``) the passages do."""
    from index.embedder import query_embedder
    from rag.answering import (
        Answerer,
        Check,
        Fallback,
        Generate,
        ModelAnswers,
        PassageAnswers,
    )
    from rag.context import SentenceScorer
    from rag.evidence import ChooseEvidence
    from rag.pipeline import Pipeline
    from rag.prompt import ANSWER_GRAMMAR
    from rag.rerank import load_reranker
    from rag.retrieval import HybridRetriever
    from rag.rewrite import QuestionRewriter

    queries = query_embedder(embedder)
    retriever = HybridRetriever(store, wrap_queries(queries) if wrap_queries else queries)

    def text_of(doc_id: str, start: int, end: int) -> str | None:
        document = retriever.store.document(doc_id)  # the snapshot of the moment
        return document.text[start:end] if document is not None else None

    evidence = ChooseEvidence(
        SentenceScorer(embedder, numeric_boost=settings.numeric_boost),
        text_of,
        budget_tokens=settings.context_tokens,
        exact_vectors=queries is not embedder,
        reranker=load_reranker(settings.rerank_model) if settings.rerank_model else None,
        rerank_top=settings.rerank_top,
    )
    fallback = Fallback.from_settings(settings)
    answerer: Answerer
    if generator is None:
        answerer = PassageAnswers(fallback)
    else:
        grammar = ANSWER_GRAMMAR if settings.answer_grammar else None
        generate = Generate(generator, max_tokens=settings.answer_max_tokens, grammar=grammar)
        answerer = ModelAnswers(generate, Check(), fallback)
    rewriter = QuestionRewriter(generator, use_llm=settings.rewrite_with_llm)
    return Pipeline(retriever, evidence, answerer, settings, rewriter)
