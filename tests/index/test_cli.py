"""`rag index ...` as a user runs it: real processes, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.index.helpers import write_article, writer

ROOT = Path(__file__).resolve().parents[2]


def rag(*args: str, index_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_INDEX_DIR": str(index_dir)}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stats_without_an_index_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = rag("stats", index_dir=tmp_path / "none")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "rag index build" in result.stderr and "Traceback" not in result.stderr


def test_stats_and_remove_on_an_existing_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_article(docs, "alpha.txt", "Alpha headline", ["The alpha story happened on Monday."])
    write_article(docs, "beta.txt", "Beta headline", ["The beta story happened on Tuesday."])
    index_dir = tmp_path / "index"
    # Built with the fake embedder; stats and remove need no model at all.
    writer(index_dir).build([docs])
    stats = rag("stats", "--json", index_dir=index_dir)
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert (data["documents"], data["embed_model"], data["dimension"]) == (2, "hash-embedder", 64)
    assert data["size_bytes"] > 0 and data["duplicate_groups"] == 0
    text = rag("stats", index_dir=index_dir)
    assert "documents:        2" in text.stdout and "size on disk:" in text.stdout
    unknown = rag("remove", "gamma", index_dir=index_dir)
    assert (
        unknown.returncode == 1
        and unknown.stderr.strip() == "error: no document 'gamma' in the index"
    )


@pytest.mark.slow
def test_build_and_remove_with_the_bundled_model(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_article(docs, "alpha.txt", "Alpha headline", ["The alpha story happened on Monday."])
    (docs / "broken.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    index_dir = tmp_path / "index"
    built = rag("build", str(docs), index_dir=index_dir)
    assert built.returncode == 0, built.stderr
    assert "added 1, updated 0, unchanged 0, removed 0; 1 documents" in built.stdout
    assert "skipped" in built.stderr and "broken.txt" in built.stderr
    assert "Traceback" not in built.stderr
    # Neither a no-op build nor a removal needs the model, so these start fast.
    again = rag("build", str(docs), index_dir=index_dir)
    assert "added 0, updated 0, unchanged 1, removed 0" in again.stdout
    stats = json.loads(rag("stats", "--json", index_dir=index_dir).stdout)
    assert stats["embed_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert stats["dimension"] == 384 and stats["documents"] == 1
    removed = rag("remove", "alpha", index_dir=index_dir)
    assert (
        removed.returncode == 0
        and "removed 1" in removed.stdout
        and "0 documents" in removed.stdout
    )
