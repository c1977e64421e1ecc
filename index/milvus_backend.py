"""``MilvusIndex``: the index in Milvus (``RAG_INDEX_BACKEND=milvus``), reading and writing.

One client for both deployments: a file path is Milvus Lite (embedded, one process at a time),
``http://host:19530`` a Milvus server or cluster, which shards and replicates. Three collections:

  {prefix}_chunks     chunk_id (int64, from a content hash), doc_id, ordinal, start, end, title,
                      text, terms (our stopword-free tokens, analysed by Milvus), the
                      BM25 sparse vector Milvus derives from ``terms``, and the dense vector
  {prefix}_documents  a document's text in parts of at most 60 kB, with its metadata
  {prefix}_meta       the embedding model and dimension the vectors were made with

Keyword search is Milvus's own BM25 over ``terms``: feeding it our tokens keeps the words and
stopwords the same as the FAISS backend's bm25s (Milvus Lite's analyser does not drop
stopwords). Writes touch only the rows of the documents named, by primary key: nothing is
rewritten. Milvus has no transactions; a write killed midway leaves the document's old or new
rows beside each other until the next write of that doc_id, which removes the leftovers.
Near-duplicate grouping is the FAISS backend's alone: here each chunk is its own group.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from index.assembly import IndexConfig, embed_in_batches
from index.backend import AddOrReplace, Progress
from index.chunking import chunk_text
from index.embedder import Embedder
from index.errors import (
    DocumentExistsError,
    IndexMismatchError,
    IndexMissingError,
    IndexStateError,
    UnknownDocumentError,
)
from index.keyword import Tokenizer
from index.loaders import load_documents
from index.milvus_rows import (
    FIELD_CHARS,
    chunk_from,
    chunk_id,
    clip,
    clip_bytes,
    document_rows,
    store_size,
    where_in,
)
from index.store import IndexStats
from index.types import Chunk, Document
from index.writer import BuildReport, check_unique_ids, under_roots

__all__ = ["MilvusIndex"]

_VARCHAR = 65_535  # bytes, Milvus's largest VARCHAR
_DOC_ID_BYTES = 1_024  # 200 characters (index.validation) of up to 4 bytes
_PAGE = 1_000


_T = TypeVar("_T")


def _reported(method: Callable[..., _T]) -> Callable[..., _T]:
    """A Milvus failure (server gone, collection dropped) as ``IndexStateError``: the service
    answers 503 ``index_unavailable`` and the CLI one line, never a traceback."""

    @functools.wraps(method)
    def call(self: MilvusIndex, *args: Any, **kwargs: Any) -> _T:
        from pymilvus.exceptions import MilvusException

        try:
            return method(self, *args, **kwargs)
        except MilvusException as exc:
            raise IndexStateError(f"Milvus at {self.uri} failed: {exc}") from exc

    return call


class MilvusIndex(AddOrReplace):
    """``IndexReader`` and ``IndexWrites`` over one Milvus database (always the live state)."""

    def __init__(
        self,
        uri: str,
        embedder: Embedder,
        config: IndexConfig | None = None,
        *,
        prefix: str = "rag",
    ) -> None:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        self.uri = uri
        self.embedder = embedder
        self.config = config or IndexConfig()
        self._chunks = f"{prefix}_chunks"
        self._docs = f"{prefix}_documents"
        self._meta = f"{prefix}_meta"
        self._lock = threading.Lock()
        self._tokenize = Tokenizer()
        # pymilvus logs every failed call before raising it, and Milvus Lite's in-process
        # server logs the calls it does not implement; the exceptions say it once.
        for name in ("pymilvus", "grpc._server"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self._client = MilvusClient(uri)
            self._model: tuple[str, int] | None = self._read_model()
        except (MilvusException, OSError, ValueError) as exc:
            raise IndexStateError(f"cannot open Milvus at {uri}: {exc}") from exc

    # ---- opening ---------------------------------------------------------------------------

    def check(self) -> MilvusIndex:
        """This index, after checking it exists and was built with ``embedder``'s model."""
        if self._model is None:
            raise IndexMissingError(
                f"no index in Milvus at {self.uri}; run `rag index build` to create it"
            )
        name, dimension = self._model
        if name != self.embedder.name or dimension != self.embedder.dimension:
            raise IndexMismatchError(
                f"the index in Milvus at {self.uri} was built with {name!r} ({dimension} "
                f"dimensions) but the embedding model is {self.embedder.name!r}; drop its "
                "collections and run `rag index build`"
            )
        return self

    def close(self) -> None:
        self._client.close()

    def _read_model(self) -> tuple[str, int] | None:
        if not self._client.has_collection(self._meta):
            return None
        for name in (self._meta, self._docs, self._chunks):
            self._client.load_collection(name)
        rows = self._client.query(self._meta, ids=["model"], output_fields=["value"])
        if not rows:
            return None
        raw = json.loads(rows[0]["value"])
        return str(raw["embed_model"]), int(raw["dimension"])

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self._client
        meta = client.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        meta.add_field("value", DataType.VARCHAR, max_length=4096)
        meta.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        docs = client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("part_id", DataType.INT64, is_primary=True)
        docs.add_field("doc_id", DataType.VARCHAR, max_length=_DOC_ID_BYTES)
        docs.add_field("part", DataType.INT64)
        docs.add_field("parts", DataType.INT64)
        docs.add_field("text", DataType.VARCHAR, max_length=_VARCHAR)
        docs.add_field("meta", DataType.VARCHAR, max_length=_VARCHAR)  # title, url, ... (JSON)
        docs.add_field("pad", DataType.FLOAT_VECTOR, dim=2)
        chunks = client.create_schema(auto_id=False, enable_dynamic_field=False)
        chunks.add_field("chunk_id", DataType.INT64, is_primary=True)
        chunks.add_field("doc_id", DataType.VARCHAR, max_length=_DOC_ID_BYTES)
        chunks.add_field("ordinal", DataType.INT64)
        chunks.add_field("start", DataType.INT64)
        chunks.add_field("end", DataType.INT64)
        chunks.add_field("title", DataType.VARCHAR, max_length=_VARCHAR)
        chunks.add_field("text", DataType.VARCHAR, max_length=_VARCHAR)
        chunks.add_field("terms", DataType.VARCHAR, max_length=_VARCHAR, enable_analyzer=True)
        chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        chunks.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        for name, schema, indexes in (
            (
                self._chunks,
                chunks,
                (("vector", "AUTOINDEX", "IP"), ("sparse", "SPARSE_INVERTED_INDEX", "BM25")),
            ),
            (self._docs, docs, (("pad", "FLAT", "L2"),)),
            (self._meta, meta, (("pad", "FLAT", "L2"),)),
        ):
            params = client.prepare_index_params()
            for field, kind, metric in indexes:
                params.add_index(field, index_type=kind, metric_type=metric)
            client.create_collection(
                name, schema=schema, index_params=params, consistency_level="Strong"
            )
        value = json.dumps({"embed_model": self.embedder.name, "dimension": dimension})
        client.upsert(self._meta, [{"key": "model", "value": value, "pad": [0.0, 0.0]}])
        self._model = (self.embedder.name, dimension)

    # ---- reading ---------------------------------------------------------------------------

    @_reported
    def __len__(self) -> int:
        return self._count(self._chunks, "")

    @property
    def directory(self) -> Path | None:
        return None

    @_reported
    def search_dense(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        if k <= 0 or self._model is None or doc_ids == frozenset():
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        return self._search(query, "vector", "IP", k, doc_ids)

    @_reported
    def search_keyword(
        self, query: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        terms = " ".join(self._tokenize(query))
        if k <= 0 or not terms or self._model is None or doc_ids == frozenset():
            return []
        # Lite reports BM25 as a negated distance; the order is right either way.
        return [(c, abs(s)) for c, s in self._search(terms, "sparse", "BM25", k, doc_ids)]

    def _search(
        self, data: Any, field: str, metric: str, k: int, doc_ids: frozenset[str] | None
    ) -> list[tuple[Chunk, float]]:
        found = self._client.search(
            self._chunks,
            data=[data],
            anns_field=field,
            limit=min(k, 16_384),
            filter=where_in("doc_id", sorted(doc_ids)) if doc_ids is not None else "",
            output_fields=["chunk_id", "doc_id", "ordinal", "start", "end", "title", "text"],
            search_params={"metric_type": metric},
        )
        return [(chunk_from(hit["entity"]), float(hit["distance"])) for hit in found[0]]

    @_reported
    def document(self, doc_id: str) -> Document | None:
        found = self._documents([doc_id])
        return found.get(doc_id)

    @_reported
    def documents(self) -> list[Document]:
        if self._model is None:
            return []
        ids = sorted({row["doc_id"] for row in self._scan(self._docs, "part == 0", ["doc_id"])})
        found: dict[str, Document] = {}
        for first in range(0, len(ids), 100):
            found.update(self._documents(ids[first : first + 100]))
        return [found[i] for i in ids if i in found]

    @_reported
    def chunk_count(self, doc_id: str) -> int:
        return self._count(self._chunks, where_in("doc_id", [doc_id]))

    def duplicate_group(self, chunk_id: int) -> int:
        return chunk_id

    def duplicate_doc_ids(self, chunk_id: int) -> tuple[str, ...]:
        return ()

    @_reported
    def stats(self) -> IndexStats:
        name, dimension = self._model or (self.embedder.name, 0)
        path = Path(self.uri)
        local = "://" not in self.uri
        return IndexStats(
            documents=self._count(self._docs, "part == 0"),
            chunks=len(self),
            duplicate_groups=0,
            embed_model=name,
            dimension=dimension,
            size_bytes=store_size(path) if local else 0,
            approximate=not local,
        )

    def _count(self, collection: str, where: str) -> int:
        if self._model is None:
            return 0
        rows = self._client.query(collection, filter=where, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _scan(self, collection: str, where: str, fields: list[str]) -> list[dict[str, Any]]:
        iterator = self._client.query_iterator(
            collection, batch_size=_PAGE, filter=where, output_fields=fields
        )
        rows: list[dict[str, Any]] = []
        while batch := iterator.next():
            rows.extend(batch)
        iterator.close()
        return rows

    def _documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        if self._model is None or not doc_ids:
            return {}
        rows = self._scan(
            self._docs, where_in("doc_id", doc_ids), ["doc_id", "part", "parts", "text", "meta"]
        )
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_doc.setdefault(row["doc_id"], []).append(row)
        out = {}
        for doc_id, parts in by_doc.items():
            parts.sort(key=lambda r: r["part"])
            if len(parts) != parts[0]["parts"]:
                continue  # a write was killed midway; the document is incomplete
            meta = json.loads(parts[0]["meta"])
            out[doc_id] = Document(
                doc_id=doc_id,
                title=meta["title"],
                text="".join(r["text"] for r in parts),
                published=meta.get("published"),
                url=meta.get("url"),
                source=meta.get("source"),
            )
        return out

    # ---- writing ---------------------------------------------------------------------------

    @_reported
    def add_documents(
        self,
        docs: Iterable[Document],
        *,
        replace: bool = True,
        on_progress: Progress | None = None,
        progress: bool = False,
    ) -> BuildReport:
        """Like ``IndexWriter.add_documents``: embed first, then write under the lock."""
        docs = list(docs)
        check_unique_ids(docs)
        if not replace:
            self._check_new(docs)  # fail before the slow part
        hashes = self._hashes([d.doc_id for d in docs])
        changed = [d for d in docs if hashes.get(d.doc_id) != d.content_hash]
        rows = self._chunk_rows(changed, progress, on_progress)
        report = BuildReport(store=self)
        with self._lock:
            if not replace:
                self._check_new(docs)
            if self._model is None and rows:
                self._create(len(rows[0]["vector"]))
            hashes = self._hashes([d.doc_id for d in docs])
            for doc in docs:
                old = hashes.get(doc.doc_id)
                if old == doc.content_hash:
                    report.unchanged.append(doc.doc_id)
                    continue
                if doc not in changed:  # changed by another writer meanwhile: embed now
                    rows.extend(self._chunk_rows([doc], False, None))
                (report.updated if old is not None else report.added).append(doc.doc_id)
            written = [d for d in docs if d.doc_id in set(report.added + report.updated)]
            self._write(written, [r for r in rows if r["doc_id"] in {d.doc_id for d in written}])
            report.chunks_embedded = sum(
                1 for r in rows if r["doc_id"] in set(report.added + report.updated)
            )
        return report

    @_reported
    def remove(self, doc_ids: Iterable[str]) -> BuildReport:
        import unicodedata

        wanted = list(dict.fromkeys(unicodedata.normalize("NFC", d) for d in doc_ids))
        with self._lock:
            known = self._hashes(wanted)
            unknown = [d for d in wanted if d not in known]
            if unknown:
                raise UnknownDocumentError(
                    f"no document {', '.join(map(repr, unknown))} in the index"
                )
            if wanted:
                where = where_in("doc_id", wanted)
                self._client.delete(self._docs, filter=where)
                self._client.delete(self._chunks, filter=where)
        return BuildReport(store=self, removed=wanted)

    def build(self, paths: Sequence[Path], *, progress: bool = False) -> BuildReport:
        """``IndexWriter.build`` for this backend: add or replace the documents in ``paths``,
        and remove those whose source file under ``paths`` is gone."""
        roots = [Path(os.path.realpath(p)) for p in paths]
        loaded = load_documents(paths)
        report = self.add_documents(loaded.documents, replace=True, progress=progress)
        present = {d.doc_id for d in loaded.documents}
        gone = [
            doc_id
            for doc_id, source in self._sources().items()
            if doc_id not in present
            and source is not None
            and under_roots(Path(source), roots)
            and not Path(source).exists()
        ]
        if gone:
            report.removed = self.remove(gone).removed
        report.failures = loaded.failures
        return report

    def add_paths(self, paths: Sequence[Path], *, progress: bool = False) -> BuildReport:
        """Add or replace the documents in ``paths``; nothing else changes."""
        loaded = load_documents(paths)
        report = self.add_documents(loaded.documents, replace=True, progress=progress)
        report.failures = loaded.failures
        return report

    def _sources(self) -> dict[str, str | None]:
        if self._model is None:
            return {}
        rows = self._scan(self._docs, "part == 0", ["doc_id", "meta"])
        return {row["doc_id"]: json.loads(row["meta"]).get("source") for row in rows}

    def _check_new(self, docs: Sequence[Document]) -> None:
        taken = [d for d in self._hashes([doc.doc_id for doc in docs])]
        if taken:
            raise DocumentExistsError(
                f"doc_id {', '.join(map(repr, taken[:5]))} is already in the index", taken
            )

    def _hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """content_hash of each stored document among ``doc_ids``."""
        if self._model is None or not doc_ids:
            return {}
        out: dict[str, str] = {}
        for first in range(0, len(doc_ids), 500):
            where = f"part == 0 and {where_in('doc_id', doc_ids[first : first + 500])}"
            for row in self._scan(self._docs, where, ["doc_id", "meta"]):
                out[row["doc_id"]] = json.loads(row["meta"])["hash"]
        return out

    def _chunk_rows(
        self, docs: Sequence[Document], progress: bool, on_progress: Progress | None
    ) -> list[dict[str, Any]]:
        cfg = self.config
        pieces = [
            (doc, span)
            for doc in docs
            for span in chunk_text(doc.text, cfg.chunk_max_words, cfg.chunk_overlap_sentences)
        ]
        texts = [doc.text[s.start : s.end] for doc, s in pieces]
        vectors = embed_in_batches(self.embedder, texts, 0, progress, on_progress)
        return [
            {
                "chunk_id": chunk_id(doc.doc_id, span.ordinal, text),
                "doc_id": doc.doc_id,
                "ordinal": span.ordinal,
                "start": span.start,
                "end": span.end,
                "title": clip(doc.title, FIELD_CHARS),
                "text": clip_bytes(text, _VARCHAR),
                "terms": clip_bytes(" ".join(self._tokenize(text)) or "_", _VARCHAR),
                "vector": vector.tolist(),
            }
            for (doc, span), text, vector in zip(pieces, texts, vectors, strict=True)
        ]

    def _write(self, docs: Sequence[Document], rows: list[dict[str, Any]]) -> None:
        """Replace the rows of ``docs``: new chunks in, leftover chunks and parts out."""
        if not docs:
            return
        client = self._client
        where = where_in("doc_id", [d.doc_id for d in docs])
        old_chunks = {r["chunk_id"] for r in self._scan(self._chunks, where, ["chunk_id"])}
        for first in range(0, len(rows), _PAGE):
            client.upsert(self._chunks, rows[first : first + _PAGE])
        stale = sorted(old_chunks - {r["chunk_id"] for r in rows})
        for first in range(0, len(stale), _PAGE):
            client.delete(self._chunks, ids=stale[first : first + _PAGE])
        old_parts = {r["part_id"] for r in self._scan(self._docs, where, ["part_id"])}
        parts = [row for doc in docs for row in document_rows(doc)]
        client.upsert(self._docs, parts)
        stale = sorted(old_parts - {r["part_id"] for r in parts})
        if stale:
            client.delete(self._docs, ids=stale)
