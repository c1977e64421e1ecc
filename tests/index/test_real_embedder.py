"""The bundled all-MiniLM-L6-v2: loads offline, normalised vectors, finds the seed answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.store import open_index
from index.writer import IndexConfig, IndexWriter
from tests.index.helpers import SEEDS

pytestmark = pytest.mark.slow


def test_vectors_are_normalised_float32(real_embedder: Embedder) -> None:
    vectors = real_embedder.embed(["Hostages were released.", "Aid trucks entered Gaza.", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (3, real_embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert real_embedder.embed([]).shape == (0, real_embedder.dimension)


def test_seed_index_answers_by_meaning(real_embedder: Embedder, tmp_path: Path) -> None:
    IndexWriter(tmp_path / "index", real_embedder, IndexConfig()).build([SEEDS])
    store = open_index(tmp_path / "index", real_embedder)
    query = real_embedder.embed(["How long did the first stage of the truce last?"])[0]
    top = [chunk.text for chunk, _ in store.search_dense(query, 3)]
    assert any("42" in text or "six-week" in text for text in top)
    envoy = real_embedder.embed(["Who is the American special envoy?"])[0]
    assert "Witkoff" in store.search_dense(envoy, 1)[0][0].text
