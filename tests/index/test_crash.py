"""Crash safety: a build killed in the middle of writing leaves the previous index loadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from index.disk import current_version
from index.store import open_index
from tests.fakes import HashEmbedder
from tests.index.helpers import SEED_IDS, SEEDS, writer

ROOT = Path(__file__).resolve().parents[2]


def _big_corpus(folder: Path, docs: int = 150) -> None:
    folder.mkdir()
    for n in range(docs):
        sentences = [
            f"Report {n} sentence {i} tells of talks, truce and aid in region {i % 7}."
            for i in range(60)
        ]
        (folder / f"big_{n:04d}.txt").write_text(f"Big story {n}\n\n" + " ".join(sentences))


def test_a_build_killed_while_writing_leaves_the_old_index(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    writer(index_dir).build([SEEDS])
    old_version = current_version(index_dir)
    _big_corpus(tmp_path / "big")
    script = textwrap.dedent(f"""
        from pathlib import Path
        from index.writer import IndexConfig, IndexWriter
        from tests.fakes import HashEmbedder
        IndexWriter(Path({str(index_dir)!r}), HashEmbedder(), IndexConfig()).build(
            [Path({str(SEEDS)!r}), Path({str(tmp_path / "big")!r})])
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    partial = None
    try:
        deadline = time.monotonic() + 120
        while partial is None and child.poll() is None and time.monotonic() < deadline:
            for tmp in index_dir.glob(".tmp-*"):
                if (tmp / "documents.jsonl").exists():
                    partial = tmp
                    break
            else:
                time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)  # mid-write: no cleanup, no finally blocks
    finally:
        child.wait()
    assert partial is not None, "the build finished before it could be killed"
    assert not (partial / "manifest.json").exists()  # the new version really was half written
    assert current_version(index_dir) == old_version
    store = open_index(index_dir, HashEmbedder())
    assert sorted(d.doc_id for d in store.documents()) == SEED_IDS

    # The next build sweeps the half-written folder away.
    report = writer(index_dir).build([SEEDS])
    assert sorted(report.unchanged) == SEED_IDS
    assert not list(index_dir.glob(".tmp-*"))


def test_a_build_killed_while_embedding_changes_nothing(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    writer(index_dir).build([SEEDS])
    before = sorted(p.name for p in index_dir.iterdir())
    _big_corpus(tmp_path / "big", docs=20)
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from index.writer import IndexConfig, IndexWriter
        from tests.fakes import HashEmbedder

        class Slow(HashEmbedder):
            def embed(self, texts):
                print("embedding", flush=True)
                time.sleep(60)
                return super().embed(texts)

        IndexWriter(Path({str(index_dir)!r}), Slow(), IndexConfig()).build(
            [Path({str(tmp_path / "big")!r})])
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "embedding"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert sorted(p.name for p in index_dir.iterdir()) == before
    assert len(open_index(index_dir, HashEmbedder()).documents()) == 5
