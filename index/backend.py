"""The seam between the engine and an index backend: what reading and writing an index means.

Two backends implement it: ``IndexStore``/``IndexWriter`` (FAISS + bm25s in version folders on
local disk, the embedded default) and ``MilvusIndex`` (``index.milvus_backend``: Milvus Lite in a
file, or a Milvus server or cluster). ``tests/index/test_backend_contract.py`` runs one suite
over both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.types import Chunk, Document

if TYPE_CHECKING:
    from index.store import IndexStats
    from index.writer import BuildReport

__all__ = ["AddOrReplace", "IndexReader", "IndexWrites", "Progress"]

# Called with (chunks embedded so far, chunks to embed) while a write embeds.
Progress = Callable[[int, int], None]


class IndexReader(Protocol):
    """Searching and reading one state of the index; safe from many threads."""

    def __len__(self) -> int: ...  # chunks

    def search_dense(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` chunks nearest to ``vector`` by inner product, best first."""
        ...

    def search_keyword(
        self, query: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` best BM25 matches, best first; chunks sharing no query word left out."""
        ...

    def document(self, doc_id: str) -> Document | None: ...

    def documents(self) -> list[Document]: ...

    def chunk_count(self, doc_id: str) -> int: ...

    def duplicate_group(self, chunk_id: int) -> int:
        """Near-duplicate chunks share this number (a backend without grouping: the id)."""
        ...

    def duplicate_doc_ids(self, chunk_id: int) -> tuple[str, ...]:
        """The chunk's document, then others carrying a near-duplicate; may be empty."""
        ...

    def stats(self) -> IndexStats: ...


class IndexWrites(Protocol):
    """Changing the index. Each call embeds before it takes the backend's write lock, which
    covers only the commit, and returns a report whose ``store`` sees the change."""

    def add(self, docs: Iterable[Document], *, on_progress: Progress | None = None) -> BuildReport:
        """Add new documents; a doc_id already stored raises ``DocumentExistsError`` and a
        doc_id given twice ``DocumentError``, either way writing nothing."""
        ...

    def replace(
        self, docs: Iterable[Document], *, on_progress: Progress | None = None
    ) -> BuildReport:
        """Add documents or replace those with the same doc_id (unchanged text: a no-op)."""
        ...

    def remove(self, doc_ids: Iterable[str]) -> BuildReport:
        """Remove documents; an unknown doc_id raises ``UnknownDocumentError``, removing none."""
        ...


class AddOrReplace:
    """``IndexWrites.add`` and ``replace`` for a backend whose one write is ``add_documents``
    with a ``replace`` flag."""

    def add_documents(
        self,
        docs: Iterable[Document],
        *,
        replace: bool = True,
        on_progress: Progress | None = None,
    ) -> BuildReport:
        raise NotImplementedError

    def add(self, docs: Iterable[Document], *, on_progress: Progress | None = None) -> BuildReport:
        """``IndexWrites.add``: new documents only."""
        return self.add_documents(docs, replace=False, on_progress=on_progress)

    def replace(
        self, docs: Iterable[Document], *, on_progress: Progress | None = None
    ) -> BuildReport:
        """``IndexWrites.replace``: add, or replace documents with the same doc_id."""
        return self.add_documents(docs, replace=True, on_progress=on_progress)
