"""Answering without torch: after one checked export, questions and sentences are embedded from
the cache by onnxruntime and the Rust tokenizer alone, with the vectors torch gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedder import load_embedder, query_embedder
from index.onnx_cache import load_cached
from tests.index.test_onnx_encoder import TEXTS, _tiny_model

pytest.importorskip("onnxruntime")
# The tiny model is built with sentence-transformers' old module path (tests/index helper).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Importing from 'sentence_transformers.models':DeprecationWarning"
)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny BERT saved as a plain model folder (sentence-transformers adds mean pooling)."""
    folder = tmp_path / "tiny"
    _tiny_model(folder, "mean")
    return folder


def test_a_checked_export_is_remembered_and_gives_torchs_vectors_without_torch(
    tiny: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    loaded = load_embedder(str(tiny), cache_dir=cache, int8_queries=True)
    cached = load_cached(cache, tiny)

    assert cached is not None
    assert (cached.name, cached.dimension) == (loaded.name, loaded.dimension)
    texts = TEXTS * 30  # more than the fast path's batch: the cache embeds every size itself
    np.testing.assert_allclose(cached.embed(texts), loaded.embed(texts), atol=1e-5)
    questions = TEXTS[:2]
    int8 = query_embedder(cached).embed(questions)
    torch_int8 = query_embedder(loaded).embed(questions)
    np.testing.assert_allclose(int8, torch_int8, atol=1e-5)  # the same int8 export
    assert cached.embed([]).shape == (0, cached.dimension)


def test_a_changed_model_folder_or_a_damaged_record_is_not_used(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_embedder(str(tiny), cache_dir=cache)
    [record] = cache.glob("answering-*.json")

    moved = json.loads(record.read_text())
    moved["probes"] = (-np.asarray(moved["probes"])).tolist()
    record.write_text(json.dumps(moved))
    assert load_cached(cache, tiny) is None  # vectors that do not match the record

    record.write_text("{not json")
    assert load_cached(cache, tiny) is None

    load_embedder(str(tiny), cache_dir=cache)  # a full load writes it again
    assert load_cached(cache, tiny) is not None
    weights = tiny / "config.json"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert load_cached(cache, tiny) is None  # the model's files changed since


def test_answering_loads_no_torch_once_the_export_is_cached(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_embedder(str(tiny), cache_dir=cache, int8_queries=True)
    script = (
        "import sys\n"
        "from rag.components import load_answering_embedder\n"
        "from rag.settings import Settings\n"
        f"settings = Settings(_env_file=None, embed_model={str(tiny)!r},"
        f" cache_dir={str(cache)!r})\n"
        "embedder = load_answering_embedder(settings)\n"
        "print(type(embedder).__name__, embedder.embed(['phase one']).shape)\n"
        "print(sorted({'torch', 'sentence_transformers', 'transformers'} & set(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.splitlines() == ["CachedOnnxEmbedder (1, 32)", "[]"], run.stderr
