"""The eval's own index: the documents its questions are about, built once per content.

An eval that brings its documents (the news set: ``seeds/`` plus documents carrying injected
instructions; a SQuAD file: its paragraphs) is asked against an index of those documents
only, never the user's ``RAG_INDEX_DIR``. The index lives under
``<cache_dir>/eval-index/<name>-<key>``, where the key is a sha256 over every document's id
and content hash: the same documents reuse it (the project's ``IndexWriter`` skips unchanged
documents, so a second run embeds nothing), and changed documents get a new folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from eval.dataset import DatasetError
from rag.settings import Settings
from rag.types import Document

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["corpus_key", "ensure_index", "eval_index_dir", "load_corpus"]


def load_corpus(paths: Sequence[Path]) -> tuple[Document, ...]:
    """Every document under ``paths``; a file or line that cannot be read is an error here
    (an eval over a silently smaller corpus would mislead)."""
    from index.loaders import load_documents

    loaded = load_documents(paths)
    if loaded.failures:
        where, reason = loaded.failures[0]
        more = f" (and {len(loaded.failures) - 1} more)" if len(loaded.failures) > 1 else ""
        raise DatasetError(f"{where}: {reason}{more}")
    if not loaded.documents:
        raise DatasetError(f"no documents in {', '.join(map(str, paths))}")
    # Where the files lie is no part of the content: the same texts share one index.
    return tuple(dataclasses.replace(doc, source=None) for doc in loaded.documents)


def corpus_key(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        digest.update(f"{doc.doc_id}\x1f{doc.content_hash}\x1e".encode())
    return digest.hexdigest()


def eval_index_dir(settings: Settings, name: str, documents: Sequence[Document]) -> Path:
    return settings.cache_dir / "eval-index" / f"{name}-{corpus_key(documents)[:16]}"


def ensure_index(
    settings: Settings, name: str, documents: Sequence[Document], embedder: Embedder
) -> Path:
    """The index of exactly ``documents``, built on first use; returns its folder."""
    from rag.components import open_writer

    index_dir = eval_index_dir(settings, name, documents)
    writer = open_writer(settings.model_copy(update={"index_dir": index_dir}), embedder)
    writer.add_documents(documents)
    return index_dir
