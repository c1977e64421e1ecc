"""The onnxruntime fast path: torch's vectors, exported once, refused when it cannot match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.embedder import SentenceTransformerEmbedder, load_embedder, query_embedder
from index.onnx_encoder import load_onnx_encoder

pytest.importorskip("onnxruntime")

TEXTS = [
    "How long was phase one?",
    "Who is Donald Trump's Middle East envoy?",
    "The first phase of the ceasefire lasted 42 days, during which hostages were exchanged "
    "for Palestinian prisoners held in Israeli jails.",
    "",
]
_WORDS = [
    "the",
    "a",
    "of",
    "ceasefire",
    "hostages",
    "phase",
    "one",
    "long",
    "was",
    "how",
    "who",
    "envoy",
    "gaza",
    "days",
    "lasted",
]


def _tiny_model(folder: Path, pooling: str) -> Any:
    """A two-layer BERT with random weights and a 20-word vocabulary: no download, loads in ms."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *_WORDS]))
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=4 + len(_WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(folder)
    transformer = models.Transformer(str(folder), max_seq_length=32)
    return SentenceTransformer(
        modules=[transformer, models.Pooling(32, pooling), models.Normalize()], device="cpu"
    )


@pytest.fixture(scope="module")
def minilm_with_fast_path(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    return load_embedder(cache_dir=tmp_path_factory.mktemp("onnx-cache"))


def test_fast_path_gives_the_torch_vectors(
    minilm_with_fast_path: SentenceTransformerEmbedder, real_embedder: Any
) -> None:
    assert minilm_with_fast_path._fast_path is not None, "the bundled model should get onnxruntime"
    fast = minilm_with_fast_path.embed(TEXTS)
    slow = real_embedder.embed(TEXTS)
    assert fast.shape == slow.shape and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(fast[:3], axis=1), 1.0, atol=1e-5)


def test_large_batches_stay_on_torch_with_the_same_vectors(
    minilm_with_fast_path: SentenceTransformerEmbedder,
) -> None:
    many = [f"{text} ({i})" for i in range(8) for text in TEXTS[:3]]
    assert len(many) > SentenceTransformerEmbedder.FAST_PATH_MAX_TEXTS
    together = minilm_with_fast_path.embed(many)
    one_by_one = np.vstack([minilm_with_fast_path.embed([text]) for text in many])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)


def test_the_export_is_cached_and_reused(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path / "tiny", "mean")
    cache = tmp_path / "cache"
    assert load_onnx_encoder(model, cache) is not None
    (exported,) = cache.glob("encoder-*.onnx")
    stamp = exported.stat().st_mtime_ns

    encoder = load_onnx_encoder(model, cache)

    assert encoder is not None
    assert [p.name for p in cache.iterdir()] == [exported.name], "no leftovers, no second file"
    assert exported.stat().st_mtime_ns == stamp
    expected = model.encode(TEXTS[:3], normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.encode(TEXTS[:3]), expected, atol=1e-4)


def test_other_weights_get_their_own_export(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_onnx_encoder(_tiny_model(tmp_path / "one", "mean"), cache)
    load_onnx_encoder(_tiny_model(tmp_path / "two", "mean"), cache)  # new random weights
    assert len(list(cache.glob("encoder-*.onnx"))) == 2


def test_a_pooling_it_cannot_reproduce_stays_on_torch(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path / "tiny", "cls")
    assert load_onnx_encoder(model, tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists(), "nothing exported for a model it won't use"


def test_a_corrupt_cached_export_is_made_again(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path / "tiny", "mean")
    cache = tmp_path / "cache"
    load_onnx_encoder(model, cache)
    (exported,) = cache.glob("encoder-*.onnx")
    exported.write_bytes(b"not a model")

    encoder = load_onnx_encoder(model, cache)

    assert encoder is not None
    assert exported.stat().st_size > 1000
    expected = model.encode(TEXTS[:2], normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.encode(TEXTS[:2]), expected, atol=1e-4)


def test_without_onnxruntime_it_stays_on_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what a missing package looks like
    assert load_onnx_encoder(_tiny_model(tmp_path / "tiny", "mean"), tmp_path / "cache") is None


@pytest.fixture(scope="module")
def minilm_with_int8_queries(
    tmp_path_factory: pytest.TempPathFactory,
) -> SentenceTransformerEmbedder:
    return load_embedder(cache_dir=tmp_path_factory.mktemp("int8-cache"), int8_queries=True)


def test_int8_queries_stay_close_to_torch_and_stored_vectors_stay_exact(
    minilm_with_int8_queries: SentenceTransformerEmbedder, real_embedder: Any
) -> None:
    queries = query_embedder(minilm_with_int8_queries)
    assert queries is not minilm_with_int8_queries, "the bundled model should get an int8 path"
    exact = real_embedder.embed(TEXTS[:3])

    quantized = queries.embed(TEXTS[:3])

    assert quantized.shape == exact.shape and quantized.dtype == np.float32
    cosines = (quantized * exact).sum(axis=1)
    assert cosines.min() > 0.98 and cosines.max() < 1 - 1e-5, "int8, close but not identical"
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    # What gets stored goes through embed(), never the int8 copy.
    np.testing.assert_allclose(minilm_with_int8_queries.embed(TEXTS[:3]), exact, atol=1e-4)
    many = [f"{text} ({i})" for i in range(8) for text in TEXTS[:3]]
    np.testing.assert_allclose(queries.embed(many), real_embedder.embed(many), atol=1e-4)


def test_without_int8_queries_search_uses_the_exact_vectors(
    minilm_with_fast_path: SentenceTransformerEmbedder,
) -> None:
    assert query_embedder(minilm_with_fast_path) is minilm_with_fast_path


def test_the_int8_copy_is_made_from_the_export_and_remade_when_corrupt(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path / "tiny", "mean")
    cache = tmp_path / "cache"
    assert load_onnx_encoder(model, cache, "int8") is not None
    (quantized,) = cache.glob("encoder-*-int8.onnx")
    assert len(list(cache.glob("encoder-*.onnx"))) == 2, "the float32 export and its int8 copy"
    quantized.write_bytes(b"not a model")

    encoder = load_onnx_encoder(model, cache, "int8")

    assert encoder is not None and quantized.stat().st_size > 1000
    expected = model.encode(TEXTS[:2], normalize_embeddings=True, convert_to_numpy=True)
    assert (encoder.encode(TEXTS[:2]) * expected).sum(axis=1).min() > 0.98
