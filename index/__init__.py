"""Documents in, index out: loading, cleaning, chunking, near-duplicates, embeddings, storage.

Names are imported on first use, so ``import index.errors`` (done by ``rag.errors``) stays
cheap and does not pull in faiss, bm25s or datasketch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.backend import IndexReader as IndexReader
    from index.backend import IndexWrites as IndexWrites
    from index.embedder import Embedder as Embedder
    from index.embedder import load_embedder as load_embedder
    from index.loaders import LoadResult as LoadResult
    from index.loaders import load_documents as load_documents
    from index.loaders import make_document as make_document
    from index.loaders import parse_upload as parse_upload
    from index.store import IndexStats as IndexStats
    from index.store import IndexStore as IndexStore
    from index.store import open_index as open_index
    from index.types import Chunk as Chunk
    from index.types import Document as Document
    from index.writer import BuildReport as BuildReport
    from index.writer import IndexConfig as IndexConfig
    from index.writer import IndexWriter as IndexWriter

_HOMES = {
    "BuildReport": "index.writer",
    "Chunk": "index.types",
    "Document": "index.types",
    "Embedder": "index.embedder",
    "IndexConfig": "index.writer",
    "IndexReader": "index.backend",
    "IndexWrites": "index.backend",
    "IndexStats": "index.store",
    "IndexStore": "index.store",
    "IndexWriter": "index.writer",
    "LoadResult": "index.loaders",
    "load_documents": "index.loaders",
    "load_embedder": "index.embedder",
    "make_document": "index.loaders",
    "open_index": "index.store",
    "parse_upload": "index.loaders",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
