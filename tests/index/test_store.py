"""The stored index: search with filters, near-duplicate groups, and clear errors on load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.disk import current_version, file_checksums
from index.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexStateError
from index.loaders import make_document
from index.store import IndexStore, open_index
from index.types import Document
from tests.fakes import HashEmbedder
from tests.index.helpers import SEED_IDS, SEEDS, write_article, writer

PHASE_ONE = "001_e2ebf3ea3f42602b"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("store") / "index"
    writer(index_dir).build([SEEDS])
    return index_dir


@pytest.fixture
def index_dir(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    return copy


def test_a_built_index_loads_and_answers_both_searches(built: Path) -> None:
    embedder = HashEmbedder()
    store = open_index(built, embedder)
    assert sorted(d.doc_id for d in store.documents()) == SEED_IDS
    assert store.embed_model == "hash-embedder" and store.dimension == 64
    stats = store.stats()
    assert (stats.documents, stats.chunks, stats.approximate) == (5, len(store), False)
    assert stats.size_bytes > 0
    query = "Steve Witkoff envoy Moscow Ukraine talks"
    dense = store.search_dense(embedder.embed([query])[0], 5)
    keyword = store.search_keyword(query, 5)
    assert len(dense) == 5 and len(keyword) == 5
    assert [s for _, s in dense] == sorted((s for _, s in dense), reverse=True)
    assert [s for _, s in keyword] == sorted((s for _, s in keyword), reverse=True)
    assert "Witkoff" in keyword[0][0].text
    assert store.search_keyword("zzzunknownword", 5) == []


def test_doc_id_filters_restrict_both_searches(built: Path) -> None:
    embedder = HashEmbedder()
    store = open_index(built, embedder)
    only = frozenset({PHASE_ONE, "missing-doc"})
    vector = embedder.embed(["hostages released prisoners"])[0]
    dense = store.search_dense(vector, 50, doc_ids=only)
    keyword = store.search_keyword("hostages released prisoners", 50, doc_ids=only)
    assert dense and {c.doc_id for c, _ in dense} == {PHASE_ONE}
    assert len(dense) == store.chunk_count(PHASE_ONE)
    assert keyword and {c.doc_id for c, _ in keyword} == {PHASE_ONE}
    assert store.search_dense(vector, 5, doc_ids=frozenset()) == []
    assert store.search_keyword("hostages", 5, doc_ids=frozenset({"missing-doc"})) == []


def test_near_duplicate_passages_across_documents_share_a_group(tmp_path: Path) -> None:
    story = [
        "Negotiators from both sides met in Cairo on Monday to discuss a new truce proposal.",
        "The proposal would free the remaining hostages and open the crossings for aid convoys.",
        "Mediators said the talks would continue through the week in the Egyptian capital.",
        "The main sticking point was the timetable for the withdrawal of troops from the border.",
        "Officials on both sides declined to comment on the details of the draft agreement.",
        "A senior diplomat said a deal could be announced before the end of the month.",
    ]
    write_article(tmp_path / "docs", "wire.txt", "Truce talks in Cairo", story)
    # A second outlet runs the wire copy under its own headline, with one word changed.
    copy = [line.replace("senior diplomat", "senior official") for line in story]
    write_article(tmp_path / "docs", "outlet.txt", "Cairo talks resume today", copy)
    write_article(
        tmp_path / "docs",
        "other.txt",
        "Football results",
        ["The home side won the cup final on Saturday after a late goal in extra time."],
    )
    store = (
        writer(tmp_path / "index", chunk_max_words=30, chunk_overlap_sentences=0)
        .build([tmp_path / "docs"])
        .store
    )
    [wire_chunk] = [c for c in store.chunks_of("wire") if "sticking point" in c.text]
    [outlet_chunk] = [c for c in store.chunks_of("outlet") if "sticking point" in c.text]
    assert store.duplicate_group(wire_chunk.chunk_id) == store.duplicate_group(
        outlet_chunk.chunk_id
    )
    assert store.duplicate_doc_ids(wire_chunk.chunk_id) == ("wire", "outlet")
    assert store.duplicate_doc_ids(outlet_chunk.chunk_id) == ("outlet", "wire")
    [football] = store.chunks_of("other")
    assert store.duplicate_doc_ids(football.chunk_id) == ("other",)
    assert store.duplicate_group(football.chunk_id) == football.chunk_id
    assert store.stats().duplicate_groups >= 1


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match=r"rag index build"):
        open_index(tmp_path / "nothing-here", HashEmbedder())


def test_another_model_or_dimension_is_refused(index_dir: Path) -> None:
    with pytest.raises(
        IndexMismatchError, match=r"'hash-embedder'.*'other-model'.*rag index build"
    ):
        open_index(index_dir, HashEmbedder(name="other-model"))
    with pytest.raises(IndexMismatchError, match=r"64 dimensions.*32 dimensions"):
        open_index(index_dir, HashEmbedder(dimension=32))


@pytest.mark.parametrize(
    "damage",
    [
        "truncate_embeddings",
        "garble_documents",
        "delete_chunks",
        "garble_manifest",
        "flip_byte_in_bm25",
        "remove_version_dir",
        "random_pointer",
        "empty_pointer",
        "pointer_out_of_the_index",
        "pointer_is_a_folder",
        "version_is_a_file",
        "manifest_is_a_list",
        "manifest_with_bad_checksums",
        "vectors_replaced_and_resealed",
        "documents_replaced_and_resealed",
    ],
)
def test_damaged_files_give_one_clear_line(index_dir: Path, damage: str) -> None:
    version = current_version(index_dir)
    assert version is not None
    if damage == "truncate_embeddings":
        path = version / "embeddings.npy"
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "garble_documents":
        (version / "documents.jsonl").write_text("{not json\n", encoding="utf-8")
    elif damage == "delete_chunks":
        (version / "chunks.npz").unlink()
    elif damage == "garble_manifest":
        (version / "manifest.json").write_text("{", encoding="utf-8")
    elif damage == "flip_byte_in_bm25":
        path = next(p for p in (version / "bm25").iterdir() if p.suffix == ".npy")
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "random_pointer":
        (index_dir / "CURRENT").write_bytes(bytes(range(255, -1, -1)))
    elif damage == "empty_pointer":
        (index_dir / "CURRENT").write_bytes(b"")
    elif damage == "pointer_out_of_the_index":
        (index_dir / "CURRENT").write_text("../../etc\n")
    elif damage == "pointer_is_a_folder":
        (index_dir / "CURRENT").unlink()
        (index_dir / "CURRENT").mkdir()
    elif damage == "version_is_a_file":
        shutil.rmtree(version)
        version.write_bytes(b"not a folder")
    elif damage == "manifest_is_a_list":
        (version / "manifest.json").write_text("[1, 2]")
    elif damage == "manifest_with_bad_checksums":
        manifest = json.loads((version / "manifest.json").read_text())
        manifest["files"] = {"embeddings.npy": "x"}
        (version / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "vectors_replaced_and_resealed":
        (version / "embeddings.npy").write_bytes(bytes(range(256)) * 4)
        _reseal(version)
    elif damage == "documents_replaced_and_resealed":
        (version / "documents.jsonl").write_text('{"doc_id": 1}\n')
        _reseal(version)
    else:
        shutil.rmtree(version)
    with pytest.raises(IndexCorruptError) as caught:
        open_index(index_dir, HashEmbedder())
    message = str(caught.value)
    assert "\n" not in message and "rag index build" in message
    assert f"the index in {index_dir} is damaged" in message


def _reseal(version: Path) -> None:
    """Record the current files' sizes and checksums, as if the damage was written with them."""
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"] = file_checksums(version)
    (version / "manifest.json").write_text(json.dumps(manifest))


def test_a_file_in_place_of_the_index_directory_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "index").write_text("oops")
    with pytest.raises(IndexStateError, match="is not a directory"):
        open_index(tmp_path / "index", HashEmbedder())


def test_a_damaged_index_is_rebuilt_by_build(index_dir: Path) -> None:
    version = current_version(index_dir)
    assert version is not None
    (version / "embeddings.npy").write_bytes(b"junk")
    old_next = json.loads((version / "manifest.json").read_text())["next_id"]
    store = writer(index_dir).build([SEEDS]).store
    assert len(store.documents()) == 5
    assert min(int(c) for c in store.snapshot.chunks.ids) >= old_next  # ids never reused
    assert open_index(index_dir, HashEmbedder()).stats().chunks == len(store)


@pytest.mark.parametrize("damage", ["pointer_to_a_missing_version", "live_vectors_truncated"])
def test_a_damaged_index_names_the_intact_version_to_go_back_to(
    index_dir: Path, tmp_path: Path, damage: str
) -> None:
    # A document added through the API has no file: `rag index build` cannot bring it back,
    # and the build's next write would remove the version that still holds it.
    added = writer(index_dir).add_documents([_doc("api-only", "Added over HTTP, no file.")])
    previous = added.store.directory
    writer(index_dir).add_documents([_doc("later", "One more write after it.")])
    live = current_version(index_dir)
    assert previous is not None and live is not None and live.name > previous.name
    if damage == "pointer_to_a_missing_version":
        (index_dir / "CURRENT").write_text("v000099\n")
        way_back = live
    else:
        (live / "embeddings.npy").write_bytes((live / "embeddings.npy").read_bytes()[:-100])
        way_back = previous

    with pytest.raises(IndexCorruptError) as opening:
        open_index(index_dir, HashEmbedder())
    with pytest.raises(IndexCorruptError) as adding:
        writer(index_dir).add_documents([_doc("third", "A write to the damaged index.")])

    for message in (str(opening.value), str(adding.value)):
        assert "\n" not in message and "rag index build" in message
        assert (
            f"go back to {way_back.name}, which is intact: write '{way_back.name}' into" in message
        )
    (index_dir / "CURRENT").write_text(way_back.name + "\n")  # what the message says to do
    assert open_index(index_dir, HashEmbedder()).document("api-only") is not None


def _doc(doc_id: str, text: str) -> Document:
    return make_document(text, doc_id=doc_id, title=doc_id)


def test_search_results_are_real_chunks_with_scores(built: Path) -> None:
    store = open_index(built, HashEmbedder())
    assert isinstance(store, IndexStore)
    for chunk, score in store.search_dense(np.ones(64, dtype=np.float32) / 8, 3):
        assert isinstance(score, float)
        assert store.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        store.chunk(10**9)
