"""The next index version, assembled in memory: kept rows carried over, new documents chunked,
embedded and signed, then near-duplicate groups, the keyword index and the vector index."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from index import dedup
from index.chunking import Span, chunk_text
from index.dense import DenseIndex
from index.disk import DocEntry, Manifest
from index.embedder import Embedder
from index.errors import IndexMismatchError
from index.keyword import KeywordIndex
from index.snapshot import ChunkTable, Snapshot
from index.types import Document, content_hash

_EMBED_BATCH = 256  # texts per progress-bar step


@dataclass(frozen=True)
class IndexConfig:
    chunk_max_words: int = 90
    chunk_overlap_sentences: int = 1
    approx_threshold: int = 50_000  # above this many chunks: HNSW instead of exact search
    dedup_threshold: float = 0.8  # estimated Jaccard over word shingles


@dataclass(frozen=True)
class Changes:
    """What the next version changes relative to the live one."""

    upserts: Sequence[Document]  # to chunk and embed, appended after the kept documents
    replaced: set[str]  # doc_ids whose old rows go (removed or re-indexed)
    relabel: dict[str, Document] = field(default_factory=dict)  # same text, new metadata
    next_id: int = 1  # the first chunk id to hand out


@dataclass(frozen=True)
class Prepared:
    """One document chunked, embedded and signed: the slow part of a write, done before the
    write lock is taken (see ``prepare``)."""

    spans: list[Span]
    vectors: np.ndarray  # float32 (len(spans), dimension)
    signatures: np.ndarray  # uint32 (len(spans), NUM_PERM)


def text_key(doc: Document, config: IndexConfig, model: str) -> str:
    """What a document's chunks and vectors depend on: its text, the chunking, the model."""
    return content_hash(
        doc.text, str(config.chunk_max_words), str(config.chunk_overlap_sentences), model
    )


def prepare(
    docs: Sequence[Document],
    embedder: Embedder,
    config: IndexConfig,
    *,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Prepared]:
    """Chunk, embed and sign ``docs``, keyed by ``text_key``; touches no index file."""
    spans = [
        chunk_text(d.text, config.chunk_max_words, config.chunk_overlap_sentences) for d in docs
    ]
    texts = [doc.text[s.start : s.end] for doc, ss in zip(docs, spans, strict=True) for s in ss]
    if not texts:
        return {text_key(d, config, embedder.name): _empty_prepared(0) for d in docs}
    vectors = embed_in_batches(embedder, texts, 0, progress, on_progress)
    sigs = dedup.signatures(texts)
    out: dict[str, Prepared] = {}
    first = 0
    for doc, ss in zip(docs, spans, strict=True):
        last = first + len(ss)
        out[text_key(doc, config, embedder.name)] = Prepared(
            ss, vectors[first:last], sigs[first:last]
        )
        first = last
    return out


def _empty_prepared(dimension: int) -> Prepared:
    return Prepared(
        [], np.zeros((0, dimension), np.float32), np.zeros((0, dedup.NUM_PERM), np.uint32)
    )


def next_snapshot(
    base: Snapshot | None,
    changes: Changes,
    embedder: Embedder,
    config: IndexConfig,
    *,
    progress: bool = False,
    prepared: Mapping[str, Prepared] | None = None,
) -> tuple[Snapshot, int]:
    """(the next version, how many new chunks it holds). Kept documents keep their rows,
    vectors and ids, so rows stay ascending by chunk id and no kept text is re-embedded.
    Documents found in ``prepared`` (embedded before the write lock) are not embedded again."""
    pieces = dict(prepared or {})
    missing = [d for d in changes.upserts if text_key(d, config, embedder.name) not in pieces]
    pieces.update(prepare(missing, embedder, config, progress=progress))
    upserted = [pieces[text_key(d, config, embedder.name)] for d in changes.upserts]
    # A removal alone needs no model: the dimension comes from the index (or the vectors).
    widths = {p.vectors.shape[1] for p in upserted if len(p.spans)}
    if widths:
        dim = widths.pop()
    elif base is not None:
        dim = base.manifest.dimension
    else:
        dim = embedder.dimension
    documents, old_rows, old_doc_rows = _kept(base, changes)
    if base is not None and len(old_rows) and base.manifest.dimension != dim:
        raise IndexMismatchError(
            f"the model {embedder.name!r} now gives {dim}-dimensional vectors, the index holds "
            f"{base.manifest.dimension}; delete the index folder and run `rag index build`"
        )
    spans = [p.spans for p in upserted]
    new_count = sum(len(ss) for ss in spans)
    new_ids = np.arange(changes.next_id, changes.next_id + new_count, dtype=np.int64)
    new_vectors = (
        np.concatenate([p.vectors for p in upserted if len(p.spans)])
        if new_count
        else np.zeros((0, dim), np.float32)
    )
    new_sigs = (
        np.concatenate([p.signatures for p in upserted if len(p.spans)])
        if new_count
        else np.zeros((0, dedup.NUM_PERM), np.uint32)
    )
    old = base.chunks if base is not None else ChunkTable.empty()
    new = _new_rows(spans, first_doc=len(documents))
    documents.extend(changes.upserts)
    ids = np.concatenate([old.ids[old_rows], new_ids])
    doc_rows = np.concatenate([old_doc_rows, new["doc_rows"]]).astype(np.int32)
    embeddings = np.ascontiguousarray(
        np.concatenate([_rows(base.embeddings if base else None, old_rows, dim), new_vectors]),
        dtype=np.float32,
    )
    signatures = np.concatenate(
        [_rows(base.signatures if base else None, old_rows, dedup.NUM_PERM, np.uint32), new_sigs]
    )
    table = ChunkTable(
        ids=ids,
        doc_rows=doc_rows,
        ordinals=np.concatenate([old.ordinals[old_rows], new["ordinals"]]).astype(np.int32),
        starts=np.concatenate([old.starts[old_rows], new["starts"]]),
        ends=np.concatenate([old.ends[old_rows], new["ends"]]),
        groups=dedup.duplicate_groups(signatures, ids, doc_rows, config.dedup_threshold),
    )
    approximate = len(table) > config.approx_threshold
    grows_graph = (
        base is not None and base.dense.approximate and approximate and len(old_rows) == len(old)
    )
    if grows_graph and base is not None:
        dense = base.dense.extended(embeddings, new_vectors, new_ids)
    else:
        dense = DenseIndex.build(embeddings, ids, approximate)
    counts = np.bincount(doc_rows, minlength=len(documents))
    manifest = Manifest(
        embed_model=embedder.name,
        dimension=dim,
        chunk_max_words=config.chunk_max_words,
        chunk_overlap_sentences=config.chunk_overlap_sentences,
        dedup_threshold=config.dedup_threshold,
        approximate=approximate,
        next_id=int(changes.next_id + new_count),
        chunks=len(table),
        documents={
            d.doc_id: DocEntry(d.content_hash, int(counts[i]), d.source)
            for i, d in enumerate(documents)
        },
    )
    texts = [
        documents[r].text[a:b]
        for r, a, b in zip(
            doc_rows.tolist(), table.starts.tolist(), table.ends.tolist(), strict=True
        )
    ]
    keyword = KeywordIndex.build(texts)
    snapshot = Snapshot(manifest, tuple(documents), table, embeddings, signatures, keyword, dense)
    return snapshot, new_count


def embed_in_batches(
    embedder: Embedder,
    texts: list[str],
    dimension: int,
    progress: bool,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Vectors for ``texts``, with a progress bar on stderr and ``on_progress(done, total)``
    after each batch when asked."""
    if not texts:
        return np.zeros((0, dimension), dtype=np.float32)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="embedding", unit="chunk", leave=False)
    parts = []
    for first in range(0, len(texts), _EMBED_BATCH):
        batch = texts[first : first + _EMBED_BATCH]
        parts.append(np.asarray(embedder.embed(batch), dtype=np.float32))
        if bar is not None:
            bar.update(len(batch))
        if on_progress is not None:
            on_progress(first + len(batch), len(texts))
    if bar is not None:
        bar.close()
    return np.concatenate(parts)


def _kept(base: Snapshot | None, changes: Changes) -> tuple[list[Document], np.ndarray, np.ndarray]:
    """(kept documents, their chunk rows in ``base``, those rows' new document numbers)."""
    if base is None:
        return [], np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    kept = [r for r, d in enumerate(base.documents) if d.doc_id not in changes.replaced]
    documents = [changes.relabel.get(base.documents[r].doc_id, base.documents[r]) for r in kept]
    renumber = np.full(len(base.documents), -1, dtype=np.int32)
    renumber[kept] = np.arange(len(kept), dtype=np.int32)
    rows = np.flatnonzero(renumber[base.chunks.doc_rows] >= 0)
    return documents, rows, renumber[base.chunks.doc_rows[rows]]


def _new_rows(spans: list[list[Span]], first_doc: int) -> dict[str, np.ndarray]:
    flat = [(first_doc + i, s) for i, ss in enumerate(spans) for s in ss]
    return {
        "doc_rows": np.array([d for d, _ in flat], dtype=np.int32),
        "ordinals": np.array([s.ordinal for _, s in flat], dtype=np.int32),
        "starts": np.array([s.start for _, s in flat], dtype=np.int64),
        "ends": np.array([s.end for _, s in flat], dtype=np.int64),
    }


def _rows(
    matrix: np.ndarray | None, rows: np.ndarray, width: int, dtype: type = np.float32
) -> np.ndarray:
    if matrix is None or not len(rows):
        return np.zeros((0, width), dtype=dtype)
    return matrix[rows]
