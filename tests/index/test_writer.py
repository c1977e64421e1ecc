"""Incremental updates: unchanged documents skipped, ids never reused, add/remove round trip."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from index.disk import current_version, write_lock
from index.errors import (
    DocumentError,
    DocumentExistsError,
    IndexBusyError,
    IndexCorruptError,
    UnknownDocumentError,
)
from index.loaders import make_document
from index.store import open_index
from tests.fakes import HashEmbedder
from tests.index.helpers import SEED_IDS, SEEDS, write_article, writer


class CountingEmbedder(HashEmbedder):
    """The fake embedder, counting how many texts it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return super().embed(texts)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def test_a_rebuild_of_the_same_files_changes_nothing(corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    first = writer(tmp_path / "index", embedder).build([corpus])
    assert sorted(first.added) == SEED_IDS and first.failures == []
    version, embedded = current_version(tmp_path / "index"), embedder.embedded
    again = writer(tmp_path / "index", embedder).build([corpus])
    assert sorted(again.unchanged) == SEED_IDS
    assert (again.added, again.updated, again.removed) == ([], [], [])
    assert embedder.embedded == embedded  # nothing re-embedded
    assert current_version(tmp_path / "index") == version  # no new version written
    assert [c.chunk_id for c in again.store.chunks_of(SEED_IDS[0])] == [
        c.chunk_id for c in first.store.chunks_of(SEED_IDS[0])
    ]


def test_changed_and_deleted_files_are_updated_and_removed(corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index_dir = tmp_path / "index"
    first = writer(index_dir, embedder).build([corpus])
    old_ids = {c.chunk_id for d in SEED_IDS for c in first.store.chunks_of(d)}
    changed = corpus / "004_6a7ff6555c728629.txt"
    changed.write_text(changed.read_text() + "\nA new closing sentence was added today.\n")
    (corpus / "000_c04850de3b1b0f05.txt").unlink()
    before = embedder.embedded
    report = writer(index_dir, embedder).build([corpus])
    assert report.updated == ["004_6a7ff6555c728629"]
    assert report.removed == ["000_c04850de3b1b0f05"]
    assert sorted(report.unchanged) == SEED_IDS[1:4]
    store = open_index(index_dir, embedder)
    new_chunks = store.chunks_of("004_6a7ff6555c728629")
    assert embedder.embedded - before == len(new_chunks)  # only the changed document
    assert "A new closing sentence was added today." in new_chunks[-1].text
    assert not {c.chunk_id for c in new_chunks} & old_ids  # a changed document gets new ids
    assert store.document("000_c04850de3b1b0f05") is None
    assert not {c.doc_id for c, _ in store.search_keyword("Thedailycourierng ceasefire", 50)} & {
        "000_c04850de3b1b0f05"
    }


def test_add_and_remove_round_trip_never_reuses_ids(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([corpus])
    extra = write_article(
        tmp_path / "extra",
        "extra_story.txt",
        "Aid ships dock in Gaza",
        ["The first aid ship docked at the new pier on Friday morning."],
    )
    added = w.add_paths([extra])
    assert added.added == ["extra_story"] and added.store.document("extra_story") is not None
    first_ids = [c.chunk_id for c in added.store.chunks_of("extra_story")]
    assert min(first_ids) > max(c for c in added.store.snapshot.chunks.ids if c not in first_ids)
    removed = w.remove(["extra_story"])
    assert removed.removed == ["extra_story"] and removed.store.document("extra_story") is None
    assert len(removed.store.documents()) == 5
    again = w.add_paths([extra])
    assert min(c.chunk_id for c in again.store.chunks_of("extra_story")) > max(first_ids)
    reloaded = open_index(index_dir, HashEmbedder())
    assert reloaded.search_keyword("aid ship docked pier", 1)[0][0].doc_id == "extra_story"


def test_documents_added_through_the_api_survive_a_build(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([corpus])
    doc = make_document("Posted article\n\nPosted through the API on Tuesday.", doc_id="posted")
    assert w.add_documents([doc]).added == ["posted"]
    assert w.add_documents([doc]).unchanged == ["posted"]
    report = w.build([corpus])
    assert report.removed == [] and report.store.document("posted") is not None


def test_removing_an_unknown_document_changes_nothing(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([corpus])
    version = current_version(index_dir)
    with pytest.raises(UnknownDocumentError, match="'nope'"):
        w.remove([SEED_IDS[0], "nope"])
    assert current_version(index_dir) == version
    assert open_index(index_dir, HashEmbedder()).document(SEED_IDS[0]) is not None


def test_a_new_model_or_chunk_size_re_embeds_everything(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    writer(index_dir).build([corpus])
    report = writer(index_dir, HashEmbedder(dimension=32, name="small")).build([corpus])
    assert sorted(report.updated) == SEED_IDS
    assert open_index(index_dir, HashEmbedder(dimension=32, name="small")).dimension == 32
    rechunked = writer(
        index_dir, HashEmbedder(dimension=32, name="small"), chunk_max_words=40
    ).build([corpus])
    assert sorted(rechunked.updated) == SEED_IDS and len(rechunked.store) > len(report.store)


def test_old_versions_are_cleaned_up(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([corpus])
    for n in range(3):
        w.add_documents([make_document(f"Note {n}\n\nA short note number {n}.", doc_id=f"n{n}")])
    versions = sorted(p.name for p in index_dir.glob("v*"))
    assert len(versions) == 2 and current_version(index_dir).name == versions[-1]  # type: ignore[union-attr]


def test_the_write_lock_is_held_across_processes(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from index.disk import write_lock
            with write_lock(Path({str(index_dir)!r})):
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(IndexBusyError), write_lock(index_dir, timeout_s=0.3):
            pass
        assert time.monotonic() - started >= 0.3
    finally:
        holder.kill()
        holder.wait()
    with write_lock(index_dir, timeout_s=5):  # free again once the holder is gone
        pass


def test_removing_from_an_index_of_another_model_does_not_bring_it_back(
    corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    writer(index_dir).build([corpus])
    other = HashEmbedder(dimension=32, name="other")
    report = writer(index_dir, other).remove([SEED_IDS[0]])
    assert report.removed == [SEED_IDS[0]] and report.store.document(SEED_IDS[0]) is None
    assert sorted(report.updated) == SEED_IDS[1:] and report.store.embed_model == "other"


def test_a_new_duplicate_threshold_regroups_without_re_embedding(
    corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    writer(index_dir).build([corpus])
    embedder = CountingEmbedder()
    report = writer(index_dir, embedder, dedup_threshold=0.05).build([corpus])
    assert embedder.embedded == 0 and sorted(report.unchanged) == SEED_IDS
    assert report.store.snapshot.manifest.dedup_threshold == 0.05


def test_adding_without_replace_refuses_existing_ids_and_writes_nothing(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([SEEDS])
    version = current_version(index_dir)
    new = make_document("New story\n\nA new story.", doc_id="new")
    clash = make_document("Other text\n\nNot the seed.", doc_id=SEED_IDS[0])
    with pytest.raises(DocumentExistsError, match=repr(SEED_IDS[0])) as caught:
        w.add_documents([new, clash], replace=False)
    assert caught.value.doc_ids == [SEED_IDS[0]]
    with pytest.raises(DocumentError, match="'new' is given twice"):
        w.add_documents([new, new])
    assert current_version(index_dir) == version  # nothing written, not even the new one
    assert w.add_documents([clash], replace=True).updated == [SEED_IDS[0]]


def test_removal_names_a_document_in_either_unicode_form(tmp_path: Path) -> None:
    w = writer(tmp_path / "index")
    w.add_documents([make_document("Café story\n\nA café opened.", doc_id="caf\u00e9")])
    assert w.remove(["cafe\u0301"]).removed == ["café"]


@pytest.mark.parametrize(
    "damage",
    ["random-pointer", "pointer-to-nowhere", "garbled-manifest"],
)
def test_a_damaged_index_is_rebuilt_by_build_but_never_emptied_by_a_change(
    tmp_path: Path, damage: str
) -> None:
    index_dir = tmp_path / "index"
    w = writer(index_dir)
    w.build([SEEDS])
    version = current_version(index_dir)
    assert version is not None
    if damage == "random-pointer":
        (index_dir / "CURRENT").write_bytes(bytes(range(256)))
    elif damage == "pointer-to-nowhere":
        (index_dir / "CURRENT").write_text("v999999\n")
    else:
        (version / "manifest.json").write_text("[1, 2]")
    extra = make_document("Extra story\n\nAn extra story.", doc_id="extra")
    with pytest.raises(IndexCorruptError, match="rag index build"):
        w.add_documents([extra])
    with pytest.raises(IndexCorruptError, match="rag index build"):
        w.remove([SEED_IDS[0]])
    assert w.build([SEEDS]).added == SEED_IDS  # the files are all there is to rebuild from
    assert len(open_index(index_dir, HashEmbedder()).documents()) == 5
