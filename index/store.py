"""``IndexStore``: a read-only snapshot of the index (dense and keyword search, chunks,
documents, near-duplicate groups), and ``open_index`` which loads and checks it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from index.dense import top_indices
from index.disk import (
    FORMAT_VERSION,
    MANIFEST,
    Manifest,
    current_version,
    directory_size,
    with_way_back,
)
from index.embedder import Embedder
from index.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from index.snapshot import Snapshot, read_snapshot
from index.types import Chunk, Document

_FIX = "run `rag index build` to rebuild it"


@dataclass(frozen=True)
class IndexStats:
    documents: int
    chunks: int
    duplicate_groups: int  # groups of near-duplicate chunks spanning two or more documents
    embed_model: str
    dimension: int
    size_bytes: int
    approximate: bool


class IndexStore:
    """An immutable index version in memory; every search is safe from many threads."""

    def __init__(self, snapshot: Snapshot, directory: Path | None = None) -> None:
        self._snap = snapshot
        self._directory = directory
        self._doc_index = {doc.doc_id: row for row, doc in enumerate(snapshot.documents)}
        # Row range of each document (its chunks are contiguous).
        doc_rows = snapshot.chunks.doc_rows
        starts = np.searchsorted(doc_rows, np.arange(len(snapshot.documents)), side="left")
        ends = np.searchsorted(doc_rows, np.arange(len(snapshot.documents)), side="right")
        self._doc_ranges = list(zip(starts.tolist(), ends.tolist(), strict=True))

    # ---- what it holds -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._snap.chunks)

    @property
    def snapshot(self) -> Snapshot:
        """The raw tables (for ``IndexWriter``, which builds the next version from them)."""
        return self._snap

    @property
    def directory(self) -> Path | None:
        """The version folder this snapshot was loaded from or written to."""
        return self._directory

    @property
    def embed_model(self) -> str:
        return self._snap.manifest.embed_model

    @property
    def dimension(self) -> int:
        return self._snap.manifest.dimension

    def document(self, doc_id: str) -> Document | None:
        row = self._doc_index.get(doc_id)
        return None if row is None else self._snap.documents[row]

    def documents(self) -> list[Document]:
        return list(self._snap.documents)

    def chunk_count(self, doc_id: str) -> int:
        row = self._doc_index.get(doc_id)
        return 0 if row is None else self._doc_ranges[row][1] - self._doc_ranges[row][0]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        row = self._doc_index.get(doc_id)
        if row is None:
            return []
        start, end = self._doc_ranges[row]
        return [self._chunk_at(r) for r in range(start, end)]

    def chunk(self, chunk_id: int) -> Chunk:
        """The chunk with this id; ``KeyError`` when there is none."""
        return self._chunk_at(self._row(chunk_id))

    # ---- search --------------------------------------------------------------------------

    def search_dense(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` chunks nearest to ``vector`` (cosine: inner product of unit vectors)."""
        dense = self._snap.dense
        if doc_ids is None:
            ids, scores = dense.search(vector, k)
        else:
            ids, scores = dense.search_rows(vector, k, self._ranges(doc_ids), self._snap.chunks.ids)
        return [(self.chunk(int(i)), float(s)) for i, s in zip(ids, scores, strict=True)]

    def search_keyword(
        self, query: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` best BM25 matches for ``query``; chunks sharing no query word are left out."""
        scores = self._snap.keyword.scores(query)
        if scores is None or k <= 0:
            return []
        if doc_ids is None:
            picked = top_indices(scores, k)
        else:
            ranges = self._ranges(doc_ids)
            if not ranges:
                return []
            rows = np.concatenate([np.arange(s, e) for s, e in ranges])
            picked = rows[top_indices(scores[rows], k)]
        return [(self._chunk_at(int(r)), float(scores[r])) for r in picked if scores[r] > 0]

    # ---- near-duplicates -----------------------------------------------------------------

    def duplicate_group(self, chunk_id: int) -> int:
        """Chunks that are near-duplicates share this number; a chunk without any has its own."""
        return int(self._snap.chunks.groups[self._row(chunk_id)])

    def duplicate_doc_ids(self, chunk_id: int) -> tuple[str, ...]:
        """The chunk's own document first, then every other document carrying a near-duplicate."""
        row = self._row(chunk_id)
        own = self._snap.documents[int(self._snap.chunks.doc_rows[row])].doc_id
        members = self._groups.get(int(self._snap.chunks.groups[row]), ())
        others = [doc_id for doc_id in members if doc_id != own]
        return (own, *others)

    @cached_property
    def _groups(self) -> dict[int, tuple[str, ...]]:
        table, docs = self._snap.chunks, self._snap.documents
        shared: dict[int, list[str]] = {}
        values, counts = np.unique(table.groups, return_counts=True)
        multi = set(values[counts > 1].tolist())
        for row in np.flatnonzero(np.isin(table.groups, list(multi))).tolist():
            names = shared.setdefault(int(table.groups[row]), [])
            doc_id = docs[int(table.doc_rows[row])].doc_id
            if doc_id not in names:
                names.append(doc_id)
        return {group: tuple(names) for group, names in shared.items() if len(names) > 1}

    def stats(self) -> IndexStats:
        manifest = self._snap.manifest
        size = directory_size(self._directory) if self._directory else 0
        return IndexStats(
            documents=len(self._snap.documents),
            chunks=len(self),
            duplicate_groups=len(self._groups),
            embed_model=manifest.embed_model,
            dimension=manifest.dimension,
            size_bytes=size,
            approximate=manifest.approximate,
        )

    # ---- internals -----------------------------------------------------------------------

    def _row(self, chunk_id: int) -> int:
        return self._rows[chunk_id]  # KeyError when there is no such chunk

    @cached_property
    def _rows(self) -> dict[int, int]:
        # A dict lookup is ~10x cheaper than np.searchsorted on a scalar, and a search looks up
        # every candidate of both lists (~35 per query).
        return {chunk_id: row for row, chunk_id in enumerate(self._snap.chunks.ids.tolist())}

    def _chunk_at(self, row: int) -> Chunk:
        table = self._snap.chunks
        doc = self._snap.documents[int(table.doc_rows[row])]
        start, end = int(table.starts[row]), int(table.ends[row])
        return Chunk(
            chunk_id=int(table.ids[row]),
            doc_id=doc.doc_id,
            title=doc.title,
            ordinal=int(table.ordinals[row]),
            start=start,
            end=end,
            text=doc.text[start:end],
        )

    def _ranges(self, doc_ids: frozenset[str]) -> list[tuple[int, int]]:
        rows = sorted(self._doc_index[d] for d in doc_ids if d in self._doc_index)
        return [self._doc_ranges[r] for r in rows]


def open_index(index_dir: Path, embedder: Embedder | None = None) -> IndexStore:
    """Load the live version in ``index_dir`` and check it was built for ``embedder``.

    Raises ``IndexMissingError``, ``IndexCorruptError`` or ``IndexMismatchError``, each one
    line naming the fix. ``embedder=None`` skips the model check (e.g. for ``stats``).
    """
    index_dir = Path(index_dir)
    for attempt in range(3):
        try:
            version = current_version(index_dir)
        except IndexCorruptError as exc:
            raise with_way_back(exc, index_dir) from exc
        if version is None:
            raise IndexMissingError(f"no index in {index_dir}; run `rag index build` to create it")
        _check_format(version)
        try:
            snapshot = read_snapshot(version)
        except IndexCorruptError as exc:
            # A writer may have switched versions and removed this one while we read it.
            if attempt < 2 and current_version(index_dir) != version:
                continue
            raise with_way_back(exc, index_dir) from exc
        if embedder is not None:
            check_model(snapshot.manifest, embedder.name, embedder.dimension, index_dir)
        return IndexStore(snapshot, version)
    raise IndexCorruptError(
        f"the index in {index_dir} keeps changing; try again"
    )  # pragma: no cover


def check_model(manifest: Manifest, name: str, dimension: int, index_dir: Path) -> None:
    if manifest.embed_model != name or manifest.dimension != dimension:
        raise IndexMismatchError(
            f"the index in {index_dir} was built with {manifest.embed_model!r} "
            f"({manifest.dimension} dimensions) but the embedding model is {name!r} "
            f"({dimension} dimensions); {_FIX}"
        )


def _check_format(version: Path) -> None:
    import json

    try:
        raw = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
        found = raw.get("format_version")
    except (OSError, ValueError, AttributeError):
        return  # read_snapshot reports the damage
    if found != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {version.parent} has format {found}, this version reads "
            f"{FORMAT_VERSION}; {_FIX}"
        )
