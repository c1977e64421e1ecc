"""One index version in memory (documents, chunk tables, vectors, keyword index) and its files."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.dense import DenseIndex
from index.disk import MANIFEST, Manifest, verify_files
from index.errors import IndexCorruptError
from index.keyword import KeywordIndex
from index.types import Document

_DOCUMENTS = "documents.jsonl"
_CHUNKS = "chunks.npz"
_EMBEDDINGS = "embeddings.npy"
_MINHASH = "minhash.npy"
_BM25 = "bm25"
_HNSW = "hnsw.faiss"


@dataclass(frozen=True)
class ChunkTable:
    """Chunk records as parallel arrays, one row per chunk, ascending by chunk id; the rows of
    one document are contiguous and its text is ``document.text[start:end]``."""

    ids: np.ndarray  # int64
    doc_rows: np.ndarray  # int32, row in Snapshot.documents
    ordinals: np.ndarray  # int32
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    groups: np.ndarray  # int64, near-duplicate group (smallest chunk id in it)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> ChunkTable:
        return cls(*(np.empty(0, dtype=t) for t in _COLUMN_TYPES.values()))


_COLUMN_TYPES = {
    "ids": np.int64,
    "doc_rows": np.int32,
    "ordinals": np.int32,
    "starts": np.int64,
    "ends": np.int64,
    "groups": np.int64,
}


@dataclass(frozen=True)
class Snapshot:
    """Everything one version holds; never changed after it is made."""

    manifest: Manifest
    documents: tuple[Document, ...]
    chunks: ChunkTable
    embeddings: np.ndarray  # float32 (chunks, dimension)
    signatures: np.ndarray  # uint32 (chunks, NUM_PERM) MinHash signatures
    keyword: KeywordIndex
    dense: DenseIndex

    def chunk_texts(self) -> list[str]:
        docs, table = self.documents, self.chunks
        return [
            docs[row].text[start:end]
            for row, start, end in zip(
                table.doc_rows.tolist(), table.starts.tolist(), table.ends.tolist(), strict=True
            )
        ]


def write_snapshot(snapshot: Snapshot, directory: Path) -> None:
    """Write every data file of ``snapshot`` into ``directory`` (the manifest comes last,
    from ``disk.commit_version``)."""
    with open(directory / _DOCUMENTS, "w", encoding="utf-8") as handle:
        for doc in snapshot.documents:
            record = {
                "doc_id": doc.doc_id,
                "title": doc.title,
                "text": doc.text,
                "published": doc.published,
                "url": doc.url,
                "source": doc.source,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    table = snapshot.chunks
    np.savez(directory / _CHUNKS, **{name: getattr(table, name) for name in _COLUMN_TYPES})
    np.save(directory / _EMBEDDINGS, snapshot.embeddings)
    np.save(directory / _MINHASH, snapshot.signatures)
    snapshot.keyword.save(directory / _BM25)
    snapshot.dense.save(directory / _HNSW)


def read_snapshot(directory: Path) -> Snapshot:
    """Load a version folder; raises ``IndexCorruptError`` naming the damaged file."""
    try:
        manifest = Manifest.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _corrupt(directory, f"{MANIFEST} is missing") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise _corrupt(directory, f"{MANIFEST} is unreadable") from exc
    problem = verify_files(directory, manifest.files)
    if problem:
        raise _corrupt(directory, problem)
    try:
        documents = tuple(_read_documents(directory / _DOCUMENTS))
        with np.load(directory / _CHUNKS) as data:
            table = ChunkTable(
                **{n: data[n].astype(t, copy=False) for n, t in _COLUMN_TYPES.items()}
            )
        embeddings = np.load(directory / _EMBEDDINGS)
        signatures = np.load(directory / _MINHASH)
        _check_shapes(manifest, documents, table, embeddings, signatures)
        keyword = KeywordIndex.load(directory / _BM25, len(table))
        dense = DenseIndex.load(directory / _HNSW, embeddings, table.ids, manifest.approximate)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile) as exc:
        raise _corrupt(directory, f"{type(exc).__name__}: {exc}") from exc
    return Snapshot(manifest, documents, table, embeddings, signatures, keyword, dense)


def _read_documents(path: Path) -> list[Document]:
    docs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            docs.append(Document(**record))
    return docs


def _check_shapes(
    manifest: Manifest,
    documents: tuple[Document, ...],
    table: ChunkTable,
    embeddings: np.ndarray,
    signatures: np.ndarray,
) -> None:
    count = manifest.chunks
    if len(documents) != len(manifest.documents):
        raise ValueError(f"{len(documents)} documents, manifest lists {len(manifest.documents)}")
    if any(len(column) != count for column in (table.ids, table.doc_rows, table.starts)):
        raise ValueError(f"chunk table does not hold {count} rows")
    if embeddings.shape != (count, manifest.dimension) or embeddings.dtype != np.float32:
        raise ValueError(
            f"embeddings have shape {embeddings.shape}, expected ({count}, {manifest.dimension})"
        )
    if len(signatures) != count:
        raise ValueError("near-duplicate signatures do not match the chunks")


def _corrupt(directory: Path, problem: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"the index in {directory.parent} is damaged ({problem}); "
        "run `rag index build` to rebuild it"
    )
