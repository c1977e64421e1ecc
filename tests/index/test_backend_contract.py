"""One suite every index backend passes: FAISS + bm25s (embedded) and Milvus Lite."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.backend import IndexReader, IndexWrites
from index.errors import DocumentError, DocumentExistsError, UnknownDocumentError
from index.loaders import load_documents
from index.types import Document
from tests.fakes import HashEmbedder
from tests.index.helpers import SEEDS, writer

WITKOFF = "Steve Witkoff envoy Moscow Ukraine talks"


class Backend:
    """A writer and a way to read what it committed (a fresh reader, as another process would)."""

    def __init__(
        self,
        writes: IndexWrites,
        read: Callable[[], IndexReader],
        set_embedder: Callable[[HashEmbedder], None],
    ) -> None:
        self.writes = writes
        self.read = read
        self.set_embedder = set_embedder


def _faiss(tmp: Path) -> Iterator[Backend]:
    from index.store import open_index

    index_dir = tmp / "index"
    writes = writer(index_dir)

    def set_embedder(embedder: HashEmbedder) -> None:
        writes.embedder = embedder

    yield Backend(writes, lambda: open_index(index_dir, HashEmbedder()), set_embedder)


def _milvus(tmp: Path) -> Iterator[Backend]:
    from index.milvus_backend import MilvusIndex

    index = MilvusIndex(str(tmp / "milvus.db"), HashEmbedder())

    def set_embedder(embedder: HashEmbedder) -> None:
        index.embedder = embedder

    try:
        yield Backend(
            index, lambda: MilvusIndex(str(tmp / "milvus.db"), HashEmbedder()).check(), set_embedder
        )
    finally:
        index.close()


@pytest.fixture(params=[_faiss, _milvus], ids=["faiss", "milvus-lite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    make: Any = request.param
    yield from make(tmp_path)


@pytest.fixture(scope="module")
def seeds() -> list[Document]:
    return load_documents([SEEDS]).documents


def _doc(doc_id: str, text: str, title: str = "A title") -> Document:
    return Document(doc_id=doc_id, title=title, text=text)


def test_added_documents_are_found_by_both_searches(backend: Backend, seeds: list[Document]):
    report = backend.writes.add(seeds)
    assert sorted(report.added) == sorted(d.doc_id for d in seeds)
    store = backend.read()
    assert sorted(d.doc_id for d in store.documents()) == sorted(d.doc_id for d in seeds)
    assert len(store) == sum(store.chunk_count(d.doc_id) for d in seeds) > len(seeds)
    stats = store.stats()
    assert (stats.documents, stats.chunks, stats.dimension) == (len(seeds), len(store), 64)
    dense = store.search_dense(HashEmbedder().embed([WITKOFF])[0], 5)
    keyword = store.search_keyword(WITKOFF, 5)
    assert len(dense) == 5 and len(keyword) == 5
    assert [s for _, s in dense] == sorted((s for _, s in dense), reverse=True)
    assert [s for _, s in keyword] == sorted((s for _, s in keyword), reverse=True)
    assert "Witkoff" in keyword[0][0].text
    for chunk, _ in dense + keyword:  # a chunk's text is its document's text at its offsets
        doc = store.document(chunk.doc_id)
        assert doc is not None and doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.title == doc.title
    assert store.search_keyword("zzzunknownword", 5) == []


def test_searches_honour_a_doc_id_filter(backend: Backend, seeds: list[Document]):
    backend.writes.add(seeds)
    store = backend.read()
    one = seeds[0].doc_id
    only = frozenset({one, "missing-doc"})
    vector = HashEmbedder().embed(["hostages released prisoners"])[0]
    dense = store.search_dense(vector, 50, only)
    assert dense and {c.doc_id for c, _ in dense} == {one}
    assert len(dense) == store.chunk_count(one)
    keyword = store.search_keyword("the talks", 50, only)
    assert {c.doc_id for c, _ in keyword} <= {one}
    assert store.search_dense(vector, 5, frozenset()) == []
    assert store.search_keyword("talks", 5, frozenset({"missing-doc"})) == []


def test_documents_round_trip_with_their_metadata(backend: Backend):
    doc = Document(
        doc_id='odd "id" \\ café',
        title="Ünïcode title",
        text="First sentence here. " * 40 + "Ein Satz mit Umlauten: äöü. " * 10,
        published="2025-01-02",
        url="https://example.org/a",
    )
    backend.writes.add([doc])
    stored = backend.read().document(doc.doc_id)
    assert stored == doc
    assert backend.read().document("nope") is None


def test_adding_an_existing_doc_id_is_refused_and_writes_nothing(backend: Backend):
    backend.writes.add([_doc("a", "Alpha text about ships and harbours.")])
    with pytest.raises(DocumentExistsError) as caught:
        backend.writes.add([_doc("b", "Bravo text."), _doc("a", "Other text.")])
    assert caught.value.doc_ids == ["a"]
    store = backend.read()
    assert [d.doc_id for d in store.documents()] == ["a"]
    assert store.document("a").text == "Alpha text about ships and harbours."  # type: ignore[union-attr]


def test_a_doc_id_given_twice_is_refused(backend: Backend):
    with pytest.raises(DocumentError):
        backend.writes.replace([_doc("a", "one"), _doc("a", "two")])


def test_replace_swaps_the_text_and_leaves_no_old_chunk(backend: Backend):
    backend.writes.add([_doc("a", "Ships sail into the harbour at dawn. " * 30)])
    report = backend.writes.replace([_doc("a", "Trains leave the station at noon.")])
    assert report.updated == ["a"]
    store = backend.read()
    assert store.chunk_count("a") == 1
    assert store.search_keyword("harbour ships", 5) == []
    assert [c.doc_id for c, _ in store.search_keyword("trains station", 5)] == ["a"]
    again = backend.writes.replace([_doc("a", "Trains leave the station at noon.")])
    assert again.unchanged == ["a"] and not again.changed


def test_remove_deletes_by_id_and_refuses_unknown_ids(backend: Backend, seeds: list[Document]):
    backend.writes.add(seeds[:2])
    gone, kept = seeds[0].doc_id, seeds[1].doc_id
    with pytest.raises(UnknownDocumentError):
        backend.writes.remove([gone, "no-such-doc"])
    assert backend.read().document(gone) is not None
    report = backend.writes.remove([gone])
    assert report.removed == [gone]
    store = backend.read()
    assert store.document(gone) is None and store.chunk_count(gone) == 0
    assert [d.doc_id for d in store.documents()] == [kept]
    vector = HashEmbedder().embed([seeds[0].text[:300]])[0]
    assert all(c.doc_id == kept for c, _ in store.search_dense(vector, 50))


def test_progress_is_reported_while_embedding(backend: Backend, seeds: list[Document]):
    seen: list[tuple[int, int]] = []
    backend.writes.add(seeds[:1], on_progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == backend.read().chunk_count(seeds[0].doc_id)


class GatedEmbedder(HashEmbedder):
    """Blocks while embedding any text containing ``marker`` until ``release`` is set."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any(self.marker in t for t in texts):
            self.entered.set()
            assert self.release.wait(30), "never released"
        return super().embed(texts)


def test_a_write_that_is_embedding_does_not_hold_back_another(backend: Backend):
    gate = GatedEmbedder("BIGDOC")
    backend.set_embedder(gate)
    big = _doc("big", "BIGDOC long article about harbours. " * 200)
    slow = threading.Thread(target=backend.writes.add, args=([big],))
    slow.start()
    try:
        assert gate.entered.wait(30)
        report = backend.writes.add([_doc("small", "A short note on trains.")])
        # Committed while the large document is still being embedded.
        assert report.added == ["small"] and not gate.release.is_set()
        assert backend.read().document("small") is not None
        assert backend.read().document("big") is None
    finally:
        gate.release.set()
        slow.join(30)
    store = backend.read()
    assert {d.doc_id for d in store.documents()} == {"big", "small"}
