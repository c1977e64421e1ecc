"""One index version in memory (documents, chunk tables, vectors, keyword index) and its files."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.dense import DenseIndex
from index.disk import MANIFEST, Manifest, read_manifest, verify_files
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
        manifest = read_manifest(directory)
    except FileNotFoundError as exc:
        raise _corrupt(directory, f"{MANIFEST} is missing") from exc
    except (OSError, ValueError) as exc:
        raise _corrupt(directory, f"{MANIFEST} is unreadable") from exc
    try:
        problem = verify_files(directory, manifest.files)
    except OSError as exc:
        problem = f"{exc.filename or directory} cannot be read ({exc.strerror or exc})"
    if problem:
        raise _corrupt(directory, problem)
    # Each file on its own, so the message names the one that is damaged; the checksums
    # matched, so this is damage the manifest was written over (or a bug in the writer).
    documents = _load(directory, _DOCUMENTS, lambda p: tuple(_read_documents(p)))
    table = _load(directory, _CHUNKS, _read_chunk_table)
    embeddings = _load(directory, _EMBEDDINGS, _read_array)
    signatures = _load(directory, _MINHASH, _read_array)
    try:
        _check_shapes(manifest, documents, table, embeddings, signatures)
    except ValueError as exc:
        raise _corrupt(directory, str(exc)) from exc
    keyword = _load(directory, _BM25, lambda p: KeywordIndex.load(p, len(table)))
    dense = _load(
        directory,
        _HNSW,
        lambda p: DenseIndex.load(p, embeddings, table.ids, manifest.approximate),
    )
    return Snapshot(manifest, documents, table, embeddings, signatures, keyword, dense)


_T = TypeVar("_T")
# What loading a damaged file raises: numpy, zipfile, json, faiss (RuntimeError) and our checks.
_DAMAGE = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RuntimeError,
    EOFError,
    zipfile.BadZipFile,
)


def _load(directory: Path, name: str, read: Callable[[Path], _T]) -> _T:
    try:
        return read(directory / name)
    except _DAMAGE as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        detail = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        raise _corrupt(directory, f"{name} is unreadable: {detail}") from exc


def _read_chunk_table(path: Path) -> ChunkTable:
    with _plain_arrays(), np.load(path, allow_pickle=False) as data:
        return ChunkTable(**{n: data[n].astype(t, copy=False) for n, t in _COLUMN_TYPES.items()})


def _read_array(path: Path) -> np.ndarray:
    with _plain_arrays():
        array = np.load(path, allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise ValueError("not a single array")
    return array


@contextlib.contextmanager
def _plain_arrays() -> Iterator[None]:
    # numpy's message for a damaged file suggests loading it with pickles allowed: never.
    try:
        yield
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise
        raise ValueError("not a NumPy array file") from exc


def _read_documents(path: Path) -> list[Document]:
    docs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            record = json.loads(line)
            if not isinstance(record, dict) or not all(
                isinstance(record.get(key), str) for key in ("doc_id", "title", "text")
            ):
                raise ValueError(f"line {number} is not a document")
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
    rows = table.doc_rows
    if count and (rows.min() < 0 or rows.max() >= len(documents) or np.any(np.diff(rows) < 0)):
        raise ValueError("chunk table points outside the documents")


def _corrupt(directory: Path, problem: str) -> IndexCorruptError:
    return IndexCorruptError(
        f"the index in {directory.parent} is damaged ({problem}); "
        "run `rag index build` to rebuild it"
    )
